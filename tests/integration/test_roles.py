"""The claude and codex roles against real docker and SSH bottles."""

from __future__ import annotations

import json
import tomllib

from bottles import GUEST_HOME, SUPERVISE_URL, role_vars, run_playbook, write_inventory
from conftest import EXAMPLES

CONFIG = {"claude": f"{GUEST_HOME}/.claude.json", "codex": f"{GUEST_HOME}/.codex/config.toml"}


def provision(bottle, provider, tmp_path, *args, **extra):
    inventory = write_inventory(tmp_path / "inventory.yml", {bottle.name: role_vars(bottle, provider, tmp_path, **extra)})
    run = run_playbook(inventory, *args)
    assert run.rc == 0, run.failed_msgs() or run.stderr or run.stdout
    return run


def mcp_entry(bottle, provider: str):
    text = bottle.read(CONFIG[provider])
    if provider == "claude":
        return json.loads(text)["mcpServers"]["supervise"]
    return tomllib.loads(text)["mcp_servers"]["supervise"]


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
    assert bottle.stat(CONFIG[provider]) == ("600", "node:node")
    entry = mcp_entry(bottle, provider)
    assert entry["url"] == SUPERVISE_URL
    if provider == "claude":
        assert entry["type"] == "http"
        assert result["launch"]["interactive"][-2:] == ["--append-system-prompt-file", result["prompt_path"]]
    else:
        assert result["launch"]["interactive"][-1] == f"Read and follow the instructions in {result['prompt_path']}."
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
    if provider == "claude":
        user = {"theme": "dark", "mcpServers": {"mine": {"type": "stdio", "command": "my-mcp"}},
                "projects": {"/srv/app": {"allowedTools": ["Bash"]}}}
        seed = json.dumps(user, indent=2)
    else:
        seed = '# my codex settings\nmodel = "o3"  # keep\n\n[mcp_servers.mine]\ncommand = "my-mcp"\n'
        bottle.exec(f"install -d -o node -g node -m 700 {GUEST_HOME}/.codex")
    bottle.exec(f"cat > {CONFIG[provider]} <<'EOF'\n{seed}\nEOF\nchown node:node {CONFIG[provider]}")
    provision(bottle, provider, tmp_path)
    text = bottle.read(CONFIG[provider])
    if provider == "claude":
        data = json.loads(text)
        assert data["theme"] == "dark"
        assert data["mcpServers"]["mine"] == user["mcpServers"]["mine"]
        assert data["projects"]["/srv/app"] == user["projects"]["/srv/app"]
        assert data["projects"][GUEST_HOME]["hasTrustDialogAccepted"] is True
    else:
        assert text.startswith('# my codex settings\nmodel = "o3"  # keep\n\n[mcp_servers.mine]\ncommand = "my-mcp"\n')
        data = tomllib.loads(text)
        assert data["projects"][GUEST_HOME]["trust_level"] == "trusted"
    assert mcp_entry(bottle, provider)["url"] == SUPERVISE_URL
    assert provision(bottle, provider, tmp_path).changed(bottle.name) == 0
