# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register (or remove) one MCP server in an agent's own config inside a bottle."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.module_utils.desired import check_url, config_entry
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError, get_provider
from ansible_collections.bot_bottle.agents.plugins.module_utils.specs import MCP_SERVER
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.guest import run_guest_state


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=MCP_SERVER)[1]
        try:
            if args["state"] == "present":
                check_url("url", args["url"])
            registration = get_provider(args["provider"]).supervise_mcp(
                args["url"],
                guest_home=args["guest_home"],
                name=args["name"],
                headers=args["headers"],
                bearer_token_env_var=args["bearer_token_env_var"],
            )
        except ProvisionError as exc:
            return dict(result, failed=True, msg=str(exc), option=exc.option)
        entry = config_entry(registration, args["state"])
        entry["owner"] = args["owner"]
        outcome = run_guest_state(self, {"config_entries": [entry]}, task_vars)
        result.update(outcome)
        result.update(config_path=registration.config_path, entry_path=list(registration.key_path))
        return result
