# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report a bottle's desired state, computed on the controller (no connection, no write)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import (
    ProvisionError,
    error_result,
    task_request,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        try:
            request = task_request(self, task_vars)
            plan = get_provider(request.provider).build(request)
        except ProvisionError as exc:
            return dict(result, **error_result(self._task, exc))
        result.update(changed=False, plan=plan.to_dict(), bottle=plan.summary())
        return result
