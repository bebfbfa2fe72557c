"""Agent configs: owned keys and entries on data (guest), TOML edits that keep the user's bytes (controller)."""

from __future__ import annotations

import json
import tomllib

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit as ce
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import tomlconfig

OWNED = ("owned", {"features": {"daemon_auto_start": False}, "projects": {"/home/node": {"trust_level": "trusted"}}}, None)
ENTRY = ("entry", ("mcp_servers", "supervise"), {"url": "http://new/mcp", "http_headers": {"X-K": "v"}})
REMOVE = ("entry", ("mcp_servers", "supervise"), None)

USER_TOML = """# my codex settings
model = "o3"  # inline comment

[mcp_servers.mine]
command = "my-mcp"
args = ["--a",
  "--b"]  # multi-line array

# about the project
[projects."/work"]
trust_level = "untrusted"
note = "kept"

[mcp_servers.supervise]
url = "http://old"
[mcp_servers.supervise.env]
A = "b"

# about features
[features]
x = true
"""


def edit(text: str, *ops) -> str:
    return tomlconfig.edit(text.encode("utf-8"), ops).decode("utf-8")


def expected(text: str, *ops) -> dict:
    return ce.apply_ops(tomllib.loads(text.lstrip("\ufeff")), ops)


# -- data ------------------------------------------------------------------------------------


def test_owned_keys_are_set_and_user_keys_kept():
    data = {"features": {"x": 1}, "model": "o3"}
    out = ce.apply_ops(data, [OWNED])
    assert out == {"features": {"x": 1, "daemon_auto_start": False}, "model": "o3",
                   "projects": {"/home/node": {"trust_level": "trusted"}}}
    assert data == {"features": {"x": 1}, "model": "o3"}, "apply_ops copies"


def test_entry_is_made_exact_and_removed():
    data = {"mcp_servers": {"supervise": {"url": "old", "env": {"A": "b"}}, "mine": {"url": "m"}}}
    assert ce.apply_ops(data, [ENTRY])["mcp_servers"] == {"supervise": ENTRY[2], "mine": {"url": "m"}}
    assert ce.apply_ops(data, [REMOVE])["mcp_servers"] == {"mine": {"url": "m"}}
    assert ce.apply_ops({}, [REMOVE]) == {}


def test_a_user_value_in_the_way_is_an_error_not_overwritten():
    with pytest.raises(ce.ConfigEditError, match="projects that is not a table"):
        ce.apply_ops({"projects": "mine"}, [OWNED])


def test_bom_is_accepted_and_bad_files_are_errors():
    assert ce.loads("toml", "\ufeffa = 1\n") == {"a": 1}
    assert ce.loads("json", "\ufeff{\"a\": 1}") == {"a": 1}
    with pytest.raises(ce.ConfigEditError, match="does not parse as TOML"):
        ce.loads("toml", "[oops\n")
    with pytest.raises(ce.ConfigEditError, match="does not parse as JSON"):
        ce.loads("json", "{nope")
    with pytest.raises(ce.ConfigEditError, match="not an object"):
        ce.loads("json", "[1]")


@pytest.mark.parametrize("value", ["quote \" backslash \\ tab \t é", 7, 1.5, True, ["a", 1], {"k.e y": "v"}])
def test_values_round_trip(value):
    assert tomllib.loads(ce.dumps_table(("t",), {"v": value}))["t"]["v"] == value


def test_a_new_toml_file_is_rendered_in_the_guest():
    data = ce.apply_ops({}, [OWNED, ENTRY])
    text = ce.render_new("toml", data)
    assert tomllib.loads(text) == data
    assert '[projects."/home/node"]' in text and "[mcp_servers.supervise]" in text


def test_diff_views_hide_user_data_and_header_values():
    view = ce.owned_view({"primaryApiKey": "sk-user", "hasCompletedOnboarding": False}, {"hasCompletedOnboarding": True})
    assert "sk-user" not in view and "false" in view
    shown = ce.entry_view({"url": "http://h", "headers": {"Authorization": "Bearer SECRET"}})
    assert "SECRET" not in shown and "Authorization" in shown


