# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan, skills, prompt and MCP servers to a bottle in one remote module run."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.module_utils.desired import check_inputs, guest_state
from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import AgentProvisionPlan
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError
from ansible_collections.bot_bottle.agents.plugins.module_utils.specs import PROVISION_APPLY
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.guest import run_guest_state


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=PROVISION_APPLY)[1]
        if args["validate_only"]:
            try:
                check_inputs(args["skills"], args["skills_root"], args["prompt_file"], args["mcp_servers"])
            except ProvisionError as exc:
                return dict(result, failed=True, msg=str(exc), option=exc.option)
            return dict(result, changed=False, msg="inputs are valid")
        if not args["plan"]:
            return dict(result, failed=True, msg="plan: is required; pass the plan from bot_bottle.agents.agent_provision_plan")
        try:
            plan = AgentProvisionPlan.from_dict(args["plan"])
            module_args, bottle, pending = guest_state(
                plan,
                skills=args["skills"],
                skills_root=args["skills_root"],
                prompt_file=args["prompt_file"],
                mcp_servers=args["mcp_servers"],
                owner=args["owner"],
                check_mode=self._task.check_mode,
            )
        except ProvisionError as exc:
            return dict(result, failed=True, msg=str(exc), option=exc.option)
        except (TypeError, ValueError) as exc:
            return dict(result, failed=True, msg=f"plan: not a plan from agent_provision_plan ({exc})")
        outcome = run_guest_state(self, module_args, task_vars)
        result.update(outcome)
        if pending and not outcome.get("failed"):
            result["changes"] = outcome.get("changes", []) + pending
            result["changed"] = True
        result["bottle"] = bottle
        return result
