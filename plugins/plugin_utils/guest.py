# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller helper shared by the action plugins: one run of agent_guest_state."""

from __future__ import annotations

import typing as t

GUEST_MODULE = "bot_bottle.agents.agent_guest_state"


def run_guest_state(action: t.Any, module_args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """Run the in-bottle module once; the result never carries its arguments back."""
    outcome = action._execute_module(module_name=GUEST_MODULE, module_args=module_args, task_vars=task_vars)
    outcome.pop("invocation", None)
    if outcome.get("failed") and outcome.get("module_stderr") and not str(outcome.get("module_stdout", "")).strip():
        # The module never started: the transport or the interpreter failed (with pipelining a
        # missing container shows up here, not as "unreachable").
        detail = str(outcome["module_stderr"]).strip().splitlines()[-1]
        interpreter = task_vars.get("ansible_python_interpreter", "python3")
        outcome["msg"] = (
            f"the bottle did not run the provisioning module ({detail}); check that the bottle is "
            f"running and reachable and that it has {interpreter} (set ansible_python_interpreter)"
        )
    return outcome
