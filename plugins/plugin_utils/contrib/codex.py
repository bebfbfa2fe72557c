# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenAI Codex CLI (``@openai/codex``)."""

from __future__ import annotations

import base64
import json
import os
import typing as t

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.plan import (
    MERGE_TOML,
    PROMPT_READ_FILE,
    AgentProviderRuntime,
    ConfigEntry,
    EgressRoute,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (
    PLACEHOLDER_TOKEN,
    AgentProvider,
    ProviderParts,
    controller_home,
    json_bytes,
    json_pointer,
    read_json_file,
    settings_bytes,
    stdio_mcp_entry,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import McpServer, ProvisionError, ProvisionRequest

API_HOST = "api.openai.com"
CHATGPT_HOST = "chatgpt.com"
# The model provider of config.toml that base_url defines.
MODEL_PROVIDER = "bot-bottle"
ACCESS_TOKEN_POINTER = "/tokens/access_token"
# Identity claims codex reads from the id_token; none of them grants access.
_ID_CLAIMS = ("email", "https://api.openai.com/auth", "exp", "iat")


class CodexProvider(AgentProvider):
    package = "@openai/codex"
    runtime = AgentProviderRuntime(
        provider="codex",
        command="codex",
        image="localhost/bot-bottle/codex:latest",
        dockerfile="codex.Dockerfile",
        prompt_mode=PROMPT_READ_FILE,
        bypass_args=("--dangerously-bypass-approvals-and-sandbox",),
        resume_args=("resume", "--last"),
        remote_control_args=(),
        headless_args=("exec",),
    )

    ca_env_names = ("CODEX_CA_CERTIFICATE",)
    credential_env_names = ("OPENAI_API_KEY",)
    context_file_name = "AGENTS.md"
    api_host = API_HOST

    def config_dir(self, guest_home: str) -> str:
        return f"{guest_home}/.codex"

    def settings_file(self, guest_home: str) -> tuple[str, str]:
        return f"{self.config_dir(guest_home)}/config.toml", MERGE_TOML

    def managed_settings_file(self) -> tuple[str, str]:
        # The managed layer over config.toml (codex calls it legacy; requirements.toml, its
        # constraints file, has another schema).
        return "/etc/codex/managed_config.toml", MERGE_TOML

    def add_parts(self, parts: ProviderParts) -> None:
        request = parts.request
        codex_home = self.config_dir(request.guest_home)
        # Codex keeps user settings in config.toml too: set our keys, keep the rest.
        parts.add_file(self.settings_file(request.guest_home)[0], _config_keys(request), merge=MERGE_TOML)
        auth, routes, secret = _auth(request)
        parts.add_file(f"{codex_home}/auth.json", json_bytes(auth), secret=secret)
        if request.auth_token and not request.credentials_in_guest:
            key_path = parts.add_controller_secret("codex-api-key", request.auth_token)
            routes = [EgressRoute(self.api_route_host(request), "Authorization", "file", key_path, "Bearer ")]
        parts.egress_routes.extend(routes)
        parts.env["CODEX_HOME"] = codex_home

    def add_base_url(self, parts: ProviderParts) -> None:
        """Codex takes another model API only as a model provider of its config (OPENAI_BASE_URL does not
        move its built-in one): ours, speaking the Responses API, with the key from auth.json."""
        request = parts.request
        if not request.base_url:
            return
        if request.forward_host_credentials:
            raise ProvisionError("base_url", "a forwarded ChatGPT login talks to chatgpt.com, not to a gateway; "
                                             "give the gateway's key as auth_token instead")
        keys = {"model_provider": MODEL_PROVIDER, "model_providers": {MODEL_PROVIDER: {
            "name": "bot_bottle.agents base_url", "base_url": request.base_url, "wire_api": "responses",
            "requires_openai_auth": True}}}
        parts.add_file(self.settings_file(request.guest_home)[0], _toml(keys), merge=MERGE_TOML)

    def add_plugins(self, parts: ProviderParts) -> dict[str, t.Any]:
        # Verified with 0.169.0: a plugin copied into the cache and enabled in config.toml is
        # effective from the first start (`codex plugin add` does the same, with network access).
        # The marketplace itself is known too, so `codex plugin list` shows it.
        request = parts.request
        if not request.plugins:
            return {}
        root = self.marketplaces_dir(request.guest_home)
        cache = f"{self.config_dir(request.guest_home)}/plugins/cache"
        parts.add_dir(root)
        parts.add_dir(cache.rsplit("/", 1)[0])
        parts.add_dir(cache)
        marketplaces: dict[str, t.Any] = {}
        plugins: dict[str, t.Any] = {}
        for marketplace in request.plugins:
            files = marketplace.files()
            parts.add_tree(f"{root}/{marketplace.name}", files)
            marketplaces[marketplace.name] = {"source_type": "local", "source": f"{root}/{marketplace.name}"}
            parts.add_dir(f"{cache}/{marketplace.name}")
            for plugin in marketplace.enabled:
                prefix = marketplace.plugins[plugin] + "/"
                parts.add_dir(f"{cache}/{marketplace.name}/{plugin}")
                # "local": the version directory codex itself uses for a plugin without a version.
                parts.add_tree(f"{cache}/{marketplace.name}/{plugin}/local",
                               {rel[len(prefix):]: data for rel, data in files.items() if rel.startswith(prefix)})
                plugins[f"{plugin}@{marketplace.name}"] = {"enabled": True}
        return {"marketplaces": marketplaces, "plugins": plugins}

    def mcp_entry(self, server: McpServer, guest_home: str, owner: str) -> ConfigEntry:
        path = f"{self.config_dir(guest_home)}/config.toml"
        if server.stdio:  # command, args and an [env] sub-table
            return ConfigEntry(path, "toml", ("mcp_servers", server.name), stdio_mcp_entry(server), owner)
        entry: dict[str, t.Any] = {"url": server.url}
        if server.bearer_token_env_var:
            entry["bearer_token_env_var"] = server.bearer_token_env_var
        if server.headers:
            entry["http_headers"] = dict(server.headers)
        return ConfigEntry(path, "toml", ("mcp_servers", server.name), entry, owner)


def _config_keys(request: ProvisionRequest) -> bytes:
    """The config.toml keys we own: no background daemon, and trust for the project."""
    # The interactive UI otherwise starts an app-server daemon that outlives it and keeps the
    # last thread open, so a later `codex exec resume --last` fails ("already has an active
    # writer"); a bottle runs one agent at a time and needs no daemon.
    keys: dict[str, t.Any] = {"features": {"daemon_auto_start": False}}
    if request.trusted_project_path:
        keys["projects"] = {request.trusted_project_path: {"trust_level": "trusted"}}
    if request.egress is not None:
        # Codex strips proxy and CA variables from the commands it runs unless told to keep them.
        keys["shell_environment_policy"] = {"inherit": "all"}
    return _toml(keys)


def _toml(keys: t.Mapping[str, t.Any]) -> bytes:
    return settings_bytes("provider", MERGE_TOML, keys)


def _auth(request: ProvisionRequest) -> tuple[dict[str, t.Any], list[EgressRoute], bool]:
    """auth.json for the bottle, the egress routes, and whether auth.json holds a secret."""
    if request.forward_host_credentials:
        path = os.path.join(
            request.controller_env.get("CODEX_HOME") or os.path.join(controller_home(request.controller_env), ".codex"),
            "auth.json",
        )
        host_auth = read_json_file("forward_host_credentials", path)
        if not isinstance(json_pointer(host_auth, ACCESS_TOKEN_POINTER), str):
            raise ProvisionError(
                "forward_host_credentials",
                f"{path} has no ChatGPT tokens.access_token; run 'codex login' on the controller",
            )
        if request.credentials_in_guest:
            return host_auth, [], True
        routes = [
            EgressRoute(host, "Authorization", "json_file", path, "Bearer ", ACCESS_TOKEN_POINTER, tls_passthrough=True)
            for host in (API_HOST, CHATGPT_HOST)
        ]
        return _chatgpt_placeholder(host_auth), routes, False
    if request.auth_token and request.credentials_in_guest:
        return {"auth_mode": "apikey", "OPENAI_API_KEY": request.auth_token}, [], True
    # With auth_token, add_parts routes api.openai.com to the controller-held key.
    return {"auth_mode": "apikey", "OPENAI_API_KEY": PLACEHOLDER_TOKEN}, [], False


def _chatgpt_placeholder(host_auth: dict[str, t.Any]) -> dict[str, t.Any]:
    """ChatGPT-mode auth.json with the host's identity but no usable token."""
    tokens = host_auth.get("tokens") or {}
    return {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": _placeholder_jwt(_jwt_claims(tokens.get("id_token"))),
            "access_token": PLACEHOLDER_TOKEN,
            "refresh_token": PLACEHOLDER_TOKEN,
            "account_id": tokens.get("account_id"),
        },
        "last_refresh": host_auth.get("last_refresh"),
    }


def _jwt_claims(token: t.Any) -> dict[str, t.Any]:
    try:
        payload = str(token).split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return {k: claims[k] for k in _ID_CLAIMS if isinstance(claims, dict) and k in claims}


def _placeholder_jwt(claims: dict[str, t.Any]) -> str:
    def part(data: dict[str, t.Any]) -> str:
        raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{PLACEHOLDER_TOKEN}"


PROVIDER = CodexProvider()
