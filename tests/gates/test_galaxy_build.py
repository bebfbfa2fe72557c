"""Build the collection tarball, install it offline, and provision a real bottle from the install."""

from __future__ import annotations

import json
import tarfile
import tomllib
from pathlib import Path

import yaml
from bottles import GUEST_HOME, IMAGES, DockerBottle, ansible_env, run_playbook, write_inventory
from gatelib import ROOT, dependency_collections, run, tail, tool_env

GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text())
SUPERVISE_URL = "http://host.docker.internal:8811/mcp"


def build(dest: Path) -> Path:
    proc = run(["ansible-galaxy", "collection", "build", "--output-path", str(dest), str(ROOT)])
    assert proc.returncode == 0, tail(proc)
    tarball = dest / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    assert tarball.is_file(), proc.stdout
    return tarball


def install(tarball: Path, collections: Path) -> Path:
    """Install next to the dependencies only; the checkout itself is not on this path."""
    # Outside the checkout, so its ansible.cfg (collections_path with the symlinked checkout) is not read.
    proc = run(["ansible-galaxy", "collection", "install", "--offline", "-p", str(collections), str(tarball)],
               cwd=collections, env=tool_env(ANSIBLE_COLLECTIONS_PATH=str(collections)))
    assert proc.returncode == 0, tail(proc)
    installed = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert installed.is_dir() and not installed.is_symlink()
    manifest = json.loads((installed / "MANIFEST.json").read_text())["collection_info"]
    assert manifest["version"] == GALAXY["version"]
    assert manifest["dependencies"] == GALAXY["dependencies"]
    return installed


def test_tarball_ships_the_collection_and_not_the_workspace(tmp_path: Path) -> None:
    with tarfile.open(build(tmp_path)) as tar:
        names = set(tar.getnames())
    for wanted in ("MANIFEST.json", "FILES.json", "plugins/modules/agent_provision_plan.py",
                   "roles/claude/meta/argument_specs.yml", "playbooks/provision.yml", "meta/runtime.yml",
                   "examples/skills/review/SKILL.md", "CHANGELOG.md"):
        assert wanted in names, wanted
    leaked = [n for n in names if n.split("/")[0] in {".venv", ".cache", ".git", ".pytest_cache", ".ruff_cache", ".state"}
              or "/tests/output/" in f"/{n}" or n.endswith((".pyc", ".tar.gz")) or "__pycache__" in n]
    assert not leaked, leaked[:10]


def test_installed_tarball_provisions_a_docker_bottle(tmp_path: Path) -> None:
    collections = dependency_collections(tmp_path / "collections")
    installed = install(build(tmp_path / "dist"), collections)
    bottle = DockerBottle(IMAGES["codex"]).start()
    try:
        host = {**bottle.inventory_vars(), "agent_provider": "codex",
                "agent_state_dir": str(tmp_path / "state"),
                # Skill and prompt from the installed collection: the tarball must carry them.
                "agent_skills": ["review"], "agent_skills_root": str(installed / "examples" / "skills"),
                "agent_prompt_file": str(installed / "examples" / "prompt.md"),
                "agent_supervise_url": SUPERVISE_URL, "agent_result_file": str(tmp_path / "result.json")}
        inventory = write_inventory(tmp_path / "inventory.yml", {bottle.name: host})
        # The playbook by FQCN, resolved only from the temp collections path (same config as the run).
        listed = run(["ansible-galaxy", "collection", "list", "bot_bottle.agents", "--format", "json"],
                     env=ansible_env({"ANSIBLE_COLLECTIONS_PATH": str(collections)}))
        assert list(json.loads(listed.stdout)) == [str(collections / "ansible_collections")], listed.stdout
        prov = run_playbook(inventory, playbook="bot_bottle.agents.provision",
                            env={"ANSIBLE_COLLECTIONS_PATH": str(collections)})
        assert prov.rc == 0, prov.failed_msgs() or prov.stderr[-3000:] or prov.stdout[-3000:]
        assert prov.changed(bottle.name) >= 1

        config = tomllib.loads(bottle.read(f"{GUEST_HOME}/.codex/config.toml"))
        assert config["mcp_servers"]["supervise"]["url"] == SUPERVISE_URL
        skill = f"{GUEST_HOME}/.codex/skills/review/SKILL.md"
        assert bottle.read(skill) == (installed / "examples" / "skills" / "review" / "SKILL.md").read_text()
        assert bottle.stat(skill) == ("600", "node:node")
        result = json.loads((tmp_path / "result.json").read_text())
        assert bottle.stat(result["launcher"]) == ("700", "node:node")
        assert bottle.read(result["prompt_path"]) == (installed / "examples" / "prompt.md").read_text()
    finally:
        bottle.stop()
