"""Gemini CLI as the tests see it."""

from __future__ import annotations

import json
import re

from agents import GUEST_HOME, AgentDriver

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN


class Gemini(AgentDriver):
    provider = "gemini"
    config = ".gemini/settings.json"
    api_host = "generativelanguage.googleapis.com"
    credential_header = "x-goog-api-key"
    token_prefix = "AIza"
    ready = re.compile(r"Type your message")
    user_config = json.dumps({"ui": {"theme": "GitHub"}, "mcpServers": {"mine": {"command": "my-mcp"}}}, indent=2)

    def tampered(self, text):
        data = json.loads(text)
        data["security"]["auth"]["selectedType"] = "oauth-personal"
        return json.dumps(data)

    def owned_keys_hold(self, text):
        return json.loads(text)["security"]["auth"]["selectedType"] == "gemini-api-key"

    def check_launch(self, launch, prompt_path):
        # The prompt is an extension's context file: nothing on the command line names it.
        assert launch["interactive"][:2] == ["gemini", "--yolo"], launch
        assert not any(prompt_path in arg for arg in launch["interactive"]), launch

    def check_mcp_entry(self, entry, url):
        assert entry["url"] == url and entry["type"] == "http", entry

    def check_user_config(self, text):
        data = json.loads(text)
        assert data["ui"] == {"theme": "GitHub"} and data["mcpServers"]["mine"] == {"command": "my-mcp"}, data
        assert data["security"]["auth"]["selectedType"] == "gemini-api-key"

    def mcp_get_command(self, home, name="supervise"):
        # gemini mcp list connects to each server (starts a stdio one) and prints to stderr.
        return f"HOME={home} gemini mcp list 2>&1"

    def mcp_readback(self, agent, url):
        # From the trusted folder: elsewhere the CLI disables every server.
        got = agent.run(f"cd {GUEST_HOME} && {self.mcp_get_command(GUEST_HOME)}", timeout=60)
        assert got.returncode == 0 and f"supervise: {url} (http) - Connected" in got.stdout, got.stdout
        # mcp list connects (initialize, then a ping), it does not list tools.
        assert "initialize" in agent.services.mcp.methods()

    denied_tool = ({"tools": {"exclude": ["run_shell_command"]}}, {"tools": {"allowed": ["run_shell_command"]}},
                   "run_shell_command")

    def model_settings(self, name):
        return {"model": {"name": name}}

    def request_model(self, turn):
        # The model is in the path: /v1beta/models/<model>:streamGenerateContent
        return turn.path.split("?")[0].rsplit("/", 1)[-1].partition(":")[0]

    def tool_names(self, body, text):
        return {declaration.get("name", "") for tool in body.get("tools") or []
                for declaration in tool.get("functionDeclarations") or []}

    def lists_skill(self, text, name, description):
        return f"<name>{name}</name>\n    <description>{description}</description>" in text

    def mcp_tool(self, server, tool):
        return f"mcp_{server}_{tool}"

    def stdio_readback(self, agent, name, command):
        got = agent.run(f"cd {GUEST_HOME} && {self.mcp_get_command(GUEST_HOME, name)}", timeout=60)
        assert re.search(rf"{name}: {re.escape(command)} .*\(stdio\) - Connected", got.stdout), got.stdout

    def auth_status(self, agent, mode):
        # The CLI has no login status command: the key it would send is the launcher's GEMINI_API_KEY
        # (unset without a credential, like claude's: the CLI then says so instead of sending a placeholder).
        expected = {"placeholder": PLACEHOLDER_TOKEN, "real": agent.real_token, "none": ""}[mode]
        assert agent.env("GEMINI_API_KEY") == expected


DRIVER = Gemini()
