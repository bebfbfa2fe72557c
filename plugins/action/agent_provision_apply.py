# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan, skills, prompt and MCP servers to a bottle in one remote module run."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.module_utils.desired import check_inputs, guest_state
from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import AgentProvisionPlan
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError, plan_and_write
from ansible_collections.bot_bottle.agents.plugins.module_utils.specs import (
    PROVISION_APPLY,
    PROVISION_APPLY_PLAN_SOURCES,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.guest import run_guest_state


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(
            argument_spec=PROVISION_APPLY,
            mutually_exclusive=PROVISION_APPLY_PLAN_SOURCES,
            required_one_of=PROVISION_APPLY_PLAN_SOURCES,
        )[1]
        check_mode = self._task.check_mode
        try:
            # Every controller-side input is checked before the plan writes its host files.
            check_inputs(args["skills"], args["skills_root"], args["prompt_file"], args["mcp_servers"])
            plan, written = self._plan(args, check_mode)
            module_args, bottle, pending = guest_state(
                plan,
                skills=args["skills"],
                skills_root=args["skills_root"],
                prompt_file=args["prompt_file"],
                mcp_servers=args["mcp_servers"],
                owner=args["owner"],
                check_mode=check_mode,
            )
        except ProvisionError as exc:
            return dict(result, failed=True, msg=str(exc), option=exc.option)
        outcome = run_guest_state(self, module_args, task_vars)
        result.update(outcome)
        if outcome.get("failed"):
            return result
        if pending:
            result["changes"] = outcome.get("changes", []) + pending
        result.update(
            changed=bool(outcome.get("changed") or pending or written),
            written=written,
            plan=plan.to_dict(),
            bottle=bottle,
        )
        return result

    @staticmethod
    def _plan(args: dict, check_mode: bool) -> tuple[AgentProvisionPlan, list[str]]:
        """The plan given, or the one computed here from plan_options (host files written)."""
        if args["plan_options"]:
            options = dict(args["plan_options"])
            return plan_and_write(options.pop("template"), check_mode=check_mode, **options)
        try:
            return AgentProvisionPlan.from_dict(args["plan"]), []
        except (TypeError, ValueError) as exc:
            raise ProvisionError("plan", f"not a plan from agent_provision_plan ({exc})") from None
