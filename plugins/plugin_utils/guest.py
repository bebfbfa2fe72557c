# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller helper shared by the action plugins: one run of agent_guest_state.

One run, unless an existing TOML config in the bottle needs an edit: the module then writes
nothing and returns the file and its sha256; the edit is made here with tomlkit (so every
byte the collection does not own is kept) and the module runs a second time with the new
text, which it writes only if the file still has that sha256. A converged bottle (the
rerun of a playbook) costs one run.
"""

from __future__ import annotations

import base64
import hashlib
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import tomlconfig

GUEST_MODULE = "bot_bottle.agents.agent_guest_state"


def run_guest_state(action: t.Any, module_args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
    """Run the in-bottle module (twice when a TOML edit is needed); the result never carries file contents."""
    outcome = _execute(action, module_args, task_vars)
    edits = outcome.pop("toml_edits_needed", None)
    if not edits or outcome.get("failed"):
        return outcome
    toml_files = []
    for found in edits:
        field, ops = toml_ops(module_args, found["path"], found.get("remove") or [])
        current = base64.b64decode(found["content_b64"])
        if hashlib.sha256(current).hexdigest() != found["sha256"]:
            return _failed(field, f"{found['path']} was not read completely from the bottle; rerun", outcome)
        try:
            content = tomlconfig.edit(current, ops)
        except tomlconfig.TomlEditError as exc:
            return _failed(field, f"{found['path']} {exc}; it was left untouched", outcome)
        toml_files.append({"path": found["path"], "content_b64": base64.b64encode(content).decode("ascii"),
                           "expected_sha256": found["sha256"]})
    outcome = _execute(action, dict(module_args, toml_files=toml_files), task_vars)
    if outcome.pop("toml_edits_needed", None) and not outcome.get("failed"):
        return _failed("toml_files", "the bottle asked for a TOML edit twice; rerun", outcome)
    return outcome


def toml_ops(module_args: t.Mapping[str, t.Any], path: str,
             removals: t.Sequence[t.Sequence[str]] = ()) -> tuple[str, list[configedit.Op]]:
    """The field and the ops of the module arguments that edit the TOML file ``path``, in module order.

    ``removals`` are the settings keys the bottle found to remove (it alone holds the record of
    what an earlier run set): they go before the settings, as the bottle applied them.
    """
    ops: list[configedit.Op] = []
    field = ""
    for f in module_args.get("files") or []:
        if f.get("path") == path and f.get("merge") == "toml":
            owned = configedit.loads("toml", base64.b64decode(f["content_b64"]).decode("utf-8"))
            if f.get("record"):
                ops.extend(("remove", tuple(key), None) for key in removals)
            if owned or not f.get("record"):
                ops.append(("owned", owned, None))
            field = field or "files"
    for e in module_args.get("config_entries") or []:
        if e.get("path") == path and e.get("format") == "toml":
            entry = e.get("entry")
            entry = None if entry is None else {**entry, **(e.get("entry_secret") or {})}
            ops.append(("entry", tuple(e["entry_path"]), entry))
            field = field or "config_entries"
    return field or "files", ops


def _failed(field: str, message: str, outcome: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {"failed": True, "changed": False, "msg": f"{field}: {message}", "field": field, "changes": [],
            "would_change": list(outcome.get("would_change") or outcome.get("changes") or [])}


def _execute(action: t.Any, module_args: dict[str, t.Any], task_vars: dict[str, t.Any]) -> dict[str, t.Any]:
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
