#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_provision_apply
short_description: Provision an AI coding agent into a bottle, with skills, prompt, MCP servers and a launcher
version_added: "0.1.0"
description:
  - Checks every option, builds the bottle's desired state on the controller (what
    M(bot_bottle.agents.agent_provision_plan) reports) and makes the bottle match it in one remote
    module run. The read-only checks (the bottle user exists, the agent CLI runs, as that user with a
    throwaway home) and a dry pass over every file come first; only then is anything written.
    Directories, files (agent state and config, merged into what is there), the prompt file and
    the launcher, skills, MCP server entries.
  - The controller reads the skills, prompt and credential files; the bottle needs only C(python3).
  - The credentials the egress proxy reads are written under O(state_dir) only after the bottle took the run.
  - Skills are copied from O(skills_root)/NAME into the provider's skills directory and mirrored
    exactly. The prompt file is always placed (empty when O(prompt_file) is not set) so its path
    exists; the launch arguments name it only when it is not empty.
  - The launcher C(~/.bot-bottle/PROVIDER/launch) starts the agent with its guest env, bypass arguments and
    prompt arguments; C(--resume) adds the resume arguments and C(--headless MESSAGE) runs once.
  - A failed run writes nothing; every write is atomic; a second run reports no change.
author:
  - bot_bottle contributors (@bot-bottle)
extends_documentation_fragment:
  - bot_bottle.agents.request
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full}
  diff_mode: {support: full, details: Secret files and header values are never shown.}
  platform: {support: full, platforms: posix}
seealso:
  - module: bot_bottle.agents.agent_provision_plan
  - module: bot_bottle.agents.agent_mcp_server
"""

EXAMPLES = r"""
- name: Provision a Claude Code bottle
  bot_bottle.agents.agent_provision_apply:
    provider: claude
    state_dir: /var/lib/bot-bottle/{{ inventory_hostname }}
    trusted_project_path: /work
    skills: [review]
    skills_root: "{{ playbook_dir }}/skills"
    mcp_servers:
      - url: http://host.docker.internal:8811/mcp

- name: Provision Codex for a bottle user called agent, with a prompt
  bot_bottle.agents.agent_provision_apply:
    provider: codex
    state_dir: /var/lib/bot-bottle/{{ inventory_hostname }}
    guest_home: /home/agent
    owner: agent:agent
    prompt_file: "{{ playbook_dir }}/prompt.md"
    mcp_servers:
      - name: supervise
        url: http://10.0.2.2:8811/mcp
  register: provisioned
"""

RETURN = r"""
plan:
  description: The desired state that was applied (RV(bot_bottle.agents.agent_provision_plan#module:plan)); no secret values.
  returned: success
  type: dict
controller_files:
  description:
    - Controller files (egress credentials) written under C(state_dir), or that would be in check mode.
    - They do not count as a change; C(changed) comes from the bottle alone.
  returned: success
  type: list
  elements: str
changes:
  description: What changed in the bottle (or would, in check mode). Empty when the run failed.
  returned: always
  type: list
  elements: str
bottle:
  description: Machine-readable facts for CI pipelines (no secret values).
  returned: success
  type: dict
  contains:
    provider: {description: The provider., type: str}
    launcher: {description: Guest path of the launcher., type: str}
    launch: {description: "argv of the interactive, resume, headless and headless_resume starts; C({message}) marks the message.", type: dict}
    prompt_path: {description: "Guest path of the prompt, empty when the prompt is empty.", type: str}
    skills_dir: {description: Guest skills directory., type: str}
    skills: {description: Guest paths of the skills., type: list, elements: str}
    mcp_servers: {description: Registered entries and their config files., type: dict}
    workdir: {description: Where the agent starts., type: str}
    env_vars: {description: Visible guest env names., type: list, elements: str}
    hidden_env_names: {description: Env names holding placeholders., type: list, elements: str}
    egress_routes: {description: What the egress proxy must apply (references only)., type: list, elements: dict}
"""
