"""The provider registry, the back-compat helpers and prompt_args."""

from __future__ import annotations

import subprocess
import sys

import pytest
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import provider as prov
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
