"""Plan dataclasses: JSON-safe round trips without loss."""

from __future__ import annotations

import json

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils import plan as p
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import get_provider

SAMPLES = [
    p.AgentProviderRuntime("x", "x", "img", "x.Dockerfile", p.PROMPT_APPEND_FILE, ("--b",), ("--r",), ("--rc",), ("-p",)),
    p.AgentProvisionDir("/home/node/.x", "750", "node:staff"),
    p.AgentProvisionFile("/s/a", "/g/a", "640", "node:node", p.MERGE_JSON, True, ""),
    p.AgentProvisionCommand(("x", "--version"), "x missing"),
    p.EgressRoute("api.example", "Authorization", "json_file", "/h/c.json", "/a/b", "Bearer ", True),
    p.McpRegistration("/g/c.toml", "toml", ("mcp_servers", "s"), {"url": "http://h", "http_headers": {"a": "b"}}),
]


@pytest.mark.parametrize("obj", SAMPLES, ids=lambda o: type(o).__name__)
def test_round_trip_through_json(obj):
    data = json.loads(json.dumps(obj.to_dict()))
    assert type(obj).from_dict(data) == obj


@pytest.mark.parametrize("template", ["claude", "codex"])
def test_real_plans_round_trip(template, tmp_path):
    plan = get_provider(template).draft_plan(
        state_dir=str(tmp_path), auth_token="tok", trusted_project_path="/work"
    ).plan
    again = p.AgentProvisionPlan.from_dict(json.loads(json.dumps(plan.to_dict())))
    assert again == plan
    assert isinstance(again.dirs[0], p.AgentProvisionDir)
    assert isinstance(again.runtime, p.AgentProviderRuntime)


def test_defaults_match_the_contract():
    assert p.AgentProvisionDir("/x") == p.AgentProvisionDir("/x", "700", "node:node")
    f = p.AgentProvisionFile("/h", "/g")
    assert (f.mode, f.owner, f.merge, f.secret) == ("600", "node:node", "replace", False)


def test_unknown_field_is_named():
    with pytest.raises(ValueError, match="unknown field.*bogus"):
        p.AgentProvisionDir.from_dict({"guest_path": "/x", "bogus": 1})


def test_plans_are_frozen():
    with pytest.raises(AttributeError):
        p.AgentProvisionDir("/x").mode = "777"  # type: ignore[misc]
