# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compute a provider's provision plan on the controller (no connection to the bottle)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import (
    ProvisionError,
    get_provider,
    write_host_files,
)
from ansible_collections.bot_bottle.agents.plugins.module_utils.specs import PROVISION_PLAN


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self.validate_argument_spec(argument_spec=PROVISION_PLAN)[1]
        template = args.pop("template")
        try:
            draft = get_provider(template).draft_plan(**args)
            written = write_host_files(draft.host_files, check_mode=self._task.check_mode)
        except ProvisionError as exc:
            return dict(result, failed=True, msg=str(exc), option=exc.option)
        except OSError as exc:
            return dict(result, failed=True, msg=f"state_dir: cannot write {exc.filename}: {exc.strerror}")
        plan = draft.plan
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
