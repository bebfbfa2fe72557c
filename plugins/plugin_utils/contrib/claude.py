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

    name: str  # names the controller secret file
    env: str  # "": the CLI reads none (the proxy alone adds the header)
    header: str
    value_prefix: str


# An OAuth token (a Claude subscription login) and an Anthropic API key travel differently.
OAUTH = Credential("oauth-token", "CLAUDE_CODE_OAUTH_TOKEN", "Authorization", "Bearer ")
API_KEY = Credential("api-key", "ANTHROPIC_API_KEY", "x-api-key", "")
# The cloud platforms (agent_platform): a Bedrock API key is a bearer token the CLI sends itself
# instead of signing; for Vertex the CLI skips its own Google auth and the proxy adds the token.
BEDROCK_KEY = Credential("bedrock-api-key", "AWS_BEARER_TOKEN_BEDROCK", "Authorization", "Bearer ")
VERTEX_TOKEN = Credential("vertex-token", "", "Authorization", "Bearer ")
BASE_URL_ENV = {"": "ANTHROPIC_BASE_URL", "bedrock": "ANTHROPIC_BEDROCK_BASE_URL", "vertex": "ANTHROPIC_VERTEX_BASE_URL"}


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
            path = parts.add_controller_secret(f"claude-{credential.name}", secret)
            return EgressRoute(host, credential.header, "file", path, credential.value_prefix)

        if credential is VERTEX_TOKEN:
            parts.egress_routes.append(route())
            return
        parts.add_env_credential(credential.env, secret, f"{home}/.claude/bot-bottle-credentials.env", route)

    def add_platform(self, parts: ProviderParts) -> None:
        request, platform = parts.request, parts.request.platform
        if platform is None:
            return
        if request.forward_host_credentials:
            raise ProvisionError("forward_host_credentials", f"a Claude login is for Anthropic's API, not {platform.name}; "
                                                             "give the platform's credential as auth_token")
        if platform.name == "bedrock":
            parts.env.update(CLAUDE_CODE_USE_BEDROCK="1", AWS_REGION=platform.region)
            return
        if request.credentials_in_guest:
            raise ProvisionError("credentials_in_guest", "Claude on Vertex takes Google credentials from a file in "
                                                         "the bottle (GOOGLE_APPLICATION_CREDENTIALS in guest_env), "
                                                         "not from auth_token")
        parts.env.update(CLAUDE_CODE_USE_VERTEX="1", CLOUD_ML_REGION=platform.region,
                         ANTHROPIC_VERTEX_PROJECT_ID=platform.project)
        if request.auth_token:  # the egress proxy adds the token: no Google auth in the bottle
            parts.env["CLAUDE_CODE_SKIP_VERTEX_AUTH"] = "1"

    def default_api_host(self, request: ProvisionRequest) -> str:
        platform = request.platform
        if platform is None:
            return API_HOST
        if platform.name == "bedrock":
            return f"bedrock-runtime.{platform.region}.amazonaws.com"
        return "aiplatform.googleapis.com" if platform.region == "global" else f"{platform.region}-aiplatform.googleapis.com"

    def add_base_url(self, parts: ProviderParts) -> None:
        request = parts.request
        if request.base_url:
            parts.env[BASE_URL_ENV[request.platform.name if request.platform else ""]] = request.base_url

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
    """The platform's credential; else an API key (``sk-ant-api…``, or auth_kind=api_key) or an OAuth token."""
    if request.platform is not None:
        return BEDROCK_KEY if request.platform.name == "bedrock" else VERTEX_TOKEN
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
