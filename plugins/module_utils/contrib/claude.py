# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Claude Code (``@anthropic-ai/claude-code``)."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import (
    DEFAULT_OWNER,
    MERGE_JSON,
    PROMPT_APPEND_FILE,
    AgentProviderRuntime,
    AgentProvisionCommand,
    AgentProvisionDir,
    AgentProvisionFile,
    AgentProvisionPlan,
    EgressRoute,
    McpRegistration,
)
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import (
    DEFAULT_GUEST_HOME,
    DEFAULT_MCP_NAME,
    PLACEHOLDER_TOKEN,
    AgentProvider,
    PlanDraft,
    PlanRequest,
    ProvisionError,
    host_home,
    json_bytes,
    json_pointer,
    owner_check,
    read_json_file,
    secret_token_file,
)

TOKEN_ENV = "CLAUDE_CODE_OAUTH_TOKEN"
API_HOST = "api.anthropic.com"
ACCESS_TOKEN_POINTER = "/claudeAiOauth/accessToken"


class ClaudeProvider(AgentProvider):
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

    def build_plan(self, request: PlanRequest) -> PlanDraft:
        home = request.guest_home
        state = os.path.join(request.state_dir, "claude")
        host_files: dict[str, bytes] = {}
        files: list[AgentProvisionFile] = []

        def add(name: str, guest_path: str, data: bytes, **kwargs: t.Any) -> None:
            host_path = os.path.join(state, name)
            host_files[host_path] = data
            files.append(AgentProvisionFile(host_path=host_path, guest_path=guest_path, **kwargs))

        # Claude rewrites ~/.claude.json on every run: merge the keys we own, never replace.
        add("claude.json", f"{home}/.claude.json", json_bytes(_state_keys(request)), merge=MERGE_JSON)
        add(
            "settings.json",
            f"{home}/.claude/settings.json",
            json_bytes({"skipDangerousModePermissionPrompt": True}),
            merge=MERGE_JSON,
        )

        provisioned_env = {
            "HOME": home,
            # --dangerously-skip-permissions refuses root without it; the bottle is the sandbox.
            "IS_SANDBOX": "1",
            "DISABLE_AUTOUPDATER": "1",
        }
        hidden: list[str] = []
        routes: list[EgressRoute] = []
        env_files: list[str] = []
        if request.auth_token or request.forward_host_credentials:
            route, secret = _credential_route(request)
            if request.credentials_in_guest:
                env_path = f"{home}/.claude/bot-bottle-credentials.env"
                add("credentials.env", env_path, f"{TOKEN_ENV}={secret}\n".encode(), secret=True)
                env_files.append(env_path)
            else:
                provisioned_env[TOKEN_ENV] = PLACEHOLDER_TOKEN
                hidden.append(TOKEN_ENV)
                routes.append(route)
                if request.auth_token:
                    path, data = secret_token_file(request.state_dir, "claude-oauth-token", secret)
                    host_files[path] = data

        guest_env = {**provisioned_env, **request.guest_env}
        plan = AgentProvisionPlan(
            template=self.runtime.template,
            command=self.runtime.command,
            prompt_mode=self.runtime.prompt_mode,
            image=self.runtime.image,
            dockerfile=request.dockerfile,
            guest_home=home,
            skills_dir=self.skills_dir(home),
            workdir=request.trusted_project_path or home,
            guest_env=guest_env,
            env_vars=tuple(sorted(k for k in guest_env if k not in hidden)),
            env_files=tuple(env_files),
            dirs=(
                AgentProvisionDir(self.config_dir(home)),
                AgentProvisionDir(self.skills_dir(home)),
            ),
            files=tuple(files),
            pre_copy=(owner_check(DEFAULT_OWNER),),
            verify=(
                AgentProvisionCommand(
                    argv=("claude", "--version"),
                    error="the claude CLI does not run in the bottle: build it from the claude "
                    "image (runtime dockerfile) or install @anthropic-ai/claude-code on its PATH",
                ),
            ),
            egress_routes=tuple(routes),
            hidden_env_names=tuple(hidden),
            provisioned_env=provisioned_env,
            runtime=self.runtime,
        )
        return PlanDraft(plan, host_files)

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


def _credential_route(request: PlanRequest) -> tuple[EgressRoute, str]:
    """The egress route for the credential, and the secret itself (never put in the plan)."""
    if request.auth_token:
        path = secret_token_file(request.state_dir, "claude-oauth-token", request.auth_token)[0]
        route = EgressRoute(API_HOST, "Authorization", "file", path)
        return route, request.auth_token
    config_dir = request.host_env.get("CLAUDE_CONFIG_DIR") or os.path.join(
        host_home(request.host_env), ".claude"
    )
    path = os.path.join(config_dir, ".credentials.json")
    token = json_pointer(read_json_file("forward_host_credentials", path), ACCESS_TOKEN_POINTER)
    if not isinstance(token, str) or not token:
        raise ProvisionError(
            "forward_host_credentials",
            f"{path} has no claudeAiOauth.accessToken; run 'claude' on the host and log in",
        )
    route = EgressRoute(API_HOST, "Authorization", "json_file", path, ACCESS_TOKEN_POINTER)
    return route, token


PROVIDER = ClaudeProvider()
