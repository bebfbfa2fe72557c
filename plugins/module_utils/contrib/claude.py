# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claude Code (``@anthropic-ai/claude-code``)."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import (
    MERGE_JSON,
    PROMPT_APPEND_FILE,
    AgentProviderRuntime,
    EgressRoute,
    McpRegistration,
)
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import (
    DEFAULT_GUEST_HOME,
    DEFAULT_MCP_NAME,
    PLACEHOLDER_TOKEN,
    AgentProvider,
    PlanParts,
    PlanRequest,
    ProvisionError,
    host_home,
    json_bytes,
    json_pointer,
    read_json_file,
)

TOKEN_ENV = "CLAUDE_CODE_OAUTH_TOKEN"
API_HOST = "api.anthropic.com"
ACCESS_TOKEN_POINTER = "/claudeAiOauth/accessToken"


class ClaudeProvider(AgentProvider):
    package = "@anthropic-ai/claude-code"
    runtime = AgentProviderRuntime(
        template="claude",
        command="claude",
        image="localhost/bot-bottle/claude:latest",
        dockerfile="claude.Dockerfile",
        prompt_mode=PROMPT_APPEND_FILE,
        bypass_args=("--dangerously-skip-permissions",),
        resume_args=("--continue",),
        remote_control_args=("--remote-control",),
        headless_args=("-p",),
    )

    def config_dir(self, guest_home: str) -> str:
        return f"{guest_home}/.claude"

    def add_parts(self, parts: PlanParts) -> None:
        request = parts.request
        home = request.guest_home
        # Claude rewrites ~/.claude.json on every run: merge the keys we own, never replace.
        parts.add_file("claude.json", f"{home}/.claude.json", json_bytes(_state_keys(request)), merge=MERGE_JSON)
        parts.add_file(
            "settings.json",
            f"{home}/.claude/settings.json",
            json_bytes({"skipDangerousModePermissionPrompt": True}),
            merge=MERGE_JSON,
        )
        # --dangerously-skip-permissions refuses root without IS_SANDBOX; the bottle is the sandbox.
        parts.provisioned_env.update(IS_SANDBOX="1", DISABLE_AUTOUPDATER="1")
        if request.auth_token:
            secret, login_path = request.auth_token, ""
        elif request.forward_host_credentials:
            login_path, secret = _host_login(request)
        else:
            return
        if request.credentials_in_guest:
            env_path = f"{home}/.claude/bot-bottle-credentials.env"
            parts.add_file("credentials.env", env_path, f"{TOKEN_ENV}={secret}\n".encode(), secret=True)
            parts.env_files.append(env_path)
            return
        parts.provisioned_env[TOKEN_ENV] = PLACEHOLDER_TOKEN
        parts.hidden_env_names.append(TOKEN_ENV)
        if login_path:
            route = EgressRoute(API_HOST, "Authorization", "json_file", login_path, ACCESS_TOKEN_POINTER)
        else:
            route = EgressRoute(API_HOST, "Authorization", "file", parts.add_controller_secret("claude-oauth-token", secret))
        parts.egress_routes.append(route)

    def supervise_mcp(
        self,
        url: str,
        guest_home: str = DEFAULT_GUEST_HOME,
        name: str = DEFAULT_MCP_NAME,
        headers: t.Mapping[str, str] | None = None,
        bearer_token_env_var: str = "",
    ) -> McpRegistration:
        all_headers = dict(headers or {})
        if bearer_token_env_var:
            # Claude expands ${VAR} in headers when it connects.
            all_headers["Authorization"] = f"Bearer ${{{bearer_token_env_var}}}"
        entry: dict[str, t.Any] = {"type": "http", "url": url}
        if all_headers:
            entry["headers"] = all_headers
        return McpRegistration(
            config_path=f"{guest_home}/.claude.json",
            format="json",
            key_path=("mcpServers", name),
            entry=entry,
        )


def _state_keys(request: PlanRequest) -> dict[str, t.Any]:
    """The keys of ~/.claude.json we own: no onboarding, no trust dialog for the project."""
    keys: dict[str, t.Any] = {"hasCompletedOnboarding": True}
    if request.trusted_project_path:
        keys["projects"] = {request.trusted_project_path: {"hasTrustDialogAccepted": True}}
    return keys


def _host_login(request: PlanRequest) -> tuple[str, str]:
    """The host's Claude login file and its access token (never put in the plan)."""
    config_dir = request.host_env.get("CLAUDE_CONFIG_DIR") or os.path.join(host_home(request.host_env), ".claude")
    path = os.path.join(config_dir, ".credentials.json")
    token = json_pointer(read_json_file("forward_host_credentials", path), ACCESS_TOKEN_POINTER)
    if not isinstance(token, str) or not token:
        raise ProvisionError(
            "forward_host_credentials",
            f"{path} has no claudeAiOauth.accessToken; run 'claude' on the host and log in",
        )
    return path, token


PROVIDER = ClaudeProvider()
