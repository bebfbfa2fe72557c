# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the controller-side actions (their module files hold the docs)."""

from __future__ import annotations

PROVISION_PLAN = dict(
    template=dict(type="str", required=True),
    state_dir=dict(type="path", required=True),
    dockerfile=dict(type="str", default=""),
    guest_home=dict(type="str", default="/home/node"),
    guest_env=dict(type="dict", default={}),
    auth_token=dict(type="str", default="", no_log=True),
    forward_host_credentials=dict(type="bool", default=False),
    credentials_in_guest=dict(type="bool", default=False),
    host_env=dict(type="dict"),
    trusted_project_path=dict(type="str", default=""),
)

_MCP_SERVER = dict(
    name=dict(type="str", default="supervise"),
    url=dict(type="str", default=""),
    headers=dict(type="dict", default={}, no_log=True),
    bearer_token_env_var=dict(type="str", default="", no_log=False),
    state=dict(type="str", default="present", choices=["present", "absent"]),
)

PROVISION_APPLY = dict(
    plan=dict(type="dict"),
    # The plan computed in the same task: one controller task fewer per bottle.
    plan_options=dict(type="dict", options=PROVISION_PLAN),
    skills=dict(type="list", elements="str", default=[]),
    skills_root=dict(type="path", default=""),
    prompt_file=dict(type="path", default=""),
    mcp_servers=dict(type="list", elements="dict", default=[], options=_MCP_SERVER),
    owner=dict(type="str", default="node:node"),
)

# Exactly one of them: a plan computed earlier, or the options to compute it here.
PROVISION_APPLY_PLAN_SOURCES = [("plan", "plan_options")]

MCP_SERVER = dict(
    provider=dict(type="str", required=True),
    guest_home=dict(type="str", default="/home/node"),
    owner=dict(type="str", default="node:node"),
    **_MCP_SERVER,
)