# -- TOML edits on the controller (tomlkit) -------------------------------------------------


def test_edit_keeps_every_user_byte_of_a_plain_file():
    out = edit(USER_TOML, OWNED, ENTRY)
    assert tomllib.loads(out) == expected(USER_TOML, OWNED, ENTRY)
    assert out.startswith(USER_TOML.split("[mcp_servers.supervise]", maxsplit=1)[0])
    assert "# about features\n[features]\nx = true\n" in out


def test_removing_an_entry_removes_only_it_and_keeps_the_comment_after_it():
    out = edit(USER_TOML, REMOVE)
    assert tomllib.loads(out) == expected(USER_TOML, REMOVE)
    assert out == USER_TOML.replace('[mcp_servers.supervise]\nurl = "http://old"\n[mcp_servers.supervise.env]\nA = "b"\n', "")


def test_set_key_changes_one_value_in_place():
    text = 'model = "o3"\n\n[projects."/home/node"]\ntrust_level = "untrusted"  # mine\nnote = 1\n\n[features]\ndaemon_auto_start = false\n'
    assert edit(text, OWNED) == text.replace('"untrusted"', '"trusted"')


@pytest.mark.parametrize("text", [
    'mcp_servers.supervise = {url = "http://old"}\n',
    'mcp_servers = {supervise = {url = "http://old"}, mine = {url = "m"}}\n',
    '[mcp_servers]\nsupervise.url = "http://old"\nmine.url = "m"\n',
    '["mcp_servers"."supervise"]\nurl = "http://old"\n',
    'mcp_servers."supervise".url = "http://old"\n[features]\nother = 1\n',
    'a = true\nprojects."/od".trust_level = "untrusted"\nb = 1\n',  # a new table among dotted keys: inline
    'mcp_servers.e.url = "u"\nmcp_servers.C.url = "r"',  # no line end at the end either
])
@pytest.mark.parametrize("ops", [(OWNED, ENTRY), (REMOVE,)], ids=["set", "remove"])
def test_inline_dotted_and_quoted_forms_are_edited_not_refused(text, ops):
    out = edit(text, *ops)
    assert tomllib.loads(out) == expected(text, *ops) or ce.same_data(tomllib.loads(out), expected(text, *ops))
    if "mine" in text:
        assert 'mine = {url = "m"}' in out or 'mine.url = "m"' in out, "the user's entry keeps its form"


def test_bom_and_crlf_are_kept():
    text = '\ufeff# c\r\nmodel = "o3"\r\n\r\n[projects."/home/node"]\r\ntrust_level = "untrusted"\r\n'
    out = tomlconfig.edit(text.encode("utf-8"), [OWNED, ENTRY])
    assert out.startswith(b"\xef\xbb\xbf# c\r\nmodel")
    assert b"\n" not in out.replace(b"\r\n", b""), "no bare LF mixed into a CRLF file"
    assert tomllib.loads(out.decode("utf-8").lstrip("\ufeff")) == expected(text, OWNED, ENTRY)


def test_converged_file_is_returned_unchanged():
    text = '[features]\ndaemon_auto_start=false # x\n[projects."/home/node"]\ntrust_level="trusted"\n'
    assert edit(text, OWNED) == text


def test_strings_that_look_like_headers_are_not_headers():
    text = 'doc = """\n[mcp_servers.supervise]\nurl = 1\n"""\n'
    out = edit(text, ENTRY)
    assert tomllib.loads(out) == {"doc": "[mcp_servers.supervise]\nurl = 1\n", "mcp_servers": {"supervise": ENTRY[2]}}


def test_json_render_keeps_order_and_other_keys():
    data = {"z": 1, "mcpServers": {"mine": {"type": "stdio"}}, "a": [1]}
    out = json.loads(ce.dumps_json(ce.apply_ops(data, [("entry", ("mcpServers", "supervise"), {"type": "http"})])))
    assert list(out) == ["z", "mcpServers", "a"]
    assert out["mcpServers"] == {"mine": {"type": "stdio"}, "supervise": {"type": "http"}}


