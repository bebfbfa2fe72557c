# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Agent config files (JSON and TOML) as data: parse, set owned keys and entries, render.

Stdlib only: this runs in the bottle. The collection owns some keys (``owned``: every leaf
of a small document is set, the rest kept) and some entries (an MCP server: the value at a
key path is made exactly equal to the entry, or removed). Both are applied to the parsed
data here, so the bottle knows whether a file needs a change without editing any text.

Rendering: JSON files are rewritten whole (``json.dumps``; Claude rewrites ``~/.claude.json``
itself on every run, so no byte of its layout is worth keeping). A new TOML file is rendered
here (``dumps_document``); an existing TOML file is edited on the controller with tomlkit so
every byte outside the owned statements stays as it was (see plugin_utils/tomlconfig.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import typing as t

try:
    import tomllib
except ImportError:  # pragma: no cover - Python < 3.11 in the bottle
    tomllib = None  # type: ignore[assignment]

FORMATS = ("json", "toml")
BOM = "\ufeff"
KeyPath = t.Tuple[str, ...]

# MCP entry keys whose values may be credentials: never logged, hidden in diffs.
SECRET_ENTRY_KEYS = ("headers", "http_headers", "env", "env_http_headers")


class ConfigEditError(ValueError):
    """The current file cannot be edited; it must be left untouched."""


# -- parsing ----------------------------------------------------------------------------


def split_bom(text: str) -> tuple[str, str]:
    """(BOM or '', the text without it)."""
    return (BOM, text[1:]) if text.startswith(BOM) else ("", text)


def loads(fmt: str, text: str) -> dict[str, t.Any]:
    """The document as data ('' is an empty document); a leading UTF-8 BOM is allowed."""
    text = split_bom(text)[1]
    if fmt == "json":
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigEditError(f"does not parse as JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigEditError("is JSON but not an object")
        return data
    if tomllib is None:
        raise ConfigEditError("cannot be read: editing TOML needs Python 3.11 or newer (tomllib) in the bottle")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigEditError(f"does not parse as TOML: {exc}") from None


# -- the edits, on data -----------------------------------------------------------------


def get_in(data: t.Any, path: t.Sequence[str], missing: t.Any = None) -> t.Any:
    """The value at ``path``, or ``missing``."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return missing
        node = node[key]
    return node


def _table(node: dict[str, t.Any], key: str, path: t.Sequence[str]) -> dict[str, t.Any]:
    child = node.setdefault(key, {})
    if not isinstance(child, dict):
        raise ConfigEditError(f"has {'.'.join(path)} that is not a table/object; the collection needs to set keys in it")
    return child


def set_owned(data: dict[str, t.Any], owned: t.Mapping[str, t.Any], _path: KeyPath = ()) -> dict[str, t.Any]:
    """Set every leaf of ``owned`` in ``data`` (in place; returns it); other keys stay."""
    for key, value in owned.items():
        if isinstance(value, dict):
            set_owned(_table(data, key, _path + (key,)), value, _path + (key,))
        else:
            data[key] = copy.deepcopy(value)
    return data


def set_entry(data: dict[str, t.Any], path: t.Sequence[str], entry: t.Mapping[str, t.Any] | None) -> dict[str, t.Any]:
    """Make the value at ``path`` exactly ``entry`` (None removes it), in place; returns data."""
    node = data
    for depth, key in enumerate(path[:-1]):
        if entry is None:
            node = node.get(key) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                return data
        else:
            node = _table(node, key, tuple(path[: depth + 1]))
    if entry is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(dict(entry))
    return data


def remove_leaf(data: dict[str, t.Any], path: t.Sequence[str]) -> dict[str, t.Any]:
    """Remove the value at ``path`` and every table the removal leaves empty, in place; returns data."""
    nodes = [data]
    for key in path[:-1]:
        child = nodes[-1].get(key)
        if not isinstance(child, dict):
            return data
        nodes.append(child)
    nodes[-1].pop(path[-1], None)
    for depth in range(len(path) - 2, -1, -1):
        if nodes[depth + 1]:
            break
        nodes[depth].pop(path[depth])
    return data


# ("owned", owned dict, None), ("entry", key path, entry or None) or ("remove", key path, None)
Op = t.Tuple[str, t.Any, t.Any]


def apply_ops(data: dict[str, t.Any], ops: t.Iterable[Op]) -> dict[str, t.Any]:
    """A copy of ``data`` with the ops applied in order."""
    result = copy.deepcopy(data)
    for kind, arg, entry in ops:
        if kind == "owned":
            set_owned(result, arg)
        elif kind == "remove":
            remove_leaf(result, tuple(arg))
        else:
            set_entry(result, tuple(arg), entry)
    return result


# -- settings the collection set for the user (agent_settings), and the record of them -----------

MISSING = object()


def leaves(data: t.Mapping[str, t.Any], _path: KeyPath = ()) -> dict[KeyPath, t.Any]:
    """Every leaf of a settings mapping by key path: a value that is not a mapping, or an empty mapping.

    Merging sets exactly these: a list is a leaf, so it replaces the list in the file (never appends).
    """
    found: dict[KeyPath, t.Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and value:
            found.update(leaves(value, _path + (key,)))
        else:
            found[_path + (key,)] = value
    return found


def leaf_value(data: t.Any, path: t.Sequence[str]) -> t.Any:
    """The value at ``path``, or ``MISSING`` (a null value is a value)."""
    return get_in(data, path, MISSING)


def digest(value: t.Any) -> str:
    """A stable fingerprint of a value: the record says what was set without holding the value."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8")).hexdigest()


