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
except ImportError:  # pragma: no cover - reported when an edit is needed
    tomlkit = None  # type: ignore[assignment]


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
    # Keep the form of the user's entry (sync its keys); else replace the entry whole, as a
    # [table], then inline (tomlkit cannot do every edit in every form; the result is checked).
    # tomlkit appends to a last line that has no line end: edit with one, drop it again if nothing follows.
    eol = "\r\n" if _crlf_only(body) else "\n"
    last = _lines(body)[-1] if body and not body.endswith("\n") else ""
    start = body + eol if last else body
    # tomlkit regroups tables around an array of tables it has to re-render: hide the arrays.
    start, arrays = _hide_arrays(start, eol, ops)
    for sync, inline in ((True, False), (True, True), (False, False), (False, True)):
        try:
            text = start
            for op in ops:
                text = _keep_trailing_comments(text, _apply(text, op, inline, sync))
            text = _line_ends(body, _show_arrays(text, arrays, eol))
            if last and text.endswith(last + eol):
                text = text[: -len(eol)]
            if configedit.same_data(configedit.loads("toml", text), expected) and not _moves_lines(body, text):
                return (bom + text).encode("utf-8")
        except Exception:  # pylint: disable=broad-exception-caught  # tomlkit bugs: the next form, or refuse
            continue
    raise TomlEditError("cannot be edited without changing or moving what the collection does not own "
                        "(an array of tables split by another table?); keep each [[array]] together, or set "
                        "the owned keys yourself")


# -- one op -----------------------------------------------------------------------------


def _apply(text: str, op: configedit.Op, inline: bool, sync: bool) -> str:
    doc = tomlkit.parse(text)
    kind, arg, entry = op
    if kind == "owned":
        _set_owned(doc, arg, inline)
    elif kind == "remove":
        _remove(doc, tuple(arg))
    else:
        _set_entry(doc, tuple(arg), entry, inline, sync)
    return doc.as_string()


def _remove(doc: t.Any, path: tuple[str, ...]) -> None:
    """Remove the key at ``path`` and the tables that removal leaves empty."""
    nodes = [doc]
    for key in path[:-1]:
        if key not in nodes[-1] or not _is_table(nodes[-1][key]):
            return
        nodes.append(nodes[-1][key])
    if path[-1] in nodes[-1]:
        del nodes[-1][path[-1]]
    for depth in range(len(path) - 2, -1, -1):
        if len(nodes[depth + 1]):
            break
        del nodes[depth][path[depth]]


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


def _set_entry(doc: t.Any, path: tuple[str, ...], entry: t.Mapping[str, t.Any] | None, inline: bool, sync: bool) -> None:
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
    elif sync and key in node and _is_table(node[key]):
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


def _lines(text: str) -> list[str]:
    """Lines with their ends, split at LF only (str.splitlines also splits at U+0085 and others)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _is_trivia(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _keep_trailing_comments(before: str, after: str) -> str:
    """Put back the comment and blank lines that trailed a removed table (they belong to what follows)."""
    old, new = _lines(before), _lines(after)
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


def _moves_lines(before: str, after: str) -> bool:
    """Whether the edit moved a line of the file elsewhere (tomlkit regroups a split array of tables)."""
    old, new = [line.rstrip("\r\n") for line in _lines(before)], [line.rstrip("\r\n") for line in _lines(after)]
    removed: set[str] = set()
    added: set[str] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag != "equal":
            removed.update(line for line in old[i1:i2] if line.strip())
            added.update(line for line in new[j1:j2] if line.strip())
    return bool(removed & added)


def _line_ends(original: str, text: str) -> str:
    """A file that uses only CRLF gets CRLF on the new lines too."""
    return re.sub(r"(?<!\r)\n", "\r\n", text) if _crlf_only(original) else text


def _crlf_only(text: str) -> bool:
    return "\r\n" in text and text.count("\n") == text.count("\r\n")


# -- arrays of tables, out of tomlkit's way ------------------------------------------------------


def _headers(text: str) -> list[tuple[int, str]]:
    """(offset, line) of each table header line: a line starting with '[' outside any value."""
    found: list[tuple[int, str]] = []
    i, n, depth, line_start = 0, len(text), 0, True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "[" and depth == 0:
            end = text.find("\n", i)
            end = n if end < 0 else end + 1
            found.append((i, text[i:end]))
            i, line_start = end, True
            continue
        line_start = False
        if c == "\n":
            line_start = True
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith('"""', i) or text.startswith("'''", i):
            quote = text[i:i + 3]
            j = i + 3
            while True:
                j = text.find(quote, j)
                if j < 0:
                    return found
                if quote == '"""' and _escaped(text, j):
                    j += 1
                    continue
                break
            while text.startswith(quote[0], j + 3):  # up to two quotes may close the string too
                j += 1
            i = j + 3
            continue
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if c == '"' and text[j] == "\\" else 1
            i = j + 1
            continue
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return found


def _escaped(text: str, j: int) -> bool:
    slashes = 0
    while j - slashes - 1 >= 0 and text[j - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1


def _header_path(line: str) -> tuple[str, ...]:
    node: t.Any = configedit.loads("toml", line.strip() + "\n")
    path: list[str] = []
    while isinstance(node, (dict, list)) and node:
        if isinstance(node, list):
            node = node[-1]
            continue
        key = next(iter(node))
        path.append(key)
        node = node[key]
    return tuple(path)


def _hide_arrays(text: str, eol: str, ops: t.Sequence[configedit.Op]) -> tuple[str, list[str]]:
    """Each array of tables (with its sub-tables) replaced by an empty placeholder table."""
    try:
        headers = [(offset, line, _header_path(line)) for offset, line in _headers(text)]
    except configedit.ConfigEditError:
        return text, []
    touched = {tuple(arg)[:1] for kind, arg, _entry in ops if kind in ("entry", "remove")} | {
        (k,) for kind, arg, _entry in ops if kind == "owned" for k in arg}
    pieces: list[str] = []
    arrays: list[str] = []
    pos = 0
    k = 0
    while k < len(headers):
        offset, line, path = headers[k]
        if not line.lstrip().startswith("[[") or path[:1] in touched:
            k += 1
            continue
        end = k + 1
        while end < len(headers) and headers[end][2][: len(path)] == path:
            end += 1
        stop = headers[end][0] if end < len(headers) else len(text)
        pieces.append(text[pos:offset])
        pieces.append(f"[__bot_bottle_array_{len(arrays)}__]{eol}")
        arrays.append(text[offset:stop])
        pos, k = stop, end
    pieces.append(text[pos:])
    return "".join(pieces), arrays


def _show_arrays(text: str, arrays: list[str], eol: str) -> str:
    for index, original in enumerate(arrays):
        placeholder = f"[__bot_bottle_array_{index}__]{eol}"
        at = text.index(placeholder)
        rest = text[at + len(placeholder):]
        if rest and not original.endswith("\n"):
            original += eol
        text = text[:at] + original + rest
    return text
