"""What each provider's real CLI looks like to the tests: one file per provider, found by its name.

The tests iterate over the collection's provider registry (``PROVIDERS``); what they need to know
about a CLI that the collection does not (how to read its MCP config back, what its ready screen
shows, how it reports its login, how it names a tool) lives in ``tests/agents/<provider>.py``. A
provider without such a file fails its tests with the name of the file to add.
"""

from __future__ import annotations

import importlib
import json
import re
import typing as t

import pytest

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import known_providers

PROVIDERS: list[str] = known_providers()
GUEST_HOME = "/home/node"


class AgentDriver:
    """The defaults fit a CLI with a JSON config and ``Authorization: Bearer`` credentials."""

    provider: str
    # The file (under the bottle user's home) holding the MCP entries; JSON unless parse() is overridden.
    config: str
    # What the interactive UI shows once it waits for input.
    ready: re.Pattern
    # The request header the CLI puts its credential in, and the API host the egress proxy routes.
    credential_header = "authorization"
    api_host: str
    # How the provider's real credentials start (a test credential gets it, so auto-detection sees a real one).
    token_prefix = ""
    # A user's own config, seeded before provisioning; check_user_config asserts it survived.
    user_config = ""

    @property
    def config_path(self) -> str:
        return f"{GUEST_HOME}/{self.config}"

    def parse(self, text: str) -> dict[str, t.Any]:
        return json.loads(text)

    def mcp_servers(self, text: str) -> dict[str, t.Any]:
        return self.parse(text)["mcpServers"]

    def mcp_entry(self, text: str, name: str = "supervise") -> dict[str, t.Any]:
        return self.mcp_servers(text)[name]

    # A user's own MCP server (as the config holds it, parsed) and a key of theirs beside it.
    USER_SERVER: t.ClassVar[dict[str, t.Any]] = {"type": "http", "url": "http://mine"}

    def with_user_server(self, text: str) -> str:
        data = self.parse(text)
        data.setdefault("mcpServers", {})["mine"] = self.USER_SERVER
        data["bbtUserKey"] = "kept"
        return json.dumps(data, indent=2)

    def user_server_kept(self, text: str) -> bool:
        return self.parse(text).get("bbtUserKey") == "kept"

    def tampered(self, text: str) -> str:
        """The config with one key the collection owns changed by hand."""
        raise NotImplementedError

    def owned_keys_hold(self, text: str) -> bool:
        """Whether the key ``tampered`` changes has the collection's value."""
        raise NotImplementedError

    def credential(self, headers: t.Mapping[str, str]) -> str:
        return headers.get(self.credential_header, "").removeprefix("Bearer ")

    def base_url(self, api_url: str) -> str:
        """The agent_base_url that points the CLI at a fake model API served at ``api_url``."""
        return api_url

    def check_launch(self, launch: t.Mapping[str, list[str]], prompt_path: str) -> None:
        """How the launcher hands the agent its prompt."""

    def check_mcp_entry(self, entry: t.Mapping[str, t.Any], url: str) -> None:
        assert entry["url"] == url, entry

    def check_user_config(self, text: str) -> None:
        """The user's own config survived provisioning."""

    def mcp_get_command(self, home: str, name: str = "supervise") -> str:
        """Shell command: the real CLI, as the bottle user with ``home``, prints the server's entry (URL included)."""
        raise NotImplementedError

    def mcp_readback(self, agent: t.Any, url: str) -> None:
        """The real CLI reads the registered server back (and may connect to it)."""
        got = agent.run(self.mcp_get_command(GUEST_HOME), timeout=60)
        assert got.returncode == 0 and url in got.stdout, got.stdout + got.stderr

    # Whether the CLI takes plugins from a marketplace directory (agent_plugins).
    takes_plugins = False
    # A built-in tool a managed policy can take away: (the policy, user settings that allow the tool,
    # the tool's name in a request), or None when the CLI's managed settings cannot.
    denied_tool: t.ClassVar[tuple[dict[str, t.Any], dict[str, t.Any], str] | None] = None

    def model_settings(self, name: str) -> dict[str, t.Any]:
        """Settings (user or managed) that choose the model ``name``."""
        return {"model": name}

    def request_model(self, turn: t.Any) -> str:
        """The model a recorded model request asks for."""
        return turn.json().get("model", "")

    def tool_names(self, body: t.Mapping[str, t.Any], text: str) -> set[str]:
        """Tool names a model request offers (``text``: every string in it)."""
        return {tool.get("name", "") for tool in body.get("tools") or []}

    def lists_skill(self, text: str, name: str, description: str) -> bool:
        """Whether the request text lists the skill to the model."""
        return f"{name}: {description}" in text

    def mcp_tool(self, server: str, tool: str) -> str:
        """How the CLI names an MCP server's tool to the model."""
        return f"mcp__{server}__{tool}"

    def stdio_readback(self, agent: t.Any, name: str, command: str) -> None:
        """The real CLI shows the stdio server ``name`` running ``command`` (and may start it)."""
        got = agent.run(f"cd {GUEST_HOME} && {self.mcp_get_command(GUEST_HOME, name)}", timeout=60)
        assert got.returncode == 0 and command in got.stdout, got.stdout + got.stderr

    def first_turn_is_the_prompt(self) -> bool:
        """Whether the interactive start sends the prompt as a first turn (ready only after its reply)."""
        return False

    def auth_status(self, agent: t.Any, mode: str) -> None:
        """The CLI's own login check in the launcher's env: ``placeholder``, ``none`` or ``real`` credential."""
        raise NotImplementedError


def driver(provider: str) -> AgentDriver:
    try:
        module = importlib.import_module(f"agents.{provider}")
    except ModuleNotFoundError:
        pytest.fail(f"provider {provider!r} has no test driver: add tests/agents/{provider}.py (see tests/agents/__init__.py)")
    return module.DRIVER
