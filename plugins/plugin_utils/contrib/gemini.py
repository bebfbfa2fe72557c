# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Google Gemini CLI (``@google/gemini-cli``), with a Gemini API key.

The prompt reaches the agent as the context file of a Gemini extension of ours
(``~/.gemini/extensions/bot-bottle/``): the user's own ``~/.gemini/GEMINI.md`` is never touched,
and ``GEMINI_SYSTEM_MD`` (which replaces the whole system prompt, skills list included) is avoided.
"""

from __future__ import annotations

import typing as t

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.plan import (
    MERGE_JSON,
    MESSAGE,
    PROMPT_CONTEXT_FILE,
    AgentProviderRuntime,
    ConfigEntry,
    EgressRoute,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (
    AgentProvider,
    ProviderParts,
    http_mcp_entry,
    json_bytes,
    stdio_mcp_entry,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import McpServer, ProvisionError, ProvisionRequest

API_HOST = "generativelanguage.googleapis.com"
# The Gemini CLI sends GEMINI_API_KEY in x-goog-api-key, bare (no "Bearer ", no Authorization).
API_KEY_ENV = "GEMINI_API_KEY"
API_KEY_HEADER = "x-goog-api-key"
# The keys of settings.json we own. API-key auth with no dialog, whatever else the env says
# (GOOGLE_GEMINI_BASE_URL alone makes the CLI pick "gateway" auth, and a headless run fails);
# no update checks or usage statistics from a bottle whose only way out is the egress proxy.
SETTINGS_KEYS: t.Mapping[str, t.Any] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "privacy": {"usageStatisticsEnabled": False},
}
TRUST_FOLDER = "TRUST_FOLDER"

EXTENSION = "bot-bottle"
# The CLI refuses an extension manifest without a version; the prompt lives in the context
# file, so the manifest never changes.
EXTENSION_MANIFEST = {"name": EXTENSION, "version": "1.0.0", "contextFileName": "prompt.md"}


class GeminiProvider(AgentProvider):
    package = "@google/gemini-cli"
    runtime = AgentProviderRuntime(
        provider="gemini",
        command="gemini",
        image="localhost/bot-bottle/gemini:latest",
        dockerfile="gemini.Dockerfile",
        prompt_mode=PROMPT_CONTEXT_FILE,
        bypass_args=("--yolo",),
        resume_args=("--resume", "latest"),
        remote_control_args=(),
        # -p takes the message as its value.
        headless_args=("-p", MESSAGE),
    )

    # Node: the egress proxy's CA is added to the bundled roots, not a replacement of them.
    ca_env_names = ("NODE_EXTRA_CA_CERTS",)
    credential_env_names = (API_KEY_ENV,)
    context_file_name = "GEMINI.md"
    api_host = API_HOST
    base_url_env = "GOOGLE_GEMINI_BASE_URL"

    def config_dir(self, guest_home: str) -> str:
        return f"{guest_home}/.gemini"

    def settings_file(self, guest_home: str) -> tuple[str, str]:
        return f"{self.config_dir(guest_home)}/settings.json", MERGE_JSON

    def managed_settings_file(self) -> tuple[str, str]:
        # The system settings file: it overrides the user's and the workspace's settings.
        return "/etc/gemini-cli/settings.json", MERGE_JSON

    def extension_dir(self, guest_home: str) -> str:
        return f"{self.config_dir(guest_home)}/extensions/{EXTENSION}"

    def prompt_path(self, guest_home: str) -> str:
        # The CLI reads an extension's context file only from inside the extension's directory.
        return f"{self.extension_dir(guest_home)}/{EXTENSION_MANIFEST['contextFileName']}"

    def add_parts(self, parts: ProviderParts) -> None:
        request = parts.request
        gemini_home = self.config_dir(request.guest_home)
        _refuse_unsupported_credentials(request)
        # The user's own settings (theme, model, their MCP servers) stay: merge the keys we own.
        parts.add_file(self.settings_file(request.guest_home)[0], json_bytes(SETTINGS_KEYS), merge=MERGE_JSON)
        # An untrusted folder stops a headless run (exit 55), asks in an interactive one and
        # disables MCP servers: trust where the launcher starts. Merged: the user's stay trusted.
        parts.add_file(f"{gemini_home}/trustedFolders.json", json_bytes({request.workdir: TRUST_FOLDER}),
                       merge=MERGE_JSON)
        # Our extension (the prompt is its context file, placed by the base): always there, so a
        # prompt removed later leaves an empty context file, not a stale one.
        extension = self.extension_dir(request.guest_home)
        parts.add_dir(extension.rsplit("/", 1)[0])
        parts.add_dir(extension)
        parts.add_file(f"{extension}/gemini-extension.json", json_bytes(EXTENSION_MANIFEST))
        if request.auth_token:
            parts.add_env_credential(API_KEY_ENV, request.auth_token, f"{gemini_home}/bot-bottle-credentials.env",
                                     lambda: _api_key_route(parts, self.api_route_host(request), request.auth_token))

    def mcp_entry(self, server: McpServer, guest_home: str, owner: str) -> ConfigEntry:
        # The CLI expands ${VAR} in every settings.json string when it loads the file; a stdio
        # server is told apart by its command.
        entry = stdio_mcp_entry(server) if server.stdio else http_mcp_entry(server)
        return ConfigEntry(f"{self.config_dir(guest_home)}/settings.json", "json", ("mcpServers", server.name),
                           entry, owner)


def _api_key_route(parts: ProviderParts, host: str, key: str) -> EgressRoute:
    return EgressRoute(host, API_KEY_HEADER, "file", parts.add_controller_secret("gemini-api-key", key),
                       value_prefix="")


def _refuse_unsupported_credentials(request: ProvisionRequest) -> None:
    """Only a Gemini API key can be routed honestly; say what to use instead of anything else."""
    if request.forward_host_credentials:
        raise ProvisionError(
            "forward_host_credentials",
            "the Gemini CLI's own login is Google OAuth (~/.gemini/oauth_creds.json) for the Code Assist API "
            "(cloudcode-pa.googleapis.com), not the API-key route to generativelanguage.googleapis.com this "
            "provider sets up; set it to false and pass a Gemini API key as auth_token",
        )
    if request.auth_token and request.auth_kind == "oauth":
        raise ProvisionError("auth_kind", "gemini takes a Gemini API key only (sent in x-goog-api-key); "
                                          "use auth_kind api_key or auto")


PROVIDER = GeminiProvider()
