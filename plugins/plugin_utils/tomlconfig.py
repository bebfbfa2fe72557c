# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit an existing TOML agent config on the controller, keeping every byte we do not own.

The bottle has only the stdlib; this runs on the controller with tomlkit (a style-preserving
TOML library). The ops are the ones the bottle applied to the parsed data
(``configedit.apply_ops``): owned keys are set, entries made exactly equal (or removed), in the
form the user wrote them (a ``[table]``, an inline table, dotted keys). Line ends follow the
file (a CRLF file stays CRLF), a UTF-8 BOM is kept, comments that trail a removed table stay.
The result must parse (stdlib ``tomllib``) to exactly the data the bottle expects, or the edit
is refused.
"""

from __future__ import annotations

import difflib
import re
import typing as t
from collections.abc import MutableMapping

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit

try:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError
except ImportError:  # pragma: no cover - reported when an edit is needed
    tomlkit = None  # type: ignore[assignment]
    TOMLKitError = Exception  # type: ignore[assignment,misc]


class TomlEditError(ValueError):
    """The file cannot be edited safely; it is left as it is."""


def edit(current: bytes, ops: t.Sequence[configedit.Op]) -> bytes:
    """``current`` with ``ops`` applied; unchanged bytes when the data already holds them."""
    if tomlkit is None:
        raise TomlEditError("editing it needs the Python package tomlkit on the controller (pip install tomlkit)")
    try:
        bom, body = configedit.split_bom(current.decode("utf-8"))
        data = configedit.loads("toml", body)
        expected = configedit.apply_ops(data, ops)
    except (UnicodeDecodeError, configedit.ConfigEditError) as exc:
        raise TomlEditError(str(exc)) from None
    if expected == data:
        return current
    for inline in (False, True):  # the usual [table] form first; inline tables if tomlkit fails at it
        try:
            text = body
            for op in ops:
                text = _keep_trailing_comments(text, _apply(text, op, inline))
            text = _line_ends(body, text)
            if configedit.same_data(configedit.loads("toml", text), expected):
                return (bom + text).encode("utf-8")
        except (TOMLKitError, configedit.ConfigEditError, ValueError, TypeError, KeyError):
            continue
    raise TomlEditError("cannot be edited without changing keys the collection does not own; "
                        "fix it or move the owned keys into plain [tables]")


# -- one op -----------------------------------------------------------------------------


def _apply(text: str, op: configedit.Op, inline: bool) -> str:
    doc = tomlkit.parse(text)
    kind, arg, entry = op
    if kind == "owned":
        _set_owned(doc, arg, inline)
    else:
        _set_entry(doc, tuple(arg), entry, inline)
    return doc.as_string()


def _is_table(item: t.Any) -> bool:
    return isinstance(item, MutableMapping)


def _value(item: t.Any) -> t.Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _inline(value: t.Mapping[str, t.Any]) -> t.Any:
    table = tomlkit.inline_table()
    for key, child in value.items():
        table[key] = _inline(child) if isinstance(child, dict) else child
    return table


def _table(value: t.Mapping[str, t.Any]) -> t.Any:
    """A [table] (a super table when it holds only tables); nested dicts of a table are inline."""
    if value and all(isinstance(v, dict) for v in value.values()):
        table = tomlkit.table(is_super_table=True)
        for key, child in value.items():
            table[key] = _table(child)
        return table
    table = tomlkit.table()
    for key, child in value.items():
        table[key] = _inline(child) if isinstance(child, dict) else child
    return table


def _add(node: t.Any, key: str, value: t.Any, inline: bool) -> None:
    """A new key in ``node``; a dict value takes the form its container allows."""
    if not isinstance(value, dict):
        node[key] = value
    elif inline or isinstance(node, tomlkit.items.InlineTable):
        node[key] = _inline(value)
    else:
        node[key] = _table(value)


def _set_scalar(node: t.Any, key: str, value: t.Any) -> None:
    if key not in node or _value(node[key]) != value or _is_table(node[key]):
        node[key] = value


def _set_owned(node: t.Any, owned: t.Mapping[str, t.Any], inline: bool) -> None:
    for key, value in owned.items():
        if isinstance(value, dict):
            if key in node and _is_table(node[key]):
                _set_owned(node[key], value, inline)
            else:
                _add(node, key, value, inline)
        else:
            _set_scalar(node, key, value)


def _nest(path: t.Sequence[str], value: t.Any) -> t.Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _set_entry(doc: t.Any, path: tuple[str, ...], entry: t.Mapping[str, t.Any] | None, inline: bool) -> None:
    node = doc
    for depth, key in enumerate(path[:-1]):
        if key in node and _is_table(node[key]):
            node = node[key]
            continue
        if entry is not None:
            _add(node, key, _nest(path[depth + 1:], dict(entry)), inline)
        return
    key = path[-1]
    if entry is None:
        if key in node:
            del node[key]
    elif key in node and _is_table(node[key]):
        _sync(node[key], entry)
    else:
        if key in node:
            del node[key]
        _add(node, key, dict(entry), inline)


def _sync(node: t.Any, desired: t.Mapping[str, t.Any]) -> None:
    """Make the table ``node`` hold exactly ``desired``, keeping the form of what stays."""
    for key in [k for k in node if k not in desired]:
        del node[key]
    for key, value in desired.items():
        if isinstance(value, dict) and key in node and _is_table(node[key]):
            _sync(node[key], value)
        elif isinstance(value, dict):
            if key in node:
                del node[key]
            node[key] = _inline(value)  # a new table inside an entry: inline, whatever the entry's form
        else:
            _set_scalar(node, key, value)


# -- bytes around the edit ----------------------------------------------------------------


def _is_trivia(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _keep_trailing_comments(before: str, after: str) -> str:
    """Put back the comment and blank lines that trailed a removed table (they belong to what follows)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        out.extend(new[j1:j2])
        if tag in ("delete", "replace"):
            removed = old[i1:i2]
            keep = len(removed)
            while keep > 0 and _is_trivia(removed[keep - 1]):
                keep -= 1
            trailing = removed[keep:]
            if trailing and new[j1:j2][-len(trailing):] != trailing:
                out.extend(trailing)
    return "".join(out)


def _line_ends(original: str, text: str) -> str:
    """A file that uses only CRLF gets CRLF on the new lines too."""
    if "\r\n" in original and original.count("\n") == original.count("\r\n"):
        return re.sub(r"(?<!\r)\n", "\r\n", text)
    return text
