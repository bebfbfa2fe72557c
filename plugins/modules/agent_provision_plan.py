#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_provision_plan
short_description: Report the desired state of an AI coding agent bottle
version_added: "0.1.0"
description:
  - Computes, on the controller, everything a bottle needs to run one agent provider (C(claude),
    C(codex), ...) - directories, files, read-only checks, skills, MCP entries, guest environment,
    launch argv, egress routes - and returns it as a read-only report, the same
    M(bot_bottle.agents.agent_provision_apply) makes true.
  - Writes nothing and never connects to the bottle; C(changed) is always false.
  - By default no real credential enters the bottle. The bottle gets a non-secret placeholder
    (listed in RV(plan.hidden_env_names)) and RV(plan.egress_routes) tells the bottle's egress
    proxy where to find the real credential. The result holds references, never the value.
author:
  - bot_bottle contributors (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.agents.request
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full, details: It never writes anything.}
  diff_mode: {support: none}
  platform: {support: full, platforms: posix}
seealso:
  - module: bot_bottle.agents.agent_provision_apply
"""

EXAMPLES = r"""
- name: Plan a Claude Code bottle
  bot_bottle.agents.agent_provision_plan:
    provider: claude
    state_dir: "{{ playbook_dir }}/.state/{{ inventory_hostname }}"
    trusted_project_path: /work
    auth_token: "{{ vault_claude_oauth_token }}"
  register: claude_plan

- name: Plan a Codex bottle that uses the operator's ChatGPT login through the egress proxy
  bot_bottle.agents.agent_provision_plan:
    provider: codex
    state_dir: /var/lib/bot-bottle/codex-1
    forward_host_credentials: true
"""

RETURN = r"""
plan:
  description: The desired state as plain data; secret contents and header values are left out.
  returned: success
  type: dict
  contains:
    provider: {description: The provider., type: str, sample: claude}
    runtime: {description: "The provider's runtime row (command, image, prompt_mode, bypass/resume/headless args).", type: dict}
    dockerfile: {description: Dockerfile of the bottle image., type: str}
    guest_home: {description: Home of the bottle user., type: str}
    owner: {description: "C(user:group) of everything written.", type: str}
    skills_dir: {description: Where skills go in the bottle., type: str}
    workdir: {description: Where the agent starts., type: str}
    launcher: {description: Guest path of the launcher., type: str}
    prompt_path: {description: "Guest path of the prompt, empty when the prompt is empty.", type: str}
    guest_env: {description: Environment of the agent (placeholders only)., type: dict}
    hidden_env_names: {description: Guest env names that hold placeholders., type: list, elements: str}
    env_files: {description: Guest files of NAME=value lines the launcher sources., type: list, elements: str}
    launch: {description: "argv of the interactive, resume, headless and headless_resume starts.", type: dict}
    dirs: {description: "Directories (guest_path, mode, owner, create_only).", type: list, elements: dict}
    files: {description: "Files (guest_path, owner, mode, merge, secret); no contents.", type: list, elements: dict}
    checks: {description: "Read-only checks run as the bottle user before any write (argv, error).", type: list, elements: dict}
    trees: {description: "Mirrored directories (skills): guest_path, owner.", type: list, elements: dict}
    config_entries: {description: "MCP entries (config_path, format, key_path, owner, mode).", type: list, elements: dict}
    egress_routes:
      description:
        - Header injections for the egress proxy, by reference (host, header, credential_source,
          credential_path, credential_pointer, value_prefix, tls_passthrough).
      type: list
      elements: dict
bottle:
  description: The machine-readable facts CI reads, as M(bot_bottle.agents.agent_provision_apply) returns them.
  returned: success
  type: dict
"""
