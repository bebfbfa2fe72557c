#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_provision_plan
short_description: Compute the provision plan of an AI coding agent bottle
version_added: "0.1.0"
description:
  - Computes, on the controller, what a bottle needs to run one agent provider (C(claude) or
    C(codex)) - directories, files, read-only checks, guest environment, egress routes - and
    returns it as plain data for M(bot_bottle.agents.agent_provision_apply).
  - Writes the generated host-side files under O(state_dir), each only when its content changes,
    so C(changed) is honest. Nothing is written when an option is wrong.
  - Runs on the controller through its action plugin; it never connects to the bottle.
  - By default no real credential enters the bottle. The bottle gets a non-secret placeholder
    (listed in RV(plan.hidden_env_names)) and RV(plan.egress_routes) tells the bottle's egress
    proxy where to find the real credential. The result holds references, never the value.
author:
  - bot_bottle contributors (@bot-bottle)
options:
  template:
    description: The provider. One file per provider in C(plugins/module_utils/contrib).
    type: str
    required: true
  state_dir:
    description:
      - Absolute per-bottle directory on the controller for the generated files (created 0700,
        files 0600). It must be writable.
    type: path
    required: true
  dockerfile:
    description: Dockerfile of the bottle image; defaults to the provider's own.
    type: str
    default: ""
  guest_home:
    description: Home directory of the bottle user.
    type: str
    default: /home/node
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
  host_env:
    description: Environment used to find host credentials (C(HOME), C(CLAUDE_CONFIG_DIR), C(CODEX_HOME)); defaults to the controller's.
    type: dict
  trusted_project_path:
    description: Absolute path in the bottle the agent trusts without asking (and starts in).
    type: str
    default: ""
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full, details: Reports which host files would be written and writes none.}
  diff_mode: {support: none}
  platform: {support: full, platforms: posix}
seealso:
  - module: bot_bottle.agents.agent_provision_apply
"""

EXAMPLES = r"""
- name: Plan a Claude Code bottle
  bot_bottle.agents.agent_provision_plan:
    template: claude
    state_dir: "{{ playbook_dir }}/.state/{{ inventory_hostname }}"
    trusted_project_path: /work
    auth_token: "{{ vault_claude_oauth_token }}"
  register: claude_plan

- name: Plan a Codex bottle that uses the operator's ChatGPT login through the egress proxy
  bot_bottle.agents.agent_provision_plan:
    template: codex
    state_dir: /var/lib/bot-bottle/codex-1
    forward_host_credentials: true
"""

RETURN = r"""
plan:
  description: The plan as plain data; feed it to M(bot_bottle.agents.agent_provision_apply).
  returned: success
  type: dict
  contains:
    template: {description: The provider., type: str, sample: claude}
    command: {description: The agent command., type: str, sample: claude}
    prompt_mode: {description: "C(append_file) or C(read_prompt_file).", type: str}
    image: {description: Image the bottle is built from., type: str}
    dockerfile: {description: Dockerfile of that image., type: str}
    guest_home: {description: Home of the bottle user., type: str}
    skills_dir: {description: Where skills go in the bottle., type: str}
    workdir: {description: Where the agent starts., type: str}
    guest_env: {description: Environment of the agent (placeholders only)., type: dict}
    env_vars: {description: Names of the guest env without the hidden placeholders., type: list, elements: str}
    env_files: {description: Guest files of NAME=value lines the launcher sources., type: list, elements: str}
    dirs: {description: "Directories (guest_path, mode, owner).", type: list, elements: dict}
    files: {description: "Files (host_path, guest_path, mode, owner, merge, secret).", type: list, elements: dict}
    pre_copy: {description: "Read-only checks before files are copied (argv, error).", type: list, elements: dict}
    verify: {description: "Read-only checks after (argv, error).", type: list, elements: dict}
    egress_routes:
      description:
        - Header injections for the egress proxy, by reference (host, header, credential_source,
          credential_path, credential_pointer, value_prefix, tls_passthrough).
      type: list
      elements: dict
    hidden_env_names: {description: Guest env names that hold placeholders., type: list, elements: str}
    provisioned_env: {description: The part of the guest env the provider adds., type: dict}
    runtime: {description: The provider's runtime table entry., type: dict}
written:
  description: Host-side files written (or that would be, in check mode).
  returned: success
  type: list
  elements: str
summary:
  description: Short operator summary; hidden env names are left out.
  returned: success
  type: dict
"""
