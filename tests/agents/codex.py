"""Codex as the tests see it."""

from __future__ import annotations

import json
import re
import tomllib

from agents import GUEST_HOME, AgentDriver

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN


class Codex(AgentDriver):
    provider = "codex"
    config = ".codex/config.toml"
    api_host = "api.openai.com"
    token_prefix = "sk-proj-"
    ready = re.compile(r"\? for shortcuts")
    user_config = '# my codex settings\nmodel = "o3"  # keep\n\n[mcp_servers.mine]\ncommand = "my-mcp"\n'

    def parse(self, text):
        return tomllib.loads(text)

    def mcp_servers(self, text):
        return self.parse(text)["mcp_servers"]

    USER_SERVER = {"url": "http://mine"}

    def with_user_server(self, text):
        return text + '\n# mine\n[mcp_servers.mine]\nurl = "http://mine"\n'

    def user_server_kept(self, text):
        return "# mine" in text  # the user's comment survives too

    def tampered(self, text):
        return text.replace('trust_level = "trusted"', 'trust_level = "untrusted"')

    def owned_keys_hold(self, text):
        return self.parse(text)["projects"][GUEST_HOME]["trust_level"] == "trusted"

    takes_plugins = True

    def base_url(self, api_url):
        return f"{api_url}/v1"  # the Responses API path under the gateway

    def check_launch(self, launch, prompt_path):
        assert launch["interactive"][-1] == f"Read and follow the instructions in {prompt_path}."

    def check_user_config(self, text):
        assert text.startswith(self.user_config)
        assert self.parse(text)["projects"][GUEST_HOME]["trust_level"] == "trusted"

    def mcp_get_command(self, home, name="supervise"):
        # Reads the config without connecting (codex mcp list would probe OAuth discovery URLs).
        return f"HOME={home} CODEX_HOME={home}/.codex codex mcp get {name} --json"

    def mcp_readback(self, agent, url):
        assert agent.plan["guest_env"]["CODEX_HOME"] == f"{GUEST_HOME}/.codex"
        got = agent.run(self.mcp_get_command(GUEST_HOME), timeout=60)
        assert got.returncode == 0, got.stderr
        entry = json.loads(got.stdout)
        assert entry["enabled"] is True
        assert entry["transport"] == {**entry["transport"], "type": "streamable_http", "url": url,
                                      "bearer_token_env_var": None}

    def stdio_readback(self, agent, name, command):
        got = agent.run(self.mcp_get_command(GUEST_HOME, name), timeout=60)
        assert got.returncode == 0, got.stderr
        transport = json.loads(got.stdout)["transport"]
        assert (transport["type"], transport["command"]) == ("stdio", command), transport

    def tool_names(self, body, text):
        # Codex nests MCP tools in a namespace tool.
        names = super().tool_names(body, text)
        return names | {f"{tool.get('name')}__{sub.get('name')}" for tool in body.get("tools") or []
                        for sub in tool.get("tools") or []}

    def first_turn_is_the_prompt(self):
        return True  # "Read and follow the instructions in …" is its first message

    def auth_status(self, agent, mode):
        got = agent.run(agent.with_launcher_env("codex login status 2>&1"), timeout=60)
        # Without a credential codex keeps its placeholder key (it never logs out to a dialog).
        key = agent.real_token if mode == "real" else PLACEHOLDER_TOKEN
        assert got.returncode == 0 and key[:8] in got.stdout, got.stdout
        if mode != "none":
            assert "API key" in got.stdout, got.stdout


DRIVER = Codex()
