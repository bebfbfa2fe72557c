"""agent_provision_plan run through Ansible on the controller."""

from __future__ import annotations

import subprocess

import yaml
from bottles import VENV_BIN, ansible_env, run_playbook

TOKEN = "sk-REAL-TOKEN-must-not-leak-42"


def plan_playbook(tmp_path, **extra):
    tasks = [
        {
            "name": f"Plan {template}",
            "bot_bottle.agents.agent_provision_plan": {
                "template": template,
                "state_dir": str(tmp_path / "state" / template),
                "auth_token": TOKEN,
                "trusted_project_path": "/work",
                **extra,
            },
            "register": f"{template}_plan",
        }
        for template in ("claude", "codex")
    ]
    play = [{"name": "Plans", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    path = tmp_path / "plan.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    localhost:\n      ansible_python_interpreter: " + str(VENV_BIN / "python") + "\n")
    return inventory, path


def test_plans_are_returned_and_second_run_changes_nothing(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    first = run_playbook(inventory, playbook=playbook)
    assert first.rc == 0, first.failed_msgs() or first.stderr
    claude, codex = first.results["localhost"]
    assert claude["changed"] and codex["changed"]
    assert claude["plan"]["command"] == "claude" and codex["plan"]["command"] == "codex"
    assert codex["plan"]["egress_routes"][0]["host"] == "api.openai.com"
    assert (tmp_path / "state" / "codex" / "secrets" / "codex-api-key").stat().st_mode & 0o777 == 0o600
    second = run_playbook(inventory, playbook=playbook)
    assert second.rc == 0 and second.changed("localhost") == 0


def test_check_mode_writes_nothing(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    run = run_playbook(inventory, "--check", playbook=playbook)
    assert run.rc == 0 and run.changed("localhost") == 2
    assert not (tmp_path / "state").exists()


def test_no_secret_in_any_output_at_vvv(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    run = run_playbook(inventory, "-vvv", playbook=playbook, json_output=False)
    assert run.rc == 0
    assert TOKEN not in run.stdout + run.stderr


def test_bad_template_fails_clearly_and_writes_nothing(tmp_path):
    inventory, playbook = plan_playbook(tmp_path)
    playbook.write_text(playbook.read_text().replace("template: codex", "template: gemini"))
    run = run_playbook(inventory, playbook=playbook)
    assert run.rc != 0
    assert "template: unknown provider 'gemini'; known providers: claude, codex" in run.failed_msgs()
    assert not (tmp_path / "state" / "gemini").exists()


def test_ansible_doc_renders():
    out = subprocess.run([str(VENV_BIN / "ansible-doc"), "bot_bottle.agents.agent_provision_plan"],
                         capture_output=True, text=True, env=ansible_env(), check=False)
    assert out.returncode == 0, out.stderr
    assert "state_dir" in out.stdout and "forward_host_credentials" in out.stdout


def test_apply_takes_exactly_one_of_plan_and_plan_options(tmp_path):
    inventory = plan_playbook(tmp_path)[0]
    playbook = tmp_path / "apply.yml"
    both = {"plan": {"template": "claude"}, "plan_options": {"template": "claude", "state_dir": str(tmp_path / "s")}}
    tasks = [{"name": name, "bot_bottle.agents.agent_provision_apply": args, "ignore_errors": True}
             for name, args in (("neither", {}), ("both", both))]
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "tasks": tasks}]))
    run = run_playbook(inventory, playbook=playbook)
    neither, both_result = run.results["localhost"]
    assert "one of the following is required: plan, plan_options" in neither["msg"]
    assert "parameters are mutually exclusive: plan|plan_options" in both_result["msg"]
    assert not (tmp_path / "s").exists()
