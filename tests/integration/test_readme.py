"""The README's inventory and commands, as written, outside this repo's ansible.cfg: they provision
a docker bottle and an SSH bottle behind the egress proxy, with no warning, and a rerun is clean.

Only what the README leaves to the reader is filled in: the vault variables, the address SSH
bottles reach the proxy on, a container named claude-1, and a smolmachine-like SSH bottle on
127.0.0.1:2222 (a forwarder to the suite's SSH bottle in its own namespace). Ansible runs with a
HOME of its own (the README's ~/.cache paths land there) and no ansible.cfg.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import typing as t
from pathlib import Path

import pytest
import yaml
from bottles import CACHE, IMAGES, ROOT, VENV_BIN, sh

README = (ROOT / "README.md").read_text()


def readme_block(language: str, after: str) -> str:
    section = README[README.index(after):]
    return re.search(rf"```{language}\n(.*?)```", section, re.S).group(1)


class Forwarder:
    """127.0.0.1:PORT -> target: how a smolmachine publishes its sshd (`-p 2222:22`)."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.server = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client = self.server.accept()[0]
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def run(argv: list[str], home: Path, cwd: Path) -> t.Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(HOME=str(home), PATH=f"{VENV_BIN}:{env['PATH']}", PWD=str(cwd),  # as a shell sets it on cd
               # Where an installed collection (and community.docker) would be found.
               ANSIBLE_COLLECTIONS_PATH=str(CACHE / "collections"),
               # The user's own ssh setup (ssh reads the passwd home, not $HOME): their key, and the
               # smolmachine's host key accepted once.
               ANSIBLE_PRIVATE_KEY_FILE=str(home / ".ssh" / "id_ed25519"),
               ANSIBLE_SSH_COMMON_ARGS=f"-o UserKnownHostsFile={home / '.ssh' / 'known_hosts'}")
    return sh(*argv, check=False, env=env, cwd=str(cwd), timeout=600)


@pytest.fixture
def readme_world(tmp_path, ssh_server) -> t.Iterator[Path]:
    ssh_server.reset_home()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    shutil.copy(ssh_server.key, home / ".ssh" / "id_ed25519")
    work = tmp_path / "work"
    shutil.copytree(ROOT / "examples" / "skills", work / "skills")
    (work / "prompts").mkdir()
    (work / "prompts" / "ci.md").write_text("Work in small, tested steps.\n")
    (work / "inventory.yml").write_text(readme_block("yaml", "## Using it"))
    forwarder = Forwarder(2222, (ssh_server.address, ssh_server.port))
    keys = sh("ssh-keyscan", "-p", "2222", "127.0.0.1").stdout
    (home / ".ssh" / "known_hosts").write_text(keys)  # the user accepted the smolmachine's key once
    try:
        yield work
    finally:
        forwarder.close()
        for container in ("claude-1", "bot-bottle-egress"):
            sh("docker", "rm", "-f", container, check=False)


def test_readme_inventory_and_commands_as_written(readme_world, ssh_server):
    work, home = readme_world, readme_world.parent / "home"
    inventory = yaml.safe_load((work / "inventory.yml").read_text())
    assert set(inventory["bottles"]["hosts"]) == {"claude-1", "smol-1"}
    commands = [line for line in readme_block("sh", "## Using it").splitlines() if line.startswith("ansible-playbook")]
    assert len(commands) == 3, commands
    egress_cmd = commands[0].replace("10.0.2.2:3128", f"{ssh_server.host_address}:3128").split()
    provision_cmd = commands[1].split() + ["-e", "vault_claude_token=sk-ant-oat01-readme", "-e",
                                           "vault_openai_key=sk-readme"]
    proxy = run(egress_cmd, home, work)
    assert proxy.returncode == 0, proxy.stdout[-3000:] + proxy.stderr[-3000:]
    sh("docker", "run", "-d", "--name", "claude-1", "--network", "bot-bottle-internal",
       "--add-host", "host.docker.internal:host-gateway", IMAGES["claude"])
    first = run(provision_cmd, home, work)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for output in (proxy, first):
        assert "[WARNING]" not in output.stdout + output.stderr, output.stdout + output.stderr
    assert re.search(r"^claude-1\s+: ok=\d+\s+changed=[1-9]", first.stdout, re.M)
    again = run(provision_cmd, home, work)
    assert again.returncode == 0
    for host in ("claude-1", "smol-1"):
        assert re.search(rf"^{host}\s+: ok=\d+\s+changed=0 ", again.stdout, re.M), again.stdout[-2000:]
    drift = run(commands[2].split() + provision_cmd[len(commands[1].split()):], home, work)
    assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr[-3000:]
    assert json.loads((work / "drift.json").read_text()) == {"in_sync": ["claude-1", "smol-1"], "drifted": {},
                                                             "failed": []}
