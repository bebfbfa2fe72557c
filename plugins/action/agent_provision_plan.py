# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute a provider's provision plan on the controller (no connection to the bottle)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError, plan_and_write
from ansible_collections.bot_bottle.agents.plugins.module_utils.specs import PROVISION_PLAN


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=PROVISION_PLAN)[1]
        try:
            plan, written = plan_and_write(check_mode=self._task.check_mode, **args)
        except ProvisionError as exc:
            return dict(result, failed=True, msg=str(exc), option=exc.option)
        result.update(
            changed=bool(written),
            plan=plan.to_dict(),
            written=written,
            summary=dict(
                template=plan.template,
                env_vars=list(plan.env_vars),
                files=[f.guest_path for f in plan.files],
                egress_hosts=[r.host for r in plan.egress_routes],
            ),
        )
        return result
