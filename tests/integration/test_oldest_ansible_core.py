"""The oldest ansible-core we support (meta/runtime.yml) provisions docker and SSH bottles too."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import yaml
from bottles import CACHE, GUEST_HOME, IMAGES, SUPERVISE_URL, DockerBottle, role_vars, run_playbook, write_inventory
from conftest import ROOT

BOOTSTRAP = (ROOT / "scripts" / "bootstrap.sh").read_text()
OLDEST = re.search(r"^OLDEST_ANSIBLE_CORE=([0-9.]+)", BOOTSTRAP, re.M).group(1)
BIN_DIR = CACHE / f"venv-ansible-core-{OLDEST}" / "bin"


def test_bootstrap_pins_the_version_runtime_yml_promises():
    required = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    assert required == ">=" + ".".join(OLDEST.split(".")[:2]) + ".0"
    version = subprocess.run([str(BIN_DIR / "ansible-playbook"), "--version"], capture_output=True, text=True,
                             check=True).stdout
    assert f"[core {OLDEST}]" in version


def test_oldest_core_converges_idempotently(ssh_server, tmp_path):
    ssh_server.reset_home()
    docker = {p: DockerBottle(IMAGES[p]).start() for p in ("claude", "codex")}
    try:
        hosts = {b.name: role_vars(b, p, tmp_path / b.name) for p, b in docker.items()}
        hosts[ssh_server.name] = role_vars(ssh_server, "codex", tmp_path / ssh_server.name)
        for name in hosts:
            (tmp_path / name).mkdir()
        inventory = write_inventory(tmp_path / "inventory.yml", hosts)
        first = run_playbook(inventory, bin_dir=BIN_DIR)
        assert first.rc == 0, first.failed_msgs() or first.stderr[-3000:]
        assert all(first.changed(name) >= 1 for name in hosts), first.stats
        second = run_playbook(inventory, bin_dir=BIN_DIR)
        assert second.rc == 0 and all(second.changed(name) == 0 for name in hosts), second.stats

        claude_config = json.loads(docker["claude"].read(f"{GUEST_HOME}/.claude.json"))
        assert claude_config["mcpServers"]["supervise"] == {"type": "http", "url": SUPERVISE_URL}
        for bottle in (docker["codex"], ssh_server):
            config = tomllib.loads(bottle.read(f"{GUEST_HOME}/.codex/config.toml"))
            assert config["mcp_servers"]["supervise"]["url"] == SUPERVISE_URL
            assert config["projects"][GUEST_HOME]["trust_level"] == "trusted"
    finally:
        for bottle in docker.values():
            bottle.stop()
