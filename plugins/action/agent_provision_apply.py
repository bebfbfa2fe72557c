# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a bottle's desired state on the controller and make the bottle match in one module run."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.guest import run_guest_state
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (
    get_provider,
    register_with_egress,
    write_controller_files,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import (
    ProvisionError,
    error_result,
    task_request,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        check_mode = self._task.check_mode
        try:
            request = task_request(self, task_vars)
            plan = get_provider(request.provider).build(request)
            # The bottle's checks go through its egress proxy, which must know the bottle first.
            registered = register_with_egress(plan.egress_registration)
        except ProvisionError as exc:
            return dict(result, **error_result(self._task, exc))
        try:
            outcome = run_guest_state(self, plan.guest_module_args(), task_vars)
        finally:
            if check_mode:
                registered.restore()
        result.update(outcome)
        if outcome.get("failed"):
            registered.restore()
            return result  # the bottle refused the run: the controller is left as it was too
        try:
            # Only now: a run the bottle refused leaves the controller's state_dir as it was.
            written = write_controller_files(plan.controller_files, check_mode=check_mode)
        except ProvisionError as exc:
            return dict(result, **error_result(self._task, exc))
        result.update(
            # From the bottle alone: a fresh controller (a new EE container) rewrites its state_dir
            # without the bottle changing, and that is not a change of the bottle.
            changed=bool(outcome.get("changed")),
            controller_files=written + registered.changed(),
            plan=plan.to_dict(),
            bottle=plan.summary(),
        )
        return result
