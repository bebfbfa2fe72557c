"""Controller side of apply: desired state, the launcher, the CI summary."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils.desired import guest_state
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError, get_provider
from conftest import EXAMPLES

ECHO_ARGV = "#!/bin/sh\nexec python3 -c 'import json,sys,os; print(json.dumps([os.getcwd()] + sys.argv[1:]))' \"$@\"\n"


def plan_for(template, tmp_path, **kwargs):
    return get_provider(template).draft_plan(state_dir=str(tmp_path / "state"), guest_home=str(tmp_path / "home"),
                                             trusted_project_path=str(tmp_path), **kwargs).plan


def launcher_of(module_args):
    f = next(f for f in module_args["files"] if f["path"].endswith("/launch"))
    return base64.b64decode(f["content_b64"]).decode()


def run_launcher(tmp_path, template, script, *args):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / template).write_text(ECHO_ARGV)
    (bin_dir / template).chmod(0o755)
    (tmp_path / "launch").write_text(script)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = subprocess.run(["sh", str(tmp_path / "launch"), *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("template", ["claude", "codex"])
def test_launcher_variants_run_the_planned_argv(template, tmp_path):
    plan = plan_for(template, tmp_path)
    args, summary = guest_state(plan, prompt_file=str(EXAMPLES / "prompt.md"))[:2]
    script = launcher_of(args)
    for variant, launch_args in [("interactive", []), ("resume", ["--resume"]),
                                 ("headless", ["--headless", "hello 'world'"]),
                                 ("headless_resume", ["--resume", "--headless", "hello 'world'"])]:
        argv = run_launcher(tmp_path, template, script, *launch_args, "--extra")
        expected = [a.replace("{message}", "hello 'world'") for a in summary["launch"][variant][1:]]
        assert argv == [str(tmp_path), *expected, "--extra"], variant


def test_claude_headless_argv(tmp_path):
    summary = guest_state(plan_for("claude", tmp_path), prompt_file=str(EXAMPLES / "prompt.md"))[1]
    prompt = summary["prompt_path"]
    assert summary["launch"]["headless_resume"] == [
        "claude", "-p", "--continue", "--dangerously-skip-permissions", "--append-system-prompt-file", prompt, "{message}"]


def test_codex_resume_drops_the_prompt_message(tmp_path):
    summary = guest_state(plan_for("codex", tmp_path), prompt_file=str(EXAMPLES / "prompt.md"))[1]
    assert summary["launch"]["resume"] == ["codex", "resume", "--last", "--dangerously-bypass-approvals-and-sandbox"]
    assert summary["launch"]["headless"][-1].startswith("Read and follow the instructions in ")
    assert summary["launch"]["headless"][-1].endswith("\n\n{message}")


def test_empty_prompt_is_placed_but_not_exported(tmp_path):
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    args, summary = guest_state(plan_for("claude", tmp_path), prompt_file=str(empty))[:2]
    assert summary["prompt_path"] == ""
    assert "--append-system-prompt-file" not in summary["launch"]["interactive"]
    assert any(f["path"].endswith("/prompt.md") for f in args["files"]), "the prompt path always exists"


def test_summary_hides_placeholders_and_keeps_references(tmp_path):
    plan = plan_for("claude", tmp_path, auth_token="sk-real")
    args, summary = guest_state(plan, mcp_servers=[{"name": "supervise", "url": "http://h/mcp",
                                                    "headers": {"X-Key": "hdr-secret"}}])[:2]
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in summary["env_vars"]
    assert summary["hidden_env_names"] == ["CLAUDE_CODE_OAUTH_TOKEN"]
    assert summary["egress_routes"][0]["credential_source"] == "file"
    assert "sk-real" not in json.dumps(summary) and "hdr-secret" not in json.dumps(summary)
    (entry,) = args["config_entries"]
    assert "hdr-secret" not in json.dumps(entry["entry"]) and entry["entry_secret"]["headers"] == {"X-Key": "hdr-secret"}


def test_no_skills_means_no_trees(tmp_path):
    args, summary = guest_state(plan_for("codex", tmp_path))[:2]
    assert args["trees"] == [] and summary["skills"] == []


def test_missing_skills_root(tmp_path):
    with pytest.raises(ProvisionError, match="skills_root: is required when skills are listed"):
        guest_state(plan_for("codex", tmp_path), skills=["review"])
