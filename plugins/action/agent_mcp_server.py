# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register (or remove) one MCP server in an agent's own config inside a bottle."""

from __future__ import annotations

import dataclasses

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.guest import run_guest_state
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.plan import config_entry_args
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import (
    DEFAULT_GUEST_HOME,
    DEFAULT_OWNER,
    MCP_SERVER_SPEC,
    McpServer,
    ProvisionError,
    checked_owner,
    error_result,
)

MCP_MODULE_SPEC = dict(
    provider=dict(type="str", required=True),
    guest_home=dict(type="str", default=DEFAULT_GUEST_HOME),
    owner=dict(type="str", default=DEFAULT_OWNER),
    **MCP_SERVER_SPEC,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=MCP_MODULE_SPEC)[1]
        try:
            server = McpServer.checked(args)
            owner = checked_owner(args["owner"])
            entry = get_provider(args["provider"]).mcp_entry(server, args["guest_home"], owner)
        except ProvisionError as exc:
            return dict(result, **error_result(self._task, exc))
        if server.state == "absent":
            entry = dataclasses.replace(entry, entry=None)
        module_args = {"run_as": owner.partition(":")[0], "config_entries": [config_entry_args(entry)]}
        result.update(run_guest_state(self, module_args, task_vars))
        result.update(config_path=entry.config_path, entry_path=list(entry.key_path))
        return result
