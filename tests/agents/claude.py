"""Claude Code as the tests see it."""

from __future__ import annotations

import json
import re

from agents import GUEST_HOME, AgentDriver

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN


class Claude(AgentDriver):
    provider = "claude"
    config = ".claude.json"
    api_host = "api.anthropic.com"
    token_prefix = "sk-ant-oat01-"
    ready = re.compile(r"bypass permissions on")
    user_config = json.dumps({"theme": "dark", "mcpServers": {"mine": {"type": "stdio", "command": "my-mcp"}},
                              "projects": {"/srv/app": {"allowedTools": ["Bash"]}}}, indent=2)

    def tampered(self, text):
        return json.dumps({**json.loads(text), "hasCompletedOnboarding": False})

    def owned_keys_hold(self, text):
        return json.loads(text).get("hasCompletedOnboarding") is True

    def check_launch(self, launch, prompt_path):
        assert launch["interactive"][-2:] == ["--append-system-prompt-file", prompt_path]

    def check_mcp_entry(self, entry, url):
        assert entry["url"] == url and entry["type"] == "http", entry

    def check_user_config(self, text):
        data, user = json.loads(text), json.loads(self.user_config)
        assert data["theme"] == "dark"
        assert data["mcpServers"]["mine"] == user["mcpServers"]["mine"]
        assert data["projects"]["/srv/app"] == user["projects"]["/srv/app"]
        assert data["projects"][GUEST_HOME]["hasTrustDialogAccepted"] is True

    def mcp_get_command(self, home, name="supervise"):
        # claude mcp get connects to the server (starts a stdio one); MCP_TIMEOUT bounds a hang.
        return f"HOME={home} MCP_TIMEOUT=10000 claude mcp get {name}"

    def mcp_readback(self, agent, url):
        super().mcp_readback(agent, url)
        assert "Connected" in agent.run(self.mcp_get_command(GUEST_HOME), timeout=60).stdout
        assert {"initialize", "tools/list"} <= set(agent.services.mcp.methods())

    def stdio_readback(self, agent, name, command):
        super().stdio_readback(agent, name, command)
        got = agent.run(f"cd {GUEST_HOME} && {self.mcp_get_command(GUEST_HOME, name)}", timeout=60).stdout
        assert "Type: stdio" in got and "Connected" in got, got

    # Verified: a managed deny removes the tool from those offered, also with user settings that
    # allow it and under --dangerously-skip-permissions.
    takes_plugins = True
    denied_tool = ({"permissions": {"deny": ["Bash"]}}, {"permissions": {"allow": ["Bash"]}}, "Bash")

    def tool_names(self, body, text):
        # Claude may defer MCP tools: then they are only named in the system text.
        return super().tool_names(body, text) | set(re.findall(r"mcp__\w+", text))

    def auth_status(self, agent, mode):
        got = agent.run(agent.with_launcher_env("claude auth status"), timeout=60)
        status = json.loads(got.stdout)
        token = agent.env("CLAUDE_CODE_OAUTH_TOKEN")
        if mode == "none":
            assert got.returncode == 1 and status["loggedIn"] is False and token == "", got.stdout
            return
        assert got.returncode == 0 and status["loggedIn"] is True, got.stdout
        assert status["authMethod"] == "oauth_token"
        assert token == (PLACEHOLDER_TOKEN if mode == "placeholder" else agent.real_token)


DRIVER = Claude()
