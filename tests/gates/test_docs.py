"""Every module renders in ansible-doc with examples and return values; roles and changelog are documented."""

from __future__ import annotations

import json

import pytest
import yaml
from gatelib import ROOT, run, tail, tool_env

MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())


def ansible_doc(*args: str) -> dict:
    proc = run(["ansible-doc", "--json", *args],
               env=tool_env(ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".cache" / "collections")))
    assert proc.returncode == 0, tail(proc)
    return next(iter(json.loads(proc.stdout).values()))


def test_every_module_is_documented() -> None:
    assert set(MODULES) >= {"agent_provision_plan", "agent_provision_apply", "agent_mcp_server", "agent_guest_state"}
    for name in MODULES:
        doc = ansible_doc(f"bot_bottle.agents.{name}")
        assert doc["doc"]["short_description"] and doc["doc"]["options"], name
        assert yaml.safe_load(doc["examples"]), f"{name}: no EXAMPLES"
        assert doc["return"], f"{name}: no RETURN"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_argument_specs_and_a_readme(role: str) -> None:
    main = ansible_doc("-t", "role", f"bot_bottle.agents.{role}")["entry_points"]["main"]
    # The entry roles declare nothing themselves and point at the shared role that does.
    shared = ansible_doc("-t", "role", "bot_bottle.agents.agent")["entry_points"]["main"]
    assert "agent_skills" in shared["options"]
    assert main["options"] or "bot_bottle.agents.agent" in " ".join(main["description"]), role
    readme = (ROOT / "roles" / role / "README.md").read_text()
    assert f"bot_bottle.agents.{role}" in readme


def test_changelog_covers_every_fragment() -> None:
    # CHANGELOG.md is generated (antsibull-changelog release); a fragment it does not know about
    # means the changelog was not regenerated.
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    released = {f for release in changes["releases"].values() for f in release.get("fragments", [])}
    fragments = {p.name for p in (ROOT / "changelogs" / "fragments").glob("*.yml")}
    assert fragments and fragments <= released, fragments - released
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert galaxy["version"] in changes["releases"]
    assert f"v{galaxy['version']}".replace(".", "\\.") in (ROOT / "CHANGELOG.md").read_text()
