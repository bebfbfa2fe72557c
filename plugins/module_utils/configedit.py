# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure edits of agent config files (JSON and TOML): no I/O, stdlib only.

Each function takes the current text ('' when the file does not exist) and returns the
new text; ``None`` means "nothing to change", so callers write only real changes.
"""

from __future__ import annotations

import copy
import json
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils import tomledit

FORMATS = ("json", "toml")


class ConfigEditError(ValueError):
    """The current file cannot be edited; it must be left untouched."""


def _load_json(text: str) -> dict[str, t.Any]:
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigEditError(f"does not parse as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigEditError("is JSON but not an object")
    return data


def _dump_json(data: t.Mapping[str, t.Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _deep_merge(base: dict[str, t.Any], owned: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    for key, value in owned.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _load_toml(text: str) -> dict[str, t.Any]:
    try:
        return tomledit.loads(text)
    except tomledit.TomlEditError as exc:
        raise ConfigEditError(str(exc)) from None


def merge_owned(fmt: str, text: str, owned_text: str) -> str | None:
    """Set the keys of ``owned_text`` in ``text``; keep everything else."""
    if fmt == "json":
        current = _load_json(text)
        merged = _deep_merge(copy.deepcopy(current), _load_json(owned_text))
        return None if merged == current else _dump_json(merged)
    current = _load_toml(text)
    try:
        new_text = tomledit.merge_owned_keys(text, owned_text)
    except tomledit.TomlEditError as exc:
        raise ConfigEditError(str(exc)) from None
    return None if tomledit.loads(new_text) == current else new_text


def current_entry(fmt: str, text: str, key_path: t.Sequence[str]) -> t.Any:
    data = _load_json(text) if fmt == "json" else _load_toml(text)
    return tomledit.get_table(data, tuple(key_path))


def set_entry(fmt: str, text: str, key_path: t.Sequence[str], entry: t.Mapping[str, t.Any] | None) -> str | None:
    """Make the entry at ``key_path`` exactly ``entry`` (None: remove it)."""
    path = tuple(key_path)
    if current_entry(fmt, text, path) == (dict(entry) if entry is not None else None):
        return None
    if fmt == "json":
        data = _load_json(text)
        node = data
        for key in path[:-1]:
            child = node.get(key)
            if child is None and entry is not None:
                child = node[key] = {}
            if not isinstance(child, dict):
                if entry is None:
                    return None
                raise ConfigEditError(f"{'.'.join(path[:-1])} is not a JSON object")
            node = child
        if entry is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = copy.deepcopy(dict(entry))
        return _dump_json(data)
    try:
        return tomledit.replace_table(text, path, entry)
    except tomledit.TomlEditError as exc:
        raise ConfigEditError(str(exc)) from None


def _project(data: t.Any, shape: t.Any) -> t.Any:
    """The part of ``data`` that has the keys of ``shape`` (missing keys are None)."""
    if not isinstance(shape, dict):
        return data
    if not isinstance(data, dict):
        data = {}
    return {k: _project(data.get(k), v) for k, v in shape.items()}


def owned_view(fmt: str, text: str, owned_text: str) -> str:
    """Only the owned keys of ``text``, as JSON: diffs never show the user's other data."""
    load = _load_json if fmt == "json" else _load_toml
    return json.dumps(_project(load(text), load(owned_text)), indent=2, sort_keys=True) + "\n"


# MCP entry keys whose values may be credentials: never logged, hidden in diffs.
SECRET_ENTRY_KEYS = ("headers", "http_headers", "env", "env_http_headers")


def entry_view(entry: t.Any) -> str:
    """An MCP entry for a diff, header and env values hidden (they may be credentials)."""
    if entry is None:
        return ""
    shown = {
        k: ({name: "(hidden)" for name in v} if k in SECRET_ENTRY_KEYS and isinstance(v, dict) else v)
        for k, v in entry.items()
    }
    return json.dumps(shown, indent=2, sort_keys=True) + "\n"
