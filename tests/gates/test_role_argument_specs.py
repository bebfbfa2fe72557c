"""Role argument specs: one spec in the shared role, and wrong types fail clearly through every entry role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from agents import PROVIDERS
from gatelib import ROOT
from bottles import run_playbook

ROLES = ROOT / "roles"


def options(role: str) -> dict:
    return yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", PROVIDERS)
def test_entry_roles_declare_nothing_the_shared_role_declares(role: str) -> None:
    # Options are declared once, in the shared role; the entry roles only preset agent_provider.
    assert options("agent")["agent_provider"]["required"] is True
    assert options(role) == {}


# Options the role computes itself (agent_state_dir's default) or that are for direct module use only.
ROLE_DEFAULTS_DIFFER = {"state_dir"}
MODULE_ONLY = {"controller_env"}


def test_every_request_option_is_a_role_variable_with_the_same_contract() -> None:
    # The action reads agent_<option> for every option of the request: the role's spec must
    # declare each with the module's type, default and choices, so docs and behaviour agree.
    from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import REQUEST_SPEC

    role = options("agent")
    for option, spec in REQUEST_SPEC.items():
        if option in MODULE_ONLY:
            assert f"agent_{option}" not in role
            continue
        declared = role[f"agent_{option}"]
        keys = ("type", "choices", "elements") if option in ROLE_DEFAULTS_DIFFER else (
            "type", "default", "choices", "elements", "required")
        assert {k: declared.get(k) for k in keys} == {k: spec.get(k) for k in keys}, option


PLAY = """
- name: Provision with one wrong option
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Include the entry role
      ansible.builtin.include_role:
        name: bot_bottle.agents.{role}
"""


@pytest.mark.parametrize("role", PROVIDERS)
@pytest.mark.parametrize(("option", "value", "message"), [
    ("agent_skills", "notalist", "agent_skills: must be a YAML list, not a string"),
    ("agent_skills", {"review": True}, "argument 'agent_skills' is of type dict"),
    ("agent_supervise_headers", "Authorization=canary-4f1d", "agent_supervise_headers: must be a YAML mapping, not a string"),
    ("agent_forward_host_credentials", "maybe", "argument 'agent_forward_host_credentials' is of type str"),
])
def test_wrong_type_is_rejected_by_name(role: str, option: str, value, message: str, tmp_path: Path) -> None:
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAY.format(role=role))
    extra = {option: value, "agent_state_dir": str(tmp_path / "state")}
    run = run_playbook(Path("localhost,"), "-c", "local", "-e", json.dumps(extra), playbook=playbook)
    assert run.rc == 2, run.stdout + run.stderr
    msgs = run.failed_msgs() + [r.get("msg", "") for rs in run.results.values() for r in rs
                                for r in r.get("results", [r]) if r.get("failed")]
    assert any(message in m for m in msgs), msgs
    assert "canary-4f1d" not in run.stdout, "a rejected header value must not be echoed"
    assert not (tmp_path / "state").exists(), "nothing may be written before validation passes"
