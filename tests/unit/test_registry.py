"""The provider registry, the back-compat helpers and prompt_args."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import plan as plan_module
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import provider as prov
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import ProvisionRequest
from conftest import COLLECTIONS


def test_known_providers_come_from_plugin_files():
    contrib = COLLECTIONS / "ansible_collections" / "bot_bottle" / "agents" / "plugins" / "plugin_utils" / "contrib"
    files = sorted(path.stem for path in contrib.glob("*.py") if path.stem != "__init__")
    assert {"claude", "codex"} <= set(files) and prov.known_providers() == files


def test_unknown_provider_names_the_known_ones():
    known = ", ".join(prov.known_providers())
    with pytest.raises(ValueError, match=rf"provider: unknown provider 'nosuch'; known providers: {known}$"):
        prov.get_provider("nosuch")


def test_plugins_are_imported_only_when_asked_for():
    code = (
        "import sys\n"
        "from ansible_collections.bot_bottle.agents.plugins.plugin_utils import provider\n"
        "mods = 'ansible_collections.bot_bottle.agents.plugins.plugin_utils.contrib.'\n"
        "assert mods + 'codex' not in sys.modules and mods + 'claude' not in sys.modules\n"
        "provider.get_provider('codex')\n"
        "assert mods + 'codex' in sys.modules and mods + 'claude' not in sys.modules\n"
        "print('lazy')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(COLLECTIONS)},
                         capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "lazy", out.stderr


def test_shims(tmp_path):
    assert prov.runtime_for("claude").command == "claude"
    assert prov.runtime_for("codex").resume_args == ("resume", "--last")
    plan = prov.agent_provision_plan("codex", state_dir=str(tmp_path / "s"), auth_token="sk-key")
    assert plan.provider == "codex"
    key = tmp_path / "s" / "secrets" / "codex-api-key"
    assert key.read_text() == "sk-key" and key.stat().st_mode & 0o777 == 0o600, "the shim writes the controller secrets"


@pytest.mark.parametrize(
    "mode, path, argv, expected",
    [
        ("append_file", "/p.md", None, ["--append-system-prompt-file", "/p.md"]),
        ("append_file", "/p.md", ["claude", "--continue"], ["--append-system-prompt-file", "/p.md"]),
        ("read_prompt_file", "/p.md", None, ["Read and follow the instructions in /p.md."]),
        ("read_prompt_file", "/p.md", ["codex", "resume", "--last"], []),
        ("read_prompt_file", "/p.md", ["codex", "exec"], ["Read and follow the instructions in /p.md."]),
        ("append_file", "", None, []),
        ("read_prompt_file", "", None, []),
    ],
)
def test_prompt_args(mode, path, argv, expected):
    assert prov.prompt_args(mode, path, argv) == expected


def test_prompt_args_unknown_mode():
    with pytest.raises(ValueError, match="prompt_mode: unknown mode 'stdin'"):
        prov.prompt_args("stdin", "/p.md")


def test_prompt_args_context_file_mode_has_no_argv():
    # The CLI reads the prompt from where the provider put it.
    assert prov.prompt_args("context_file", "/p.md") == []


class ContextFileProvider(prov.AgentProvider):
    """A provider using every seam hook a CLI unlike claude and codex needs (gemini is one)."""

    package = "fake-cli"
    runtime = plan_module.AgentProviderRuntime(
        provider="fake", command="fake", image="fake:latest", dockerfile="fake.Dockerfile",
        prompt_mode=plan_module.PROMPT_CONTEXT_FILE, bypass_args=("--yes",), resume_args=("--resume",),
        remote_control_args=(), headless_args=("-p", plan_module.MESSAGE))

    context_file_name = "FAKE.md"

    def config_dir(self, guest_home):
        return f"{guest_home}/.fake"

    def settings_file(self, guest_home):
        return f"{guest_home}/.fake/settings.json", "json"

    def prompt_path(self, guest_home):
        return f"{guest_home}/.fake/ext/context.md"

    def add_parts(self, parts):
        parts.add_dir(f"{parts.request.guest_home}/.fake/ext")
        parts.add_file(f"{parts.request.guest_home}/.fake/trust.json", parts.request.workdir.encode())

    def mcp_entry(self, server, guest_home, owner):
        return plan_module.ConfigEntry(f"{guest_home}/.fake/mcp.json", "json", ("servers", server.name),
                                       prov.http_mcp_entry(server), owner)


def test_the_seam_places_the_prompt_dirs_and_headless_message_where_the_provider_says(tmp_path):
    prompt = tmp_path / "prompt.md"
    prompt.write_text("be brief\n")
    request = ProvisionRequest(provider="fake", state_dir=str(tmp_path / "state"), prompt_file=str(prompt),
                               trusted_project_path="/work/repo")
    plan = ContextFileProvider().build(request)
    assert plan.prompt_path == "/home/node/.fake/ext/context.md"
    assert [f.content for f in plan.files if f.guest_path == plan.prompt_path] == [b"be brief\n"]
    assert not any(f.guest_path.endswith("/.bot-bottle/fake/prompt.md") for f in plan.files)
    dirs = [d.guest_path for d in plan.dirs]
    # The provider's directory comes after the base's and before any file is written.
    assert dirs.index("/home/node/.fake/ext") > dirs.index("/home/node/.fake")
    assert [f.content for f in plan.files if f.guest_path.endswith("trust.json")] == [b"/work/repo"]
    assert plan.launch["interactive"] == ("fake", "--yes")
    assert plan.launch["headless"] == ("fake", "-p", plan_module.MESSAGE, "--yes")
    assert plan.launch["headless_resume"] == ("fake", "-p", plan_module.MESSAGE, "--resume", "--yes")


def test_an_env_credential_is_a_placeholder_and_a_route_unless_in_guest(tmp_path):
    route = plan_module.EgressRoute("api.example.com", "x-key", "file", "/s/key", value_prefix="")
    for in_guest in (False, True):
        parts = prov.ProviderParts(ProvisionRequest(provider="fake", state_dir=str(tmp_path), credentials_in_guest=in_guest))
        parts.add_env_credential("FAKE_KEY", "it's secret", "/home/node/.fake/creds.env", lambda: route)
        if in_guest:
            assert parts.egress_routes == [] and parts.env == {} and parts.env_files == ["/home/node/.fake/creds.env"]
            (written,) = parts.files
            # Sourced by sh: quoted, so a value with shell characters stays one word.
            assert written.secret and written.content == b"FAKE_KEY='it'\"'\"'s secret'\n"
        else:
            assert parts.egress_routes == [route] and parts.env == {"FAKE_KEY": prov.PLACEHOLDER_TOKEN}
            assert parts.hidden_env_names == ["FAKE_KEY"] and parts.files == []
