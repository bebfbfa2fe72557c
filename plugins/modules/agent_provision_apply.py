#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_provision_apply
short_description: Provision a bottle from a plan, with skills, prompt, MCP servers and a launcher
version_added: "0.1.0"
description:
  - Applies a plan to a bottle in one remote module run, in this order. Directories,
    C(pre_copy) checks, files, the prompt file and the launcher, C(verify) checks, skills, MCP
    server entries.
  - The plan is either O(plan), computed earlier by M(bot_bottle.agents.agent_provision_plan), or
    computed in this task from O(plan_options). The second way saves a task per bottle (the roles
    use it); either way the skills, prompt and MCP servers are checked before the plan writes
    anything on the controller.
  - The controller reads the host files, skills and prompt; the bottle needs only C(python3).
  - Skills are copied from O(skills_root)/NAME into the provider's skills directory and mirrored
    exactly. The prompt file is always placed (empty when O(prompt_file) is not set) so its path
    exists; the launch arguments name it only when it is not empty.
  - The launcher C(~/.bot-bottle/PROVIDER/launch) starts the agent with its guest env, bypass arguments and
    prompt arguments; C(--resume) adds the resume arguments and C(--headless MESSAGE) runs once.
  - A failed run writes nothing; every write is atomic; a second run reports no change.
author:
  - bot_bottle contributors (@bot-bottle)
options:
  plan:
    description:
      - The RV(bot_bottle.agents.agent_provision_plan#module:plan) result.
      - Exactly one of O(plan) and O(plan_options) is required.
    type: dict
  plan_options:
    description:
      - The options of M(bot_bottle.agents.agent_provision_plan) (O(bot_bottle.agents.agent_provision_plan#module:template),
        O(bot_bottle.agents.agent_provision_plan#module:state_dir), and the others, with the same names, types and
        defaults); the plan is computed on the controller in this task and its host files written under
        C(state_dir) (not in check mode).
      - Exactly one of O(plan) and O(plan_options) is required. C(auth_token) is never logged.
    type: dict
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
    description: MCP servers to register in the agent's own config.
    type: list
    elements: dict
    default: []
    suboptions:
      name: {description: Entry name., type: str, default: supervise}
      url: {description: "http(s) URL of the server (streamable HTTP).", type: str, default: ""}
      headers: {description: HTTP headers. Never logged., type: dict, default: {}}
      bearer_token_env_var: {description: Guest env var holding a bearer token for the server., type: str, default: ""}
      state: {description: Whether the entry is there., type: str, default: present, choices: [present, absent]}
  owner:
    description: "C(user:group) owning the prompt, launcher and skills."
    type: str
    default: "node:node"
extends_documentation_fragment:
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
- name: Plan and provision a Claude Code bottle in one task
  bot_bottle.agents.agent_provision_apply:
    plan_options:
      template: claude
      state_dir: /var/lib/bot-bottle/{{ inventory_hostname }}
      trusted_project_path: /work
    skills: [review]
    skills_root: "{{ playbook_dir }}/skills"
    mcp_servers:
      - url: http://host.docker.internal:8811/mcp

- name: Provision the bottle from a plan computed earlier
  bot_bottle.agents.agent_provision_apply:
    plan: "{{ claude_plan.plan }}"
    skills: [review]
    skills_root: "{{ playbook_dir }}/skills"
    prompt_file: "{{ playbook_dir }}/prompt.md"
    mcp_servers:
      - name: supervise
        url: http://10.0.2.2:8811/mcp
  register: provisioned
"""

RETURN = r"""
plan:
  description: The plan that was applied (RV(bot_bottle.agents.agent_provision_plan#module:plan)); no secret values.
  returned: success
  type: dict
written:
  description: Controller files the plan wrote (or would write, in check mode) under C(state_dir).
  returned: success
  type: list
  elements: str
changes:
  description: What changed in the bottle (or would, in check mode).
  returned: always
  type: list
  elements: str
bottle:
  description: Machine-readable facts for CI pipelines (no secret values).
  returned: success
  type: dict
  contains:
    template: {description: The provider., type: str}
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
