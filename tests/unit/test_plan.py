"""The plan a provider builds: complete, owned by the request's user, and never a secret in its report."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import plan as p
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider, known_providers
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import ProvisionRequest
from conftest import EXAMPLES

TOKEN = "sk-ant-oat01-REAL-SECRET-VALUE"
HEADER_SECRET = "hdr-secret-7f3a"
ECHO_ARGV = "#!/bin/sh\nexec python3 -c 'import json,sys,os; print(json.dumps([os.getcwd()] + sys.argv[1:]))' \"$@\"\n"


def build(provider, tmp_path, **options):
    options.setdefault("state_dir", str(tmp_path / "state"))
    options.setdefault("controller_env", {"HOME": str(tmp_path / "home")})
    return get_provider(provider).build(ProvisionRequest.from_options({"provider": provider, **options}))


def full(provider, tmp_path, **options):
    return build(provider, tmp_path, auth_token=TOKEN, trusted_project_path="/work", skills=["review"],
                 skills_root=str(EXAMPLES / "skills"), prompt_file=str(EXAMPLES / "prompt.md"),
                 mcp_servers=[{"name": "supervise", "url": "http://h/mcp", "headers": {"X-Key": HEADER_SECRET}}],
                 **options)


@pytest.mark.parametrize("provider", known_providers())
def test_every_path_written_gets_the_requested_owner(provider, tmp_path):
    plan = full(provider, tmp_path, guest_home="/home/agent", owner="agent:staff")
    args = plan.guest_module_args()
    # The managed settings file (root's, so the bottle user cannot change it) is the one exception.
    managed = get_provider(provider).managed_settings_file()
    files = [f for f in args["files"] if not managed or f["path"] != managed[0]]
    assert [f["owner"] for f in args["files"] if f not in files] == (["root:root"] if managed else [])
    owners = {d["owner"] for d in args["dirs"]} | {f["owner"] for f in files} | \
        {t["owner"] for t in args["trees"]} | {e["owner"] for e in args["config_entries"]}
    assert owners == {"agent:staff"}
    assert args["run_as"] == "agent"
    assert all(path.startswith(("/home/agent/", "/work")) for path in
               [d["path"] for d in args["dirs"]] + [f["path"] for f in files])


@pytest.mark.parametrize("provider", known_providers())
def test_report_and_summary_hold_no_secret(provider, tmp_path):
    plan = full(provider, tmp_path, credentials_in_guest=True)
    report = json.dumps([plan.to_dict(), plan.summary()])
    assert TOKEN not in report and HEADER_SECRET not in report
    # ... while the bottle gets them, through the module's no_log fields.
    args = plan.guest_module_args()
    secret_files = [base64.b64decode(f["content_b64"]).decode() for f in args["files"] if f["secret"]]
    assert any(TOKEN in content for content in secret_files)
    assert args["config_entries"][0]["entry_secret"] != {} and HEADER_SECRET not in json.dumps(
        args["config_entries"][0]["entry"])


@pytest.mark.parametrize("provider", known_providers())
def test_controller_secrets_stay_in_memory(provider, tmp_path):
    plan = full(provider, tmp_path)
    assert [r.credential_path for r in plan.egress_routes] == list(plan.controller_files)
    assert list(plan.controller_files.values()) == [TOKEN.encode()]
    assert not (tmp_path / "state").exists(), "building a plan writes nothing"


@pytest.mark.parametrize("provider", known_providers())
def test_trusted_path_is_created_only_if_missing(provider, tmp_path):
    (trusted,) = [d for d in full(provider, tmp_path).dirs if d.guest_path == "/work"]
    assert trusted.create_only and trusted.mode == "700"
    assert not any(d.create_only for d in build(provider, tmp_path).dirs)


@pytest.mark.parametrize("provider", known_providers())
def test_absent_mcp_server_removes_the_entry(provider, tmp_path):
    plan = build(provider, tmp_path, mcp_servers=[{"name": "old", "state": "absent"}])
    (entry,) = plan.guest_module_args()["config_entries"]
    assert entry["entry"] is None and entry["entry_path"][-1] == "old"
    assert plan.summary()["mcp_servers"] == {}


def run_launcher(tmp_path, provider, script, *args):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / provider).write_text(ECHO_ARGV)
    (bin_dir / provider).chmod(0o755)
    (tmp_path / "launch").write_text(script)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    out = subprocess.run(["sh", str(tmp_path / "launch"), *args], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


@pytest.mark.parametrize("provider", known_providers())
def test_launcher_variants_run_the_planned_argv(provider, tmp_path):
    plan = build(provider, tmp_path, guest_home=str(tmp_path / "home"), trusted_project_path=str(tmp_path),
                 prompt_file=str(EXAMPLES / "prompt.md"))
    (launcher,) = [f for f in plan.files if f.guest_path == plan.launcher]
    assert launcher.mode == "700"
    for variant, launch_args in [("interactive", []), ("resume", ["--resume"]),
                                 ("headless", ["--headless", "hello 'world'"]),
                                 ("headless_resume", ["--resume", "--headless", "hello 'world'"])]:
        argv = run_launcher(tmp_path, provider, launcher.content.decode(), *launch_args, "--extra")
        expected = [a.replace(p.MESSAGE, "hello 'world'") for a in plan.launch[variant][1:]]
        assert argv == [str(tmp_path), *expected, "--extra"], variant


def test_claude_headless_argv(tmp_path):
    plan = build("claude", tmp_path, prompt_file=str(EXAMPLES / "prompt.md"))
    assert plan.launch["headless_resume"] == (
        "claude", "-p", "--continue", "--dangerously-skip-permissions", "--append-system-prompt-file",
        plan.prompt_path, "{message}")


def test_codex_resume_drops_the_prompt_message(tmp_path):
    plan = build("codex", tmp_path, prompt_file=str(EXAMPLES / "prompt.md"))
    assert plan.launch["resume"] == ("codex", "resume", "--last", "--dangerously-bypass-approvals-and-sandbox")
    assert plan.launch["headless"][-1].startswith("Read and follow the instructions in ")
    assert plan.launch["headless"][-1].endswith("\n\n{message}")


def test_empty_prompt_is_placed_but_not_exported(tmp_path):
    empty = tmp_path / "empty.md"
    empty.write_text("  \n")
    plan = build("claude", tmp_path, prompt_file=str(empty))
    assert plan.prompt_path == ""
    assert "--append-system-prompt-file" not in plan.launch["interactive"]
    assert any(f.guest_path.endswith("/prompt.md") for f in plan.files), "the prompt path always exists"


def test_no_skills_means_no_trees(tmp_path):
    plan = build("codex", tmp_path)
    assert plan.trees == () and plan.summary()["skills"] == []


def test_plans_are_frozen(tmp_path):
    with pytest.raises(AttributeError):
        build("codex", tmp_path).provider = "x"  # type: ignore[misc]
