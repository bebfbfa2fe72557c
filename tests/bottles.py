"""Real bottles for tests and the benchmark: docker containers and an SSH host.

The SSH bottle is the stand-in for a smolmachines VM reached over SSH: the same rootfs
as the agents image, with sshd running in a chroot inside fresh mount/pid namespaces on
loopback. Everything started here is stopped by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
VENV_BIN = ROOT / ".venv" / "bin"
IMAGES = {"claude": "localhost/bot-bottle/claude:latest", "codex": "localhost/bot-bottle/codex:latest"}
AGENTS_IMAGE = "localhost/bot-bottle/agents:latest"
GUEST_HOME = "/home/node"


def sh(*argv: str, check: bool = True, **kwargs: t.Any) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kwargs)


class Bottle:
    """A target the playbooks provision; ``exec`` runs a shell command inside it."""

    name: str
    kind: str

    def inventory_vars(self) -> dict[str, t.Any]:
        raise NotImplementedError

    def exec(self, command: str, user: str = "root", check: bool = True, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
        raise NotImplementedError

    def read(self, path: str) -> str:
        return self.exec(f"cat {path}").stdout

    def stat(self, path: str) -> tuple[str, str]:
        """(octal mode, user:group) of a path in the bottle."""
        mode, owner = self.exec(f"stat -c '%a %U:%G' {path}").stdout.split()
        return mode, owner

    def snapshot(self, root: str = GUEST_HOME) -> str:
        """Every path under root with type, mode, owner, size and checksum: equal means untouched."""
        return self.exec(
            f"cd {root} && find . -printf '%p %y %m %u:%g %s\\n' | sort && "
            f"find . -type f -print0 | sort -z | xargs -0 -r md5sum"
        ).stdout


class DockerBottle(Bottle):
    kind = "docker"

    def __init__(self, image: str, name: str | None = None) -> None:
        self.name = name or f"bbt-{uuid.uuid4().hex[:10]}"
        self.image = image

    def start(self) -> "DockerBottle":
        sh("docker", "run", "-d", "--name", self.name, "--add-host", "host.docker.internal:host-gateway", self.image)
        return self

    def stop(self) -> None:
        sh("docker", "rm", "-f", self.name, check=False)

    def inventory_vars(self) -> dict[str, t.Any]:
        return {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}

    def exec(self, command, user="root", check=True, env=None, timeout=120):
        env_args = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
        return sh("docker", "exec", "-u", user, *env_args, self.name, "sh", "-c", command, check=check, timeout=timeout)


class SshBottle(Bottle):
    """sshd in a chroot of the agents image's rootfs, on 127.0.0.1:PORT."""

    kind = "ssh"

    def __init__(self, rootfs: Path, name: str = "ssh-bottle") -> None:
        self.name = name
        self.rootfs = rootfs
        self.port = _free_port()
        self.key = CACHE / "ssh" / "id_ed25519"
        self.proc: subprocess.Popen | None = None

    @classmethod
    def prepare_rootfs(cls, rootfs: Path) -> Path:
        """Export the agents image into ``rootfs`` once (cached), with host keys and our key."""
        # The stamp holds the image ID: a rebuilt agents image (new CLI versions) is exported anew.
        stamp = rootfs / ".bot-bottle-rootfs"
        image_id = sh("docker", "image", "inspect", "--format", "{{.Id}}", AGENTS_IMAGE).stdout.strip()
        if not stamp.exists() or stamp.read_text() != image_id:
            if rootfs.exists():
                shutil.rmtree(rootfs)
            rootfs.mkdir(parents=True)
            container = sh("docker", "create", AGENTS_IMAGE).stdout.strip()
            try:
                export = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
                subprocess.run(["tar", "-x", "-C", str(rootfs)], stdin=export.stdout, check=True)
                export.wait()
            finally:
                sh("docker", "rm", "-f", container, check=False)
            sh("chroot", str(rootfs), "ssh-keygen", "-A")
            (rootfs / "run" / "sshd").mkdir(parents=True, exist_ok=True)
            stamp.write_text(image_id)
        key = CACHE / "ssh" / "id_ed25519"
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
        ssh_dir = rootfs / "root" / ".ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(key.with_suffix(".pub").read_text())
        return rootfs

    def start(self) -> "SshBottle":
        r = str(self.rootfs)
        script = (
            f"mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && "
            f"mount -t tmpfs tmpfs {r}/tmp && chmod 1777 {r}/tmp && "
            f"exec chroot {r} /usr/sbin/sshd -D -e -p {self.port} -o ListenAddress=127.0.0.1"
        )
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--uts", "--fork", "--kill-child", "sh", "-c", script],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.exec("true", check=False).returncode == 0:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the SSH bottle did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)  # unshare --fork ignores SIGTERM
            self.proc.wait(timeout=10)
        self.proc = None

    def reset_home(self) -> None:
        """A fresh bottle user home (the state provisioning touches)."""
        home = self.rootfs / GUEST_HOME.lstrip("/")
        if home.exists():
            shutil.rmtree(home)
        shutil.copytree(self.rootfs / "etc" / "skel", home)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, 1000, 1000)
        home.chmod(0o755)

    def ssh_args(self) -> list[str]:
        return ["-i", str(self.key), "-p", str(self.port), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]

    def inventory_vars(self) -> dict[str, t.Any]:
        return {
            "ansible_connection": "ssh", "ansible_host": "127.0.0.1", "ansible_port": self.port,
            "ansible_user": "root", "ansible_ssh_private_key_file": str(self.key),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def exec(self, command, user="root", check=True, env=None, timeout=120):
        if user != "root":
            command = f"su {user} -s /bin/sh -c {_quote(command)}"
        prefix = " ".join(f"{k}={_quote(v)}" for k, v in (env or {}).items())
        full = f"{prefix} {command}" if prefix and user == "root" else command
        if prefix and user != "root":
            full = f"env {prefix} {command}"
        return sh("ssh", *self.ssh_args(), "root@127.0.0.1", full, check=check, timeout=timeout)


def _quote(value: str) -> str:
    import shlex

    return shlex.quote(str(value))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- running playbooks --------------------------------------------------------------


class PlaybookRun(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str
    stats: dict[str, dict[str, int]]
    results: dict[str, list[dict]]  # host -> task results, in order

    def changed(self, host: str) -> int:
        return self.stats.get(host, {}).get("changed", 0)

    def failed_msgs(self) -> list[str]:
        return [r.get("msg", "") for rs in self.results.values() for r in rs if r.get("failed")]


def ansible_env(extra: dict[str, str] | None = None, bin_dir: Path = VENV_BIN) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(CACHE / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
    )
    env.update(extra or {})
    return env


def write_inventory(path: Path, hosts: dict[str, dict[str, t.Any]], group: str = "bottles") -> Path:
    path.write_text(yaml.safe_dump({group: {"hosts": hosts}}, sort_keys=True))
    return path


def run_playbook(inventory: Path, *args: str, playbook: Path | str = ROOT / "playbooks" / "provision.yml",
                 json_output: bool = True, env: dict[str, str] | None = None,
                 timeout: float = 600, bin_dir: Path = VENV_BIN) -> PlaybookRun:
    """Run a playbook with the ansible-core in ``bin_dir`` (the project venv by default)."""
    extra = {"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"} if json_output else {}
    extra.update(env or {})
    proc = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        capture_output=True, text=True, env=ansible_env(extra, bin_dir), cwd=str(ROOT), timeout=timeout, check=False,
    )
    stats: dict = {}
    results: dict = {}
    if json_output:
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            data = {}
        stats = data.get("stats", {})
        for play in data.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    results.setdefault(host, []).append(dict(result, _task=task["task"]["name"]))
    return PlaybookRun(proc.returncode, proc.stdout, proc.stderr, stats, results)


EXAMPLES = ROOT / "examples"
SUPERVISE_URL = "http://host.docker.internal:8811/mcp"


def role_vars(bottle: Bottle, provider: str, tmp_path: Path, **extra: t.Any) -> dict[str, t.Any]:
    """Host vars for a full provisioning of ``bottle``: skills, prompt, MCP, trust, result file."""
    return {
        **bottle.inventory_vars(),
        "agent_provider": provider,
        "agent_state_dir": str(tmp_path / "state"),
        "agent_skills": ["review"],
        "agent_skills_root": str(EXAMPLES / "skills"),
        "agent_prompt_file": str(EXAMPLES / "prompt.md"),
        "agent_supervise_url": SUPERVISE_URL,
        "agent_trusted_project_path": GUEST_HOME,
        "agent_result_file": str(tmp_path / "result.json"),
        **extra,
    }


def tmpdir(prefix: str = "bbt-") -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
