"""The provider roles against real docker and SSH bottles (every provider in the registry)."""

from __future__ import annotations

import json
import os

from agents import driver
from bottles import SUPERVISE_URL, role_vars, run_playbook, write_inventory
from conftest import EXAMPLES


def provision(bottle, provider, tmp_path, *args, **extra):
    inventory = write_inventory(tmp_path / "inventory.yml", {bottle.name: role_vars(bottle, provider, tmp_path, **extra)})
    run = run_playbook(inventory, *args)
    assert run.rc == 0, run.failed_msgs() or run.stderr or run.stdout
    return run


def mcp_entry(bottle, provider: str):
    agent = driver(provider)
    return agent.mcp_entry(bottle.read(agent.config_path))


def test_converge_is_idempotent_and_exact(make_bottle, target_kind, provider, tmp_path):
    bottle = make_bottle(target_kind, provider)
    first = provision(bottle, provider, tmp_path)
    assert first.changed(bottle.name) >= 1
    second = provision(bottle, provider, tmp_path)
    assert second.changed(bottle.name) == 0, second.results[bottle.name]

    result = json.loads((tmp_path / "result.json").read_text())
    plan = next(r for r in first.results[bottle.name] if "plan" in r)["plan"]
    for d in plan["dirs"]:
        if not d["create_only"]:  # the trusted project (the home here) is left as it was
            assert bottle.stat(d["guest_path"]) == (d["mode"], d["owner"])
    for f in plan["files"]:
        assert bottle.stat(f["guest_path"]) == (f["mode"].lstrip("0") or "0", f["owner"])
    skill = f"{plan['skills_dir']}/review/SKILL.md"
    assert bottle.read(skill) == (EXAMPLES / "skills" / "review" / "SKILL.md").read_text()
    assert bottle.stat(skill) == ("600", "node:node")
    assert bottle.read(result["prompt_path"]) == (EXAMPLES / "prompt.md").read_text()
    assert bottle.stat(result["launcher"]) == ("700", "node:node")
    agent = driver(provider)
    assert bottle.stat(agent.config_path) == ("600", "node:node")
    agent.check_mcp_entry(mcp_entry(bottle, provider), SUPERVISE_URL)
    agent.check_launch(result["launch"], result["prompt_path"])
    assert result["skills"] == [f"{plan['skills_dir']}/review"]


def test_check_mode_on_fresh_bottle_changes_nothing(make_bottle, target_kind, provider, tmp_path):
    bottle = make_bottle(target_kind, provider)
    before = bottle.system_snapshot()
    check = provision(bottle, provider, tmp_path, "--check")
    assert check.changed(bottle.name) >= 1, "check mode must report the changes it would make"
    # Not a byte, mode, owner or mtime anywhere: the CLI checks ran with a throwaway home.
    assert bottle.system_snapshot() == before
    assert not (tmp_path / "state").exists(), "check mode wrote controller state"


def test_user_config_survives(make_bottle, target_kind, provider, tmp_path):
    bottle = make_bottle(target_kind, provider)
    agent = driver(provider)
    config = agent.config_path
    bottle.exec(f"[ -d {os.path.dirname(config)} ] || install -d -o node -g node -m 700 {os.path.dirname(config)}\n"
                f"cat > {config} <<'EOF'\n{agent.user_config}\nEOF\nchown node:node {config}")
    provision(bottle, provider, tmp_path)
    agent.check_user_config(bottle.read(config))
    assert mcp_entry(bottle, provider)["url"] == SUPERVISE_URL
    assert provision(bottle, provider, tmp_path).changed(bottle.name) == 0
