# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The request for one agent in one bottle: the options agent_provision_plan and
    # agent_provision_apply share (plugins/plugin_utils/request.py REQUEST_SPEC).
    DOCUMENTATION = r"""
options:
  provider:
    description: The agent. One file per provider in C(plugins/plugin_utils/contrib) (C(claude), C(codex), ...).
    type: str
    required: true
  state_dir:
    description:
      - Absolute per-bottle directory on the controller for the credentials the egress proxy reads
        (C(secrets/), 0700, files 0600). It must be writable. Written only after the bottle took the run.
    type: path
    required: true
  dockerfile:
    description: Dockerfile of the bottle image, for the report; defaults to the provider's own.
    type: str
    default: ""
  guest_home:
    description: Home directory of the bottle user.
    type: str
    default: /home/node
  owner:
    description:
      - "C(user:group) of the bottle user. Every directory, file, skill and config entry the collection
        writes gets it, and the read-only checks run as that user (with a throwaway home)."
    type: str
    default: "node:node"
  guest_env:
    description: Extra environment for the agent in the bottle; it overrides the provider's.
    type: dict
    default: {}
  auth_token:
    description:
      - A real credential (Claude OAuth token, OpenAI API key). Kept on the controller in
        O(state_dir)/secrets (0600) and referenced by an egress route. Never logged.
    type: str
    default: ""
  auth_kind:
    description:
      - "What O(auth_token) is. C(auto) tells by its prefix (Claude - C(sk-ant-api) is an Anthropic API key sent
        as C(x-api-key) from C(ANTHROPIC_API_KEY); anything else an OAuth token sent as C(Authorization: Bearer))."
    type: str
    default: auto
    choices: [auto, oauth, api_key]
  forward_host_credentials:
    description:
      - Use the controller user's own login (C(~/.claude/.credentials.json) or
        C(~/.codex/auth.json)) through the egress proxy. The file must exist and parse.
    type: bool
    default: false
  credentials_in_guest:
    description:
      - Opt-in for bottles without an egress proxy. Puts the real credential in a 0600 file
        owned by the bottle user instead of a placeholder. Its content is never printed.
    type: bool
    default: false
  controller_env:
    description:
      - Environment used to find the controller user's logins (C(HOME), C(CLAUDE_CONFIG_DIR),
        C(CODEX_HOME)); defaults to the controller's own.
    type: dict
  trusted_project_path:
    description:
      - Absolute path in the bottle the agent trusts without asking, and starts in. Created
        (mode 0700, the bottle user) when missing; an existing directory is left as it is. Its parent must exist.
    type: str
    default: ""
  skills:
    description: Names of skill directories under O(skills_root). Plain names only.
    type: list
    elements: str
    default: []
  skills_root:
    description: Controller directory holding the skills.
    type: path
    default: ""
  prompt_file:
    description: Controller file with the agent's prompt.
    type: path
    default: ""
  mcp_servers:
    description: MCP servers to register in (or remove from) the agent's own config, each HTTP (O(mcp_servers[].url)) or stdio (O(mcp_servers[].command)).
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Entry name., type: str, default: supervise}
      url: {description: "http(s) URL of an HTTP server (streamable HTTP). Give it or O(mcp_servers[].command).", type: str, default: ""}
      headers: {description: HTTP headers (HTTP servers). Never logged., type: dict, default: {}}
      bearer_token_env_var: {description: Guest env var holding a bearer token for an HTTP server., type: str, default: ""}
      command: {description: "Command of a stdio server, started by the agent in the bottle. Give it or O(mcp_servers[].url).", type: str, default: ""}
      args: {description: Arguments of the stdio server's command., type: list, elements: str, default: []}
      env: {description: "Environment of the stdio server (values never logged, hidden in diffs).", type: dict, default: {}}
      state: {description: Whether the entry is there., type: str, default: present, choices: [present, absent]}
  base_url:
    description:
      - The model API the agent talks to instead of its provider's own, such as an LLM gateway of your
        organisation or a compatible endpoint. Empty is the provider's API.
      - Claude C(ANTHROPIC_BASE_URL) (for example C(https://gateway.example.com)); Codex a model provider
        C(bot-bottle) with this C(base_url) and the Responses API (give the path it serves, for example
        C(https://gateway.example.com/v1)); Gemini C(GOOGLE_GEMINI_BASE_URL).
      - The egress route of the credential follows it - the proxy puts the credential on requests to this
        URL's host instead of the provider's API host. With O(egress) it must be C(https) (the proxy would
        send the credential in clear text otherwise).
    type: str
    default: ""
  platform:
    description:
      - A cloud platform serving the provider's models instead of its own API (Claude - Amazon Bedrock or
        Google Vertex AI). Empty is the provider's API. Other providers refuse it.
      - Bedrock - O(auth_token) is a Bedrock API key; the bottle holds a placeholder C(AWS_BEARER_TOKEN_BEDROCK)
        and the egress proxy sends the key as C(Authorization) to C(bedrock-runtime.<region>.amazonaws.com).
      - Vertex - O(auth_token) is a Google access token (short-lived - provision again with a fresh one, or
        rewrite the controller file the route names); the CLI skips its own Google auth and the egress
        proxy sends the token as C(Authorization) to C(<region>-aiplatform.googleapis.com).
      - With O(base_url), the route goes to that host instead (a gateway in front of the platform).
    type: dict
    default: {}
    suboptions:
      name: {description: The platform (required when O(platform) is set)., type: str, choices: [bedrock, vertex]}
      region: {description: "Its region, required (C(us-east-1); Vertex also C(global)).", type: str}
      project: {description: The Google Cloud project (Vertex)., type: str, default: ""}
  settings:
    description:
      - Settings merged into the agent's own user settings file in the bottle (Claude
        C(~/.claude/settings.json), Codex the top level of C(~/.codex/config.toml), Gemini
        C(~/.gemini/settings.json)), for example C(permissions), C(env), C(hooks) or C(model).
      - "Merge: mappings merge key by key; any other value (a list included) replaces the value in the
        file, so a list is never appended to. Keys the user set in the file and keys not named here stay."
      - The keys the collection sets are recorded in the bottle (C(~/.bot-bottle/<provider>/owned-settings.json)).
        A key removed from O(settings) is removed from the file on the next run, only if the collection set it
        and it still holds that value. A key that already held the requested value is left to the user.
      - Keys the collection sets itself (listed in SECURITY.md) and the MCP server table (use
        O(mcp_servers)) are refused. Settings are not secrets - they show in diffs; keep credentials out.
    type: dict
    default: {}
  managed_settings:
    description:
      - Policy for the agent in its system-wide managed settings file, root-owned (0644) so the bottle user
        cannot change it, which wins over the user's settings. Claude C(/etc/claude-code/managed-settings.json),
        Codex C(/etc/codex/managed_config.toml), Gemini C(/etc/gemini-cli/settings.json).
      - Merged like O(settings), with the record of owned keys kept by root under C(/var/lib/bot-bottle/).
    type: dict
    default: {}
  context:
    description:
      - Standing instructions the agent reads in every session, also when started without the launcher. They go
        in a marked block of the agent's user context file (Claude C(~/.claude/CLAUDE.md), Codex
        C(~/.codex/AGENTS.md), Gemini C(~/.gemini/GEMINI.md)); the user's own text there is kept.
        An empty value removes the block. Mutually exclusive with O(context_file).
    type: str
    default: ""
  context_file:
    description: Controller file (UTF-8 text) with the standing instructions of O(context).
    type: path
    default: ""
  plugins:
    description:
      - Plugins from marketplaces given as controller directories (a C(.claude-plugin/marketplace.json) and the
        plugin directories it lists as C(./...) sources), installed with no network and effective from the
        agent's first start. Claude - the marketplace is copied into the bottle and its plugins enabled in
        C(~/.claude/settings.json). Codex - each plugin is copied into its plugin cache and enabled in C(config.toml).
        Gemini has extensions instead and refuses this option.
      - The enabling keys are recorded like O(settings) - a plugin dropped from the list is disabled on the next run.
    type: list
    elements: dict
    default: []
    suboptions:
      marketplace: {description: The marketplace directory on the controller., type: path, required: true}
      enable: {description: "Names of its plugins to enable (default: every plugin it lists).", type: list, elements: str, default: []}
  egress:
    description:
      - The egress proxy the bottle goes out through - the M(bot_bottle.agents.egress) role's C(egress_proxy) fact
        (C(dir), and C(url) or C(docker_url) / C(published_url) - the proxy as the bottle reaches it).
      - The bottle gets proxy variables with its own proxy credentials and trusts the proxy's CA; its egress
        routes and O(egress_allow) are registered in C(dir)/bottles/ (put back as they were if the run fails),
        and a TLS handshake through the proxy for each route host is checked from the bottle before any write.
    type: dict
    default: {}
  egress_allow:
    description: Hosts the bottle may reach through the proxy besides its API hosts (names, C(*.suffix)).
    type: list
    elements: str
    default: []
"""
