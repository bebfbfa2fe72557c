"""agent_provision_plan run through Ansible on the controller: a read-only report."""

from __future__ import annotations

import subprocess

import yaml
from agents import PROVIDERS
from bottles import VENV_BIN, ansible_env, run_playbook

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import role_variable

TOKEN = "sk-REAL-TOKEN-must-not-leak-42"

KNOWN = ", ".join(PROVIDERS)


def plan_playbook(tmp_path, **extra):
    tasks = [
        {
            "name": f"Plan {provider}",
            "bot_bottle.agents.agent_provision_plan": {
                "provider": provider,
                "state_dir": str(tmp_path / "state" / provider),
                "auth_token": TOKEN,
                "trusted_project_path": "/work",
                **extra,
            },
            "register": f"{provider}_plan",
        }
        for provider in ("claude", "codex")
    ]
    play = [{"name": "Plans", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "plan.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: " + str(VENV_BIN / "python") + "\n")
    return inventory, path


def test_plans_are_reported_and_nothing_is_written(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    run = run_playbook(inventory, playbook=playbook)
    assert run.rc == 0, run.failed_msgs() or run.stderr
    claude, codex = run.results["localhost"]
    assert not claude["changed"] and not codex["changed"]
    assert claude["plan"]["runtime"]["command"] == "claude" and codex["plan"]["runtime"]["command"] == "codex"
    assert codex["plan"]["egress_routes"][0]["host"] == "api.openai.com"
    assert codex["bottle"]["launcher"] == "/home/node/.bot-bottle/codex/launch"
    assert not (tmp_path / "state").exists(), "a report writes nothing, not even the controller secrets"


def test_no_secret_in_any_output_at_vvv(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    run = run_playbook(inventory, "-vvv", playbook=playbook, json_output=False)
    assert run.rc == 0
    assert TOKEN not in run.stdout + run.stderr


def test_bad_provider_fails_clearly(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    playbook.write_text(playbook.read_text().replace("provider: codex", "provider: nosuch"))
    run = run_playbook(inventory, playbook=playbook)
    assert run.rc != 0
    assert f"provider: unknown provider 'nosuch'; known providers: {KNOWN}" in run.failed_msgs()


def test_ansible_doc_renders_the_shared_request_options():
    for module in ("agent_provision_plan", "agent_provision_apply"):
        out = subprocess.run([str(VENV_BIN / "ansible-doc"), f"bot_bottle.agents.{module}"],
                             capture_output=True, text=True, env=ansible_env(), check=False)
        assert out.returncode == 0, out.stderr
        assert "state_dir" in out.stdout and "forward_host_credentials" in out.stdout and "owner" in out.stdout


def test_role_variables_name_what_the_role_user_set():
    assert role_variable("skills") == "agent_skills"
    assert role_variable("provider") == "agent_provider"
    assert role_variable("mcp_servers[supervise].url") == "agent_supervise_url"
    assert role_variable("mcp_servers[other].url") == "agent_mcp_servers[other].url"
