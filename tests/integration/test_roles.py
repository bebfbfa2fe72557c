"""The provider roles against real docker and SSH bottles (every provider in the registry)."""

from __future__ import annotations

import json
import os
import tomllib

from agents import GUEST_HOME, driver
from bottles import SUPERVISE_URL, role_vars, run_playbook, write_inventory
from conftest import EXAMPLES

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider


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
        if f["merge"] == "block" or f["record"]:
            continue  # the user's settings and context: written only when set (see the settings test)
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
    last = provision(bottle, provider, tmp_path)
    assert last.changed(bottle.name) == 0, [r.get("changes") for r in last.results[bottle.name]]


def test_settings_policy_and_context_merge_and_go_away_when_unset(make_bottle, provider, tmp_path):
    """agent_settings, agent_managed_settings and agent_context on a bottle whose user has settings and
    context of their own: merged, converged, predicted by check mode, and removed again when unset,
    leaving the user's own keys and text as they were."""
    plugin = get_provider(provider)
    bottle = make_bottle("docker", provider)
    settings_path, fmt = plugin.settings_file(GUEST_HOME)
    managed_path, _managed_fmt = plugin.managed_settings_file()
    context_path = plugin.context_path(GUEST_HOME)
    own = {"json": '{"bbtUserKey": "mine", "bbtShared": "users-own"}\n',
           "toml": 'bbt_user_key = "mine"\nbbt_shared = "users-own"\n'}[fmt]
    user_text = "# My notes\n\nAlways run the linter.\n"
    bottle.exec(f"install -d -o node -g node -m 700 {os.path.dirname(settings_path)}\n"
                f"cat > {settings_path} <<'EOF'\n{own}EOF\ncat > {context_path} <<'EOF'\n{user_text}EOF\n"
                f"chown node:node {settings_path} {context_path}")
    shared = "bbtShared" if fmt == "json" else "bbt_shared"
    wanted = {"bbtSet": {"list": [1, 2], "flag": True}, shared: "users-own"}
    run = provision(bottle, provider, tmp_path, agent_settings=wanted, agent_managed_settings={"bbtPolicy": {"on": True}},
                    agent_context="Run the tests before you commit.")
    assert run.changed(bottle.name) >= 1
    merged = driver(provider).parse(bottle.read(settings_path)) if fmt == "json" else tomllib.loads(bottle.read(settings_path))
    assert merged["bbtSet"] == {"list": [1, 2], "flag": True} and merged[shared] == "users-own"
    assert merged["bbtUserKey" if fmt == "json" else "bbt_user_key"] == "mine"
    assert "bbtPolicy" in bottle.read(managed_path) and bottle.stat(managed_path) == ("644", "root:root")
    context = bottle.read(context_path)
    assert context.startswith(user_text) and "Run the tests before you commit.\n" in context
    assert provision(bottle, provider, tmp_path, agent_settings=wanted, agent_managed_settings={"bbtPolicy": {"on": True}},
                     agent_context="Run the tests before you commit.").changed(bottle.name) == 0

    # A list replaces the list in the file; check mode predicts it and writes nothing.
    before = bottle.snapshot()
    changed_list = {**wanted, "bbtSet": {"list": [3], "flag": True}}
    check = provision(bottle, provider, tmp_path, "--check", "--diff", agent_settings=changed_list,
                      agent_managed_settings={"bbtPolicy": {"on": True}}, agent_context="Run the tests before you commit.")
    assert check.changed(bottle.name) >= 1 and bottle.snapshot() == before

    # Unset: what the role set goes; the user's keys (the one that already held its value too) and text stay.
    provision(bottle, provider, tmp_path)
    left = driver(provider).parse(bottle.read(settings_path)) if fmt == "json" else tomllib.loads(bottle.read(settings_path))
    assert "bbtSet" not in left and left[shared] == "users-own"
    assert left["bbtUserKey" if fmt == "json" else "bbt_user_key"] == "mine"
    assert "bbtPolicy" not in bottle.read(managed_path)
    assert bottle.read(context_path) == user_text
    last = provision(bottle, provider, tmp_path)
    assert last.changed(bottle.name) == 0, [r.get("changes") for r in last.results[bottle.name]]
