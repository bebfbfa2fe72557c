#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_mcp_server
short_description: Register one MCP server in an agent's own config inside a bottle
version_added: "0.1.0"
description:
  - An HTTP server (O(url)) or a stdio server (O(command), O(args), O(env)), in the agent's own format -
    Claude Code - top-level C(mcpServers.NAME) in C(~/.claude.json) (C(type=http) with C(url) and
    C(headers), or C(type=stdio) with C(command), C(args), C(env)).
  - Codex - the C([mcp_servers.NAME]) table of C(~/.codex/config.toml) (C(url),
    C(bearer_token_env_var), C(http_headers); or C(command), C(args) and an C(env) sub-table).
  - Gemini CLI - C(mcpServers.NAME) in C(~/.gemini/settings.json) (C(type=http) with C(url) and
    C(headers), or C(command), C(args), C(env)).
  - Changes the file only when the parsed entry differs. Keeps every other key, server and TOML
    comment byte for byte; writes atomically with mode 0600 and the given owner.
  - A config file that does not parse, or a symlink in its place, fails the task and is left as it was.
author:
  - bot_bottle contributors (@bot-bottle)
options:
  provider:
    description: The agent whose config holds the entry (C(claude), C(codex), ... - any provider plugin).
    type: str
    required: true
  name:
    description: Entry name.
    type: str
    default: supervise
  url:
    description: "http(s) URL of an HTTP MCP server. With O(state=present), give it or O(command)."
    type: str
    default: ""
  headers:
    description: HTTP headers sent to the server. Never logged, hidden in diffs.
    type: dict
    default: {}
  bearer_token_env_var:
    description: Guest env var with a bearer token for an HTTP server.
    type: str
    default: ""
  command:
    description: Command of a stdio MCP server, started by the agent in the bottle.
    type: str
    default: ""
  args:
    description: Arguments of the stdio server's command.
    type: list
    elements: str
    default: []
  env:
    description: Environment of the stdio server. Never logged, hidden in diffs.
    type: dict
    default: {}
  state:
    description: Whether the entry is there. C(absent) removes only this entry.
    type: str
    default: present
    choices: [present, absent]
  guest_home:
    description: Home of the bottle user.
    type: str
    default: /home/node
  owner:
    description: "C(user:group) owning the config file."
    type: str
    default: "node:node"
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
  platform: {support: full, platforms: posix}
"""

EXAMPLES = r"""
- name: Register the supervise server for Codex
  bot_bottle.agents.agent_mcp_server:
    provider: codex
    url: http://10.0.2.2:8811/mcp
    bearer_token_env_var: SUPERVISE_TOKEN

- name: Give Claude Code a stdio server it starts itself (the token stays out of every log)
  bot_bottle.agents.agent_mcp_server:
    provider: claude
    name: tracker
    command: npx
    args: [-y, "@example/tracker-mcp"]
    env:
      TRACKER_TOKEN: "{{ tracker_token }}"

- name: Remove it again
  bot_bottle.agents.agent_mcp_server:
    provider: codex
    state: absent
"""

RETURN = r"""
config_path:
  description: The config file edited in the bottle.
  returned: success
  type: str
  sample: /home/node/.codex/config.toml
entry_path:
  description: Keys (JSON) or table path (TOML) of the entry.
  returned: success
  type: list
  elements: str
  sample: [mcp_servers, supervise]
changes:
  description: What changed.
  returned: always
  type: list
  elements: str
"""
