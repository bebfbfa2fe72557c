"""Property-based: every agent config the agent's own parser accepts is edited correctly.

Generated configs hold the user's own keys in every form the format allows (TOML: [tables],
quoted headers, inline tables, dotted keys at the root and under a header, arrays of tables,
comments, CRLF, a BOM; JSON: nested objects and arrays). The edit goes through the real path:
the guest module's passes and, for an existing TOML file, the controller's tomlkit edit. Checked
against the stdlib parsers: the owned keys are set, every user key keeps its value, no key
appears from nowhere, and (TOML) every user line is still there byte for byte, in order.

CI (``CI`` set): a fixed example budget with a derandomized seed; locally: more examples.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import tomllib
import typing as t
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit as ce
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import guest
from test_bottle import FakeAction, params  # noqa: E402 (tests/unit is on sys.path)

settings.register_profile("bot-bottle-ci", max_examples=60, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("bot-bottle-local", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("bot-bottle-ci" if os.environ.get("CI") else "bot-bottle-local")

HOME = "/home/node"
TOML_OWNED = {"features": {"daemon_auto_start": False}, "projects": {HOME: {"trust_level": "trusted"}}}
JSON_OWNED = {"hasCompletedOnboarding": True, "projects": {HOME: {"hasTrustDialogAccepted": True}}}
ENTRY = {"url": "http://host.docker.internal:8811/mcp", "http_headers": {"X-Key": "v"}}


def b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


# -- the invariants, independent of the code under test ------------------------------------------


def leaves(data: t.Any, path: tuple = ()) -> dict[tuple, t.Any]:
    if isinstance(data, dict) and data:
        out: dict[tuple, t.Any] = {}
        for key, value in data.items():
            out.update(leaves(value, path + (key,)))
        return out
    return {path: data}


def check_invariants(before: dict, after: dict, owned: dict, entry_path: tuple, entry: dict | None) -> None:
    owned_leaves = leaves(owned)
    for path, value in owned_leaves.items():
        assert ce.get_in(after, path) == value, f"owned key {path} not set"
    got = ce.get_in(after, entry_path)
    assert got == entry, f"entry {entry_path} is {got!r}"
    for path, value in leaves(before).items():
        if path in owned_leaves or path[: len(entry_path)] == entry_path or value == {}:
            continue
        assert ce.get_in(after, path) == value, f"user key {path} changed"
    before_leaves = leaves(before)
    for path in leaves(after):
        known = path in owned_leaves or path[: len(entry_path)] == entry_path or path in before_leaves
        assert known or ce.get_in(after, path) == {}, f"key {path} from nowhere"


# -- TOML documents in every form ------------------------------------------------------------------

bare_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True)
odd_key = st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), min_size=1, max_size=6)
key = st.one_of(bare_key, bare_key, odd_key).filter(
    lambda k: k not in ("features", "projects", "mcp_servers", "supervise", "daemon_auto_start", "trust_level", HOME, "profiles"))
text_value = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
scalar = st.one_of(text_value, st.integers(-10**6, 10**6), st.booleans(),
                   st.floats(allow_nan=False, allow_infinity=False, width=32))
value = st.one_of(scalar, st.lists(scalar, max_size=3))
table = st.dictionaries(key, value, max_size=3)

FORMS = ("header", "quoted", "inline", "dotted", "header_dotted")


def q(k: str) -> str:
    return ce.dumps_key(k)


def qq(k: str) -> str:  # always quoted
    return json.dumps(k, ensure_ascii=False)


def literal_or_basic(v: t.Any, draw) -> str:
    if isinstance(v, str) and "'" not in v and not any(c in v for c in "\n\r\x7f") and all(ord(c) >= 32 or c == "\t" for c in v) and draw(st.booleans()):
        return f"'{v}'"
    return ce.dumps_value(v)


class Doc:
    """Lines with a tag: True for a user line (must survive byte for byte)."""

    def __init__(self) -> None:
        self.root: list[list[tuple[str, bool]]] = []  # statements in the root section (groups of lines)
        self.tables: list[list[tuple[str, bool]]] = []  # header sections


@st.composite
def toml_configs(draw) -> tuple[str, dict]:
    """(text, intent) for a config.toml a user could have."""
    doc = Doc()
    c = iter(range(10**6))

    def comment() -> list[tuple[str, bool]]:
        return [(f"# user comment {next(c)}", True)] if draw(st.integers(0, 3)) == 0 else []

    def kv(k: str, v: t.Any, owned: bool, prefix: str = "") -> tuple[str, bool]:
        trail = f"  # note {next(c)}" if draw(st.integers(0, 4)) == 0 else ""
        return (f"{prefix}{q(k)} = {literal_or_basic(v, draw)}{trail}", not owned)

    # the groups: name -> {child -> dict} (two levels) or {key -> value} (one level)
    root_keys = draw(st.dictionaries(key, scalar, max_size=3))
    for name, v in root_keys.items():
        doc.root.append(comment() + [kv(name, v, False)])
    # A table may not reuse a top-level key (by the key itself: a rendered line may escape it).
    user_tables = draw(st.dictionaries(key.filter(lambda k: k not in root_keys), table, max_size=2))
    features = draw(table)
    if draw(st.booleans()):
        features["daemon_auto_start"] = draw(st.booleans())
    projects = draw(st.dictionaries(st.from_regex(r"/[a-z]{1,5}( [a-z]{1,3})?", fullmatch=True).filter(lambda p: p != HOME),
                                    st.fixed_dictionaries({"trust_level": st.sampled_from(["trusted", "untrusted"])}), max_size=2))
    if draw(st.booleans()):
        projects[HOME] = {"trust_level": draw(st.sampled_from(["trusted", "untrusted"])), **draw(table)}
    env = st.dictionaries(bare_key, text_value, min_size=1, max_size=2)
    servers = draw(st.dictionaries(key, st.fixed_dictionaries({"url": text_value}, optional={"env": env}), max_size=2))
    if draw(st.booleans()):
        servers["supervise"] = draw(st.fixed_dictionaries({"url": text_value}, optional={
            "env": st.dictionaries(bare_key, text_value, min_size=1, max_size=2), "enabled": st.booleans()}))

    def owned_path(path: tuple) -> bool:
        return path in (("features", "daemon_auto_start"), ("projects", HOME, "trust_level")) or path[:2] == ("mcp_servers", "supervise")

    def render_group(top: str, children: dict, depth: int) -> None:
        if not children:
            return
        form = draw(st.sampled_from(FORMS))
        touched = top in ("features", "projects", "mcp_servers")
        if form == "inline":
            doc.root.append(comment() + [(f"{q(top)} = {ce.dumps_value(children)}", not touched)])
            return
        if form == "dotted":
            lines = comment()
            for path, v in leaves(children).items():
                full = (top,) + path
                if v == {}:
                    continue
                lines.append((".".join(q(p) for p in full) + f" = {ce.dumps_value(v)}", not owned_path(full)))
            doc.root.append(lines)
            return
        if depth == 1 or form == "header_dotted":
            header_user = not all(owned_path((top,) + p) for p in leaves(children))
            lines = comment() + [(f"[{qq(top) if form == 'quoted' else q(top)}]", header_user)]
            for path, v in leaves(children).items():
                full = (top,) + path
                lines += comment() if not owned_path(full) else []
                lines.append((".".join(q(p) for p in path) + f" = {ce.dumps_value(v)}", not owned_path(full)))
            doc.tables.append(lines)
            return
        for child, content in children.items():  # [top.child] headers, nested dicts inline or as sub-headers
            owned_table = (top, child) == ("mcp_servers", "supervise")
            hk = qq if form == "quoted" else q
            # a comment right before our entry's header may go with it (when what precedes is ours too)
            lines = [(line, not owned_table) for line, _user in comment()] + [(f"[{hk(top)}.{hk(child)}]", not owned_table)]
            subs = []
            for k, v in content.items():
                if isinstance(v, dict) and draw(st.booleans()):
                    subs.append([(f"[{hk(top)}.{hk(child)}.{hk(k)}]", not owned_table)]
                                + [kv(k2, v2, owned_table) for k2, v2 in v.items()])
                else:
                    lines += comment() if not owned_table else []
                    lines.append(kv(k, v, owned_path((top, child, k))))
            doc.tables.append(lines)
            doc.tables.extend(subs)

    for name, content in user_tables.items():
        render_group(name, content, 1)
    render_group("features", features, 1)
    render_group("projects", projects, 2)
    render_group("mcp_servers", servers, 2)
    if draw(st.booleans()):  # an array of tables, its elements together or apart, one with a sub-table
        first = [("[[profiles]]", True), ('name = "a"', True), ("[profiles.env]", True), ('K = "v"', True)]
        second = [("[[profiles]]", True), ('name = "b"', True)]
        doc.tables.extend([first, second] if draw(st.booleans()) else [first + second])

    root = draw(st.permutations(doc.root))
    tables = draw(st.permutations(doc.tables))
    lines = [line for group in root for line in group]
    for group in tables:
        if draw(st.booleans()):
            lines.append(("", True))
        lines.extend(group)
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    final_newline = draw(st.booleans()) or not lines
    text = bom + eol.join(line for line, _user in lines) + (eol if final_newline else "")
    user_lines = [line + eol for line, user in lines if user and line]
    if not final_newline and lines and lines[-1][1] and lines[-1][0]:
        user_lines[-1] = user_lines[-1][: -len(eol)]
    return text, {"user_lines": user_lines, "eol": eol, "bom": bom}


def is_subsequence(needles: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


def run_codex_edit(text: str, entry: dict | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.toml"
        config.write_bytes(text.encode("utf-8"))
        args = params(
            files=[{"path": str(config), "content_b64": b64(ce.dumps_document(TOML_OWNED)), "merge": "toml"}],
            config_entries=[{"path": str(config), "format": "toml", "entry_path": ["mcp_servers", "supervise"],
                             "entry": entry}])
        outcome = guest.run_guest_state(FakeAction(), args, {})
        assert not outcome.get("failed"), outcome.get("msg")
        again = FakeAction()
        assert guest.run_guest_state(again, args, {})["changes"] == [] and len(again.calls) == 1, "converged"
        return config.read_bytes()


@settings(PROFILE)
@given(toml_configs(), st.sampled_from([ENTRY, None]))
def test_toml_configs_are_edited_keeping_user_keys_and_bytes(config, entry):
    text, intent = config
    before = tomllib.loads(text.lstrip("\ufeff"))  # the agent's parser accepts it (stand-in: tomllib)
    out = run_codex_edit(text, entry)
    out_text = out.decode("utf-8")
    assert out_text.startswith("\ufeff") == bool(intent["bom"]), "BOM kept"
    body = out_text.lstrip("\ufeff")
    after = tomllib.loads(body)
    check_invariants(before, after, TOML_OWNED, ("mcp_servers", "supervise"), entry)
    if "\r\n" in text:
        assert "\n" not in body.replace("\r\n", ""), "a CRLF file stays CRLF"
    out_lines = re.findall(r"[^\n]*\n|[^\n]+$", body)  # not splitlines: U+0085 is no line end in TOML
    user_lines = list(intent["user_lines"])
    if user_lines and not user_lines[-1].endswith("\n") and out_lines[-1:] != user_lines[-1:]:
        # a last line without a line end gets one when lines follow (LF when the file has none)
        user_lines[-1] += intent["eol"] if "\n" in text else "\n"
    missing = [line for line in user_lines if line not in out_lines]
    assert not missing, f"user lines changed: {missing}"
    assert is_subsequence(user_lines, out_lines), "user lines keep their order"


# -- JSON -------------------------------------------------------------------------------------------

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), text_value)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text_value, inner, max_size=3)),
                          max_leaves=8)


@st.composite
def json_configs(draw) -> str:
    data = draw(st.dictionaries(text_value.filter(lambda k: k not in ("hasCompletedOnboarding", "projects", "mcpServers")),
                                json_value, max_size=4))
    if draw(st.booleans()):
        data["hasCompletedOnboarding"] = draw(json_scalar)
    projects = draw(st.dictionaries(text_value.filter(lambda p: p != HOME), json_value, max_size=2))
    if draw(st.booleans()):
        projects[HOME] = draw(st.dictionaries(text_value.filter(lambda k: k != "hasTrustDialogAccepted"), json_value, max_size=2))
    if projects or draw(st.booleans()):
        data["projects"] = projects
    servers = draw(st.dictionaries(text_value.filter(lambda k: k != "supervise"), json_value, max_size=2))
    if draw(st.booleans()):
        servers["supervise"] = draw(st.dictionaries(text_value, json_value, max_size=2))
    if servers or draw(st.booleans()):
        data["mcpServers"] = servers
    keys = list(data)
    order = draw(st.permutations(keys))
    data = {k: data[k] for k in order}
    text = json.dumps(data, indent=draw(st.sampled_from([None, 2, 4])), ensure_ascii=draw(st.booleans()))
    return draw(st.sampled_from(["", "\ufeff"])) + text


@settings(PROFILE)
@given(json_configs(), st.sampled_from([ENTRY, None]))
def test_json_configs_keep_every_user_key(text, entry):
    before = json.loads(text.lstrip("\ufeff"))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / ".claude.json"
        config.write_bytes(text.encode("utf-8"))
        args = params(
            files=[{"path": str(config), "content_b64": b64(json.dumps(JSON_OWNED)), "merge": "json"}],
            config_entries=[{"path": str(config), "format": "json", "entry_path": ["mcpServers", "supervise"], "entry": entry}])
        action = FakeAction()
        assert not guest.run_guest_state(action, args, {}).get("failed") and len(action.calls) == 1
        out = config.read_text(encoding="utf-8")
        again = FakeAction()
        assert guest.run_guest_state(again, args, {})["changes"] == []
    assert out.startswith("\ufeff") == text.startswith("\ufeff")
    check_invariants(before, json.loads(out.lstrip("\ufeff")), JSON_OWNED, ("mcpServers", "supervise"), entry)


# -- the user's settings (agent_settings): merge, record, remove only what was set -----------------

settings_key = key.filter(lambda k: k not in ("hasCompletedOnboarding", "mcpServers"))
settings_tree = st.dictionaries(settings_key, st.one_of(value, st.dictionaries(settings_key, value, min_size=1, max_size=2)),
                                max_size=3)


def related(path: tuple, others: t.Iterable[tuple]) -> bool:
    """``path`` is one of ``others`` or lies above or below one of them."""
    return any(path[:min(len(path), len(o))] == o[:min(len(path), len(o))] for o in others)


def merge_settings(config: Path, fmt: str, settings_data: dict, check_mode: bool = False) -> dict:
    import tomlkit

    content = tomlkit.dumps(settings_data) if fmt == "toml" else json.dumps(settings_data)
    args = params(files=[{"path": str(config), "content_b64": b64(content), "merge": fmt,
                          "record": str(config.parent / "owned-settings.json")}])
    return guest.run_guest_state(FakeAction(check_mode=check_mode), args, {})


def parse(fmt: str, config: Path) -> dict:
    text = config.read_text(encoding="utf-8").lstrip("\ufeff")
    return tomllib.loads(text) if fmt == "toml" else json.loads(text)


def assert_refused(outcome: dict, config: Path, before: bytes) -> None:
    """A setting the file cannot take as it is (a key under a value of the user's that is no table; in
    TOML, a table of the user's that would have to become a value): refused, nothing written."""
    assert "not a table" in outcome["msg"] or "cannot be edited without changing" in outcome["msg"], outcome["msg"]
    assert config.read_bytes() == before


def check_settings_lifecycle(fmt: str, text: str, first: dict, second: dict) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / f"settings.{fmt}"
        config.write_bytes(text.encode("utf-8"))
        user = parse(fmt, config)
        predicted = merge_settings(config, fmt, first, check_mode=True)
        outcome = merge_settings(config, fmt, first)
        if outcome.get("failed"):
            assert_refused(outcome, config, text.encode("utf-8"))
            return
        assert predicted["changes"] == outcome["changes"], "check mode predicts"
        after_first = parse(fmt, config)
        for path, v in ce.leaves(first).items():
            assert ce.get_in(after_first, path) == v, f"setting {path} not merged"
        written = config.read_bytes()
        outcome = merge_settings(config, fmt, second)
        if outcome.get("failed"):
            assert_refused(outcome, config, written)
            return
        after = parse(fmt, config)
        assert merge_settings(config, fmt, second)["changes"] == [], "converged"
        wanted = ce.leaves(second)
        for path, v in wanted.items():
            assert ce.get_in(after, path) == v, f"setting {path} not merged"
        user_leaves = {p: v for p, v in leaves(user).items() if v != {}}
        for path, v in user_leaves.items():
            if not related(path, ce.leaves(first)) and not related(path, wanted):
                assert ce.leaf_value(after, path) == v, f"user key {path} changed"
        for path, v in ce.leaves(first).items():
            if related(path, wanted):
                continue
            if user_leaves.get(path, ce.MISSING) == v:
                assert ce.leaf_value(after, path) == v, f"user key {path} (it held the value already) was removed"
            else:
                assert ce.leaf_value(after, path) is ce.MISSING, f"{path}, set by the first run only, was left"


@settings(PROFILE)
@given(toml_configs(), settings_tree, settings_tree)
def test_toml_settings_merge_and_later_removal_touch_only_what_was_set(config, first, second):
    check_settings_lifecycle("toml", config[0], first, second)


@settings(PROFILE)
@given(json_configs(), settings_tree, settings_tree)
def test_json_settings_merge_and_later_removal_touch_only_what_was_set(text, first, second):
    check_settings_lifecycle("json", text, first, second)
