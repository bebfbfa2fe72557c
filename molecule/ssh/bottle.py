"""Start or stop the molecule SSH bottle: sshd in a chroot of the agents image, in its own netns.

The stand-in for a smolmachines VM reached over SSH (tests/bottles.py SshBottle). `start`
prints molecule's instance config (and whether it started one) as JSON; the sshd keeps running after this script exits and
`stop` kills it by the PID recorded in the state file.

    bottle.py start|stop STATE_FILE
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from bottles import CACHE, SshBottle, sh  # noqa: E402  (after the path setup above)

ROOTFS = CACHE / "molecule-ssh-rootfs"  # its own copy: molecule never touches the test suite's bottle
INSTANCE = "ssh-bottle"


def _alive(pid: int) -> bool:
    try:
        return "unshare" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def start(state_file: Path) -> dict:
    if state_file.exists():
        state = json.loads(state_file.read_text())
        if _alive(state["pid"]):
            return {"instance": state["instance"], "started": False}
    bottle = SshBottle(SshBottle.prepare_rootfs(ROOTFS), name=INSTANCE)
    bottle.reset_home()  # a fresh bottle user, as a new VM would have
    bottle.start()
    instance = {"instance": INSTANCE, "address": bottle.address, "user": "root", "port": bottle.port,
                "identity_file": str(bottle.key)}
    state_file.write_text(json.dumps({"pid": bottle.proc.pid, "netns": bottle.netns.name,
                                      "host_if": bottle.netns.host_if, "instance": instance}))
    return {"instance": instance, "started": True}


def stop(state_file: Path) -> dict:
    if not state_file.exists():
        return {"stopped": False}
    state = json.loads(state_file.read_text())
    stopped = _alive(state["pid"])
    if stopped:
        os.kill(state["pid"], signal.SIGKILL)  # unshare --fork ignores SIGTERM; --kill-child takes sshd down
    sh("ip", "netns", "del", state["netns"], check=False)
    sh("ip", "link", "del", state["host_if"], check=False)
    state_file.unlink()
    return {"stopped": stopped}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    action = start if argv[1] == "start" else stop
    print(json.dumps(action(Path(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
