# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small TOML editor that changes only the statements it owns (stdlib only).

Bottles have no tomlkit, so edits happen in the guest with this module: the text is cut
into statements (table headers, key/value statements, comments and blank lines) using
``tomllib`` itself to find where each statement ends, only the owned statements are
rewritten, and every other byte is kept. The result is parsed again and must equal the
intended data, or the edit is refused and the file left alone.
"""

from __future__ import annotations

import copy
import json
import re
import typing as t

try:
    import tomllib
except ImportError:  # pragma: no cover - Python < 3.11 in the bottle
    tomllib = None  # type: ignore[assignment]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

TablePath = t.Tuple[str, ...]


class TomlEditError(ValueError):
    """The TOML text cannot be edited safely; the caller keeps the file as it is."""


def _require_tomllib() -> None:
    if tomllib is None:
        raise TomlEditError("editing TOML needs Python 3.11 or newer (tomllib) in the bottle")


def loads(text: str) -> dict[str, t.Any]:
    _require_tomllib()
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlEditError(f"does not parse as TOML: {exc}") from None


# -- writing values -------------------------------------------------------------------


def dumps_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def dumps_value(value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are valid TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(dumps_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{dumps_key(str(k))} = {dumps_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise TomlEditError(f"cannot write a {type(value).__name__} value as TOML")


def dumps_table(path: TablePath, values: t.Mapping[str, t.Any]) -> str:
    header = "[" + ".".join(dumps_key(p) for p in path) + "]\n"
    return header + "".join(f"{dumps_key(k)} = {dumps_value(v)}\n" for k, v in values.items())


# -- reading statements ---------------------------------------------------------------


class _Chunk(t.NamedTuple):
    kind: str  # "header", "array_header", "kv" or "trivia"
    path: TablePath  # header: the table path; kv: the key path
    text: str


def _path_of(parsed: t.Any) -> TablePath:
    path: list[str] = []
    while isinstance(parsed, dict) and len(parsed) == 1:
        key = next(iter(parsed))
        path.append(key)
        parsed = parsed[key]
    return tuple(path)


def _chunks(text: str) -> list[_Chunk]:
    lines = text.splitlines(keepends=True)
    chunks: list[_Chunk] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            chunks.append(_Chunk("trivia", (), line))
            i += 1
            continue
        for j in range(i + 1, len(lines) + 1):
            statement = "".join(lines[i:j])
            try:
                parsed = tomllib.loads(statement)
            except tomllib.TOMLDecodeError:
                continue
            break
        else:
            raise TomlEditError(f"cannot find the end of the statement on line {i + 1}")
        if stripped.startswith("[["):
            chunks.append(_Chunk("array_header", _path_of(parsed), statement))
        elif stripped.startswith("["):
            chunks.append(_Chunk("header", _path_of(parsed), statement))
        else:
            chunks.append(_Chunk("kv", _path_of(parsed)[:1], statement))
        i = j
    return chunks


def _sections(chunks: list[_Chunk]) -> list[tuple[TablePath | None, list[_Chunk]]]:
    """Chunks grouped under their header; the root section has path ()."""
    sections: list[tuple[TablePath | None, list[_Chunk]]] = [((), [])]
    for chunk in chunks:
        if chunk.kind == "header":
            sections.append((chunk.path, [chunk]))
        elif chunk.kind == "array_header":
            sections.append((None, [chunk]))  # never one of ours
        else:
            sections[-1][1].append(chunk)
    return sections


def _join(sections: list[tuple[TablePath | None, list[_Chunk]]]) -> str:
    return "".join(c.text for section in sections for c in section[1])


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


# -- the edits ------------------------------------------------------------------------


def get_table(data: t.Mapping[str, t.Any], path: TablePath) -> t.Any:
    node: t.Any = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _set_in(data: dict[str, t.Any], path: TablePath, value: t.Any) -> None:
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def _checked(new_text: str, expected: dict[str, t.Any]) -> str:
    if loads(new_text) != expected:
        raise TomlEditError("the edit would change more than the owned entries; file left as it was")
    return new_text


def _owned_header_check(text: str, data: dict[str, t.Any], path: TablePath) -> list:
    sections = _sections(_chunks(text))
    has_header = any(section[0] == path for section in sections)
    if get_table(data, path) is not None and not has_header:
        name = ".".join(dumps_key(p) for p in path)
        raise TomlEditError(
            f"{name} is written inline or with dotted keys; make it a [{name}] table to let it be edited"
        )
    return sections


def replace_table(text: str, path: TablePath, values: t.Mapping[str, t.Any] | None) -> str:
    """Set the table at ``path`` to exactly ``values`` (None removes it and its sub-tables).

    The table stays where it was; comments that follow it (about the next table) stay too.
    """
    data = loads(text)
    pieces: list[str] = []
    placed = values is None
    for section_path, chunks in _owned_header_check(text, data, path):
        if section_path is None or section_path[: len(path)] != path:
            pieces.append("".join(c.text for c in chunks))
            continue
        if not placed:
            pieces.append(dumps_table(path, values))  # type: ignore[arg-type]
            placed = True
        pieces.append("".join(c.text for c in _trailing_trivia(chunks)))
    new_text = "".join(pieces)
    if not placed:
        new_text = _with_newline(new_text)
        new_text += ("\n" if new_text.strip() else "") + dumps_table(path, values)  # type: ignore[arg-type]
    expected = copy.deepcopy(data)
    _set_in(expected, path, dict(values) if values is not None else None)
    return _checked(new_text, expected)


def _trailing_trivia(chunks: list[_Chunk]) -> list[_Chunk]:
    last = max((i for i, c in enumerate(chunks) if c.kind != "trivia"), default=-1)
    return chunks[last + 1:]


def set_keys(text: str, path: TablePath, values: t.Mapping[str, t.Any]) -> str:
    """Set ``values`` in the table at ``path``, keeping its other keys and comments."""
    data = loads(text)
    sections = _owned_header_check(text, data, path) if path else _sections(_chunks(text))
    target = next((chunks for p, chunks in sections if p == path), None)
    pending = dict(values)
    if target is not None:
        for index, chunk in enumerate(target):
            if chunk.kind == "kv" and chunk.path and chunk.path[0] in pending:
                key = chunk.path[0]
                target[index] = _Chunk("kv", (key,), f"{dumps_key(key)} = {dumps_value(pending.pop(key))}\n")
        last_kv = max((i for i, c in enumerate(target) if c.kind != "trivia"), default=-1)
        added = [_Chunk("kv", (k,), f"{dumps_key(k)} = {dumps_value(v)}\n") for k, v in pending.items()]
        if added and last_kv >= 0 and not target[last_kv].text.endswith("\n"):
            target[last_kv] = target[last_kv]._replace(text=target[last_kv].text + "\n")
        target[last_kv + 1:last_kv + 1] = added
        new_text = _join(sections)
    else:
        new_text = _with_newline(text)
        new_text += ("\n" if new_text.strip() else "") + dumps_table(path, pending)
    expected = copy.deepcopy(data)
    table = expected
    for key in path:
        table = table.setdefault(key, {})
    table.update(values)
    return _checked(new_text, expected)


def merge_owned_keys(text: str, owned_text: str) -> str:
    """Set every key of the TOML document ``owned_text`` in ``text``, table by table."""
    for path, values in _leaf_tables(loads(owned_text), ()):
        text = set_keys(text, path, values)
    return text


def _leaf_tables(data: t.Mapping[str, t.Any], path: TablePath) -> t.Iterator[tuple[TablePath, dict[str, t.Any]]]:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    if scalars or not data:
        yield path, scalars
    for key, value in data.items():
        if isinstance(value, dict):
            yield from _leaf_tables(value, path + (key,))