def test_an_array_of_tables_between_split_tables_stays_where_it_is():
    text = ('S = 1\n[mcp_servers.mine]\nurl = "m"\n[[profiles]]\nname = "a"\n[profiles.env]\nK = "v"\n'
            '[[profiles]]\nname = "b"\n[mcp_servers.supervise]\nurl = "old"\n')
    for ops in ((OWNED, ENTRY), (REMOVE,)):
        out = edit(text, *ops)
        assert tomllib.loads(out) == expected(text, *ops)
        assert out.startswith(text.split("[mcp_servers.supervise]", maxsplit=1)[0]), "tomlkit alone moves the tables around the array"


def test_header_lines_inside_strings_and_arrays_are_not_headers():
    text = 'a = """\n[[x]]\n"""\nb = [\n[1, 2],\n]\nc = \'\'\'\n[y]\'\'\'\n[[real]]\nk = 1\n[t]\n'
    assert [line for _offset, line in tomlconfig._headers(text)] == ["[[real]]\n", "[t]\n"]


# -- the marked block of standing instructions -----------------------------------------------------


@pytest.mark.parametrize("user", ["", "# Mine\n", "# Mine\n\nmore", "a\n\n\n"])
def test_a_block_is_added_replaced_and_removed_keeping_the_users_text(user):
    added = ce.with_block(user, "Be brief.")
    assert added.startswith(user) and added.endswith(f"{ce.BLOCK_BEGIN}\nBe brief.\n{ce.BLOCK_END}\n")
    replaced = ce.with_block(added, "Be kind.\n")
    assert replaced == added.replace("Be brief.", "Be kind.")
    assert ce.with_block(replaced, "Be kind.\n") == replaced
    removed = ce.with_block(replaced, "")
    assert removed == (user if user.endswith("\n") or not user else user + "\n")


def test_a_block_in_the_middle_keeps_what_follows():
    text = f"top\n{ce.BLOCK_BEGIN}\nold\n{ce.BLOCK_END}\nbottom\n"
    assert ce.with_block(text, "new") == f"top\n{ce.BLOCK_BEGIN}\nnew\n{ce.BLOCK_END}\nbottom\n"
    assert ce.with_block(text, "") == "top\nbottom\n"


@pytest.mark.parametrize("text", [f"{ce.BLOCK_BEGIN}\nx\n", f"{ce.BLOCK_END}\n{ce.BLOCK_BEGIN}\n",
                                  f"{ce.BLOCK_BEGIN}\n{ce.BLOCK_END}\n{ce.BLOCK_BEGIN}\n{ce.BLOCK_END}\n"])
def test_a_broken_block_is_refused(text):
    with pytest.raises(ce.ConfigEditError, match="broken bot_bottle.agents block"):
        ce.with_block(text, "x")


def test_settings_ops_remove_only_unchanged_keys_the_collection_set():
    data = {"a": 1, "b": {"c": [1]}, "u": "user"}
    recorded = {("a",): ce.digest(1), ("b", "c"): ce.digest([9]), ("gone",): ce.digest(0)}
    ops, owned = ce.settings_ops(data, {"u": "user", "n": 2}, recorded)
    # a still holds what was set: removed; b.c was changed by the user: kept; gone is not there.
    assert ops == [("remove", ("a",), None), ("owned", {"u": "user", "n": 2}, None)]
    # u already held the value: the user's, never recorded; n is new.
    assert owned == {("n",): ce.digest(2)}
    assert ce.apply_ops(data, ops) == {"b": {"c": [1]}, "u": "user", "n": 2}


def test_remove_leaf_drops_tables_it_empties():
    assert ce.remove_leaf({"a": {"b": {"c": 1}}, "k": 1}, ("a", "b", "c")) == {"k": 1}
    assert ce.remove_leaf({"a": {"b": {"c": 1}, "d": 2}}, ("a", "b", "c")) == {"a": {"d": 2}}