def load_record(text: str) -> dict[KeyPath, str]:
    """The owned keys an earlier run recorded: key path -> digest of the value it set."""
    try:
        data = json.loads(text) if text.strip() else {"keys": []}
        return {tuple(item["key"]): str(item["sha256"]) for item in data["keys"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigEditError(f"is not a record of owned keys ({type(exc).__name__})") from None


def dumps_record(config_path: str, owned: t.Mapping[KeyPath, str]) -> str:
    keys = [{"key": list(key), "sha256": owned[key]} for key in sorted(owned)]
    return json.dumps({"config": config_path, "keys": keys}, indent=2) + "\n"


def settings_ops(data: t.Mapping[str, t.Any], settings: t.Mapping[str, t.Any],
                 recorded: t.Mapping[KeyPath, str]) -> tuple[list[Op], dict[KeyPath, str]]:
    """The ops that merge ``settings`` into ``data``, and the new record of what the collection owns.

    A key recorded earlier and no longer in ``settings`` is removed only if it still holds the value
    the collection set (the user changed it otherwise: it is theirs now). A key that already held
    the requested value before the collection first set it stays the user's: it is not recorded,
    so it is never removed.
    """
    wanted = leaves(settings)
    ops: list[Op] = [("remove", key, None) for key in sorted(recorded)
                     if key not in wanted and digest(leaf_value(data, key)) == recorded[key]
                     and leaf_value(data, key) is not MISSING]
    if wanted:
        ops.append(("owned", dict(settings), None))
    owned = {key: digest(value) for key, value in wanted.items()
             if key in recorded or leaf_value(data, key) != value}
    return ops, owned


def _pruned(data: t.Any) -> t.Any:
    if not isinstance(data, dict):
        return data
    pruned = {k: _pruned(v) for k, v in data.items()}
    return {k: v for k, v in pruned.items() if v != {} or not isinstance(data[k], dict)}


def same_data(a: t.Any, b: t.Any) -> bool:
    """Equal, where an empty table counts as no table (editors drop a table emptied by a removal)."""
    return _pruned(a) == _pruned(b)


# -- rendering --------------------------------------------------------------------------


def dumps_json(data: t.Mapping[str, t.Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def dumps_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def dumps_value(value: t.Any) -> str:
    """A TOML value; dicts become inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes; TOML also forbids a raw DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{dumps_key(str(k))} = {dumps_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise ConfigEditError(f"cannot write a {type(value).__name__} value as TOML")


def dumps_table(path: t.Sequence[str], values: t.Mapping[str, t.Any]) -> str:
    """One ``[a.b]`` table with its keys (nested dicts as inline tables)."""
    header = "[" + ".".join(dumps_key(p) for p in path) + "]\n"
    return header + "".join(f"{dumps_key(k)} = {dumps_value(v)}\n" for k, v in values.items())


def dumps_document(data: t.Mapping[str, t.Any]) -> str:
    """A whole TOML document: top-level keys first, then one ``[table]`` per table that has keys."""
    sections: list[str] = []

    def walk(node: t.Mapping[str, t.Any], path: KeyPath) -> None:
        values = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if not path:
            if values:
                sections.append("".join(f"{dumps_key(k)} = {dumps_value(v)}\n" for k, v in values.items()))
        elif values or not tables:
            sections.append(dumps_table(path, values))
        for key, value in tables.items():
            walk(value, path + (key,))

    walk(data, ())
    return "\n".join(sections)


def render_new(fmt: str, data: t.Mapping[str, t.Any]) -> str:
    """The text of a file that does not exist yet; checked to parse back to ``data``."""
    text = dumps_json(data) if fmt == "json" else dumps_document(data)
    if fmt == "toml" and loads(fmt, text) != data:
        raise ConfigEditError("cannot be written as TOML without changing a value")
    return text


# -- views for diffs --------------------------------------------------------------------


def _project(data: t.Any, shape: t.Any) -> t.Any:
    """The part of ``data`` that has the keys of ``shape`` (missing keys are None)."""
    if not isinstance(shape, dict):
        return data
    if not isinstance(data, dict):
        data = {}
    return {k: _project(data.get(k), v) for k, v in shape.items()}


def owned_view(data: t.Mapping[str, t.Any], owned: t.Mapping[str, t.Any]) -> str:
    """Only the owned keys of ``data``, as JSON: diffs never show the user's other data."""
    return json.dumps(_project(data, owned), indent=2, sort_keys=True, default=str) + "\n"


def entry_view(entry: t.Any) -> str:
    """An MCP entry for a diff, header and env values hidden (they may be credentials)."""
    if entry is None:
        return ""
    if not isinstance(entry, dict):
        return json.dumps(entry, default=str) + "\n"
    shown = {
        k: ({name: "(hidden)" for name in v} if k in SECRET_ENTRY_KEYS and isinstance(v, dict) else v)
        for k, v in entry.items()
    }
    return json.dumps(shown, indent=2, sort_keys=True, default=str) + "\n"


# -- a marked block in a text file the user also writes (standing instructions) ----------------

BLOCK_BEGIN = "<!-- BEGIN bot_bottle.agents (agent_context): edits inside this block are replaced -->"
BLOCK_END = "<!-- END bot_bottle.agents -->"


def with_block(text: str, block: str) -> str:
    """``text`` with the collection's marked block made ``block`` ('' removes it); the rest is kept.

    A new block goes at the end after a blank line; removing it takes that blank line away again.
    """
    begin, end = text.count(BLOCK_BEGIN), text.count(BLOCK_END)
    if begin != end or begin > 1 or (begin and text.index(BLOCK_END) < text.index(BLOCK_BEGIN)):
        raise ConfigEditError(f"has a broken bot_bottle.agents block (the lines {BLOCK_BEGIN!r} and "
                              f"{BLOCK_END!r} must appear once each, in this order); remove what is left of it")
    if begin:
        start = text.index(BLOCK_BEGIN)
        stop = text.index(BLOCK_END) + len(BLOCK_END)
        stop += text[stop:stop + 1] == "\n"
        before, after = text[:start], text[stop:]
    else:
        before, after = text, ""
    if not block.strip():
        if not after and before.endswith("\n\n"):
            before = before[:-1]
        return before + after
    body = block if block.endswith("\n") else block + "\n"
    marked = f"{BLOCK_BEGIN}\n{body}{BLOCK_END}\n"
    if not begin and before:
        before += "\n" if before.endswith("\n") else "\n\n"
    return before + marked + after
