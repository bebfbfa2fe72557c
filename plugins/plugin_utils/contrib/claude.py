# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claude Code (``@anthropic-ai/claude-code``)."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.plan import (
    MERGE_JSON,
    PROMPT_APPEND_FILE,
    AgentProviderRuntime,
    ConfigEntry,
    EgressRoute,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (
    PLACEHOLDER_TOKEN,
    AgentProvider,
    ProviderParts,
    controller_home,
    http_mcp_entry,
    json_bytes,
    json_pointer,
    read_json_file,
    stdio_mcp_entry,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import McpServer, ProvisionError, ProvisionRequest

API_HOST = "api.anthropic.com"
ACCESS_TOKEN_POINTER = "/claudeAiOauth/accessToken"
API_KEY_PREFIX = "sk-ant-api"


class Credential(t.NamedTuple):
    """How Claude Code sends one kind of credential: from which env var, in which header."""

    env: str
    header: str
    value_prefix: str


# An OAuth token (a Claude subscription login) and an Anthropic API key travel differently.
OAUTH = Credential("CLAUDE_CODE_OAUTH_TOKEN", "Authorization", "Bearer ")
API_KEY = Credential("ANTHROPIC_API_KEY", "x-api-key", "")


class ClaudeProvider(AgentProvider):
    package = "@anthropic-ai/claude-code"
    runtime = AgentProviderRuntime(
        provider="claude",
        command="claude",
        image="localhost/bot-bottle/claude:latest",
        dockerfile="claude.Dockerfile",
        prompt_mode=PROMPT_APPEND_FILE,
        bypass_args=("--dangerously-skip-permissions",),
        resume_args=("--continue",),
        remote_control_args=("--remote-control",),
        headless_args=("-p",),
    )

    ca_env_names = ("NODE_EXTRA_CA_CERTS",)
    credential_env_names = ("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
    context_file_name = "CLAUDE.md"
    api_host = API_HOST
    base_url_env = "ANTHROPIC_BASE_URL"

    def config_dir(self, guest_home: str) -> str:
        return f"{guest_home}/.claude"

    def settings_file(self, guest_home: str) -> tuple[str, str]:
        return f"{self.config_dir(guest_home)}/settings.json", MERGE_JSON

    def managed_settings_file(self) -> tuple[str, str]:
        # Root-owned: it wins over every user setting, also under --dangerously-skip-permissions.
        return "/etc/claude-code/managed-settings.json", MERGE_JSON

    def add_parts(self, parts: ProviderParts) -> None:
        request = parts.request
        home = request.guest_home
        credential = _credential_kind(request)
        # Claude rewrites ~/.claude.json on every run: merge the keys we own, never replace.
        parts.add_file(f"{home}/.claude.json", json_bytes(_state_keys(request, credential)), merge=MERGE_JSON)
        parts.add_file(self.settings_file(home)[0], json_bytes({"skipDangerousModePermissionPrompt": True}),
                       merge=MERGE_JSON)
        # --dangerously-skip-permissions refuses root without IS_SANDBOX; the bottle is the sandbox.
        parts.env.update(IS_SANDBOX="1", DISABLE_AUTOUPDATER="1")
        if request.auth_token:
            secret, login_path = request.auth_token, ""
        elif request.forward_host_credentials:
            login_path, secret = _controller_login(request)
        else:
            return

        host = self.api_route_host(request)

        def route() -> EgressRoute:
            if login_path:  # the proxy reads the controller user's own login file, fresh each time
                return EgressRoute(host, OAUTH.header, "json_file", login_path, OAUTH.value_prefix,
                                   ACCESS_TOKEN_POINTER)
            path = parts.add_controller_secret(f"claude-{'api-key' if credential is API_KEY else 'oauth-token'}", secret)
            return EgressRoute(host, credential.header, "file", path, credential.value_prefix)

        parts.add_env_credential(credential.env, secret, f"{home}/.claude/bot-bottle-credentials.env", route)

    def add_plugins(self, parts: ProviderParts) -> dict[str, t.Any]:
        # Verified with 2.1.332: a known marketplace of "directory" source plus enabledPlugins is
        # effective from the first start; the plugins are read in place (no cache copy).
        request = parts.request
        if not request.plugins:
            return {}
        root = self.marketplaces_dir(request.guest_home)
        parts.add_dir(root)
        known: dict[str, t.Any] = {}
        enabled: dict[str, bool] = {}
        for marketplace in request.plugins:
            parts.add_tree(f"{root}/{marketplace.name}", marketplace.files())
            known[marketplace.name] = {"source": {"source": "directory", "path": f"{root}/{marketplace.name}"}}
            enabled.update({f"{plugin}@{marketplace.name}": True for plugin in marketplace.enabled})
        return {"extraKnownMarketplaces": known, "enabledPlugins": enabled}

    def mcp_entry(self, server: McpServer, guest_home: str, owner: str) -> ConfigEntry:
        # Claude expands ${VAR} in header values when it connects.
        entry = {"type": "stdio", **stdio_mcp_entry(server)} if server.stdio else http_mcp_entry(server)
        return ConfigEntry(f"{guest_home}/.claude.json", "json", ("mcpServers", server.name), entry, owner)


def _credential_kind(request: ProvisionRequest) -> Credential:
    """An API key (``sk-ant-api…``, or auth_kind=api_key) or else an OAuth token."""
    if request.auth_kind == "api_key":
        return API_KEY
    if request.auth_kind == "auto" and request.auth_token.startswith(API_KEY_PREFIX):
        return API_KEY
    return OAUTH


def _state_keys(request: ProvisionRequest, credential: Credential) -> dict[str, t.Any]:
    """The keys of ~/.claude.json we own: no onboarding, no trust dialog for the project, and
    (API key) no "use this key?" dialog for the key the bottle holds."""
    keys: dict[str, t.Any] = {"hasCompletedOnboarding": True}
    if request.trusted_project_path:
        keys["projects"] = {request.trusted_project_path: {"hasTrustDialogAccepted": True}}
    if credential is API_KEY and request.auth_token:
        held = request.auth_token if request.credentials_in_guest else PLACEHOLDER_TOKEN
        # Claude remembers an approved key by its last 20 characters.
        keys["customApiKeyResponses"] = {"approved": [held[-20:]], "rejected": []}
    return keys


def _controller_login(request: ProvisionRequest) -> tuple[str, str]:
    """The controller user's Claude login file and its access token (never put in the plan)."""
    env = request.controller_env
    config_dir = env.get("CLAUDE_CONFIG_DIR") or os.path.join(controller_home(env), ".claude")
    path = os.path.join(config_dir, ".credentials.json")
    token = json_pointer(read_json_file("forward_host_credentials", path), ACCESS_TOKEN_POINTER)
    if not isinstance(token, str) or not token:
        raise ProvisionError(
            "forward_host_credentials",
            f"{path} has no claudeAiOauth.accessToken; run 'claude' on the controller and log in",
        )
    return path, token


PROVIDER = ClaudeProvider()
