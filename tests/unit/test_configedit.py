"""JSON and TOML edits keep every byte the collection does not own."""

from __future__ import annotations

import json
import tomllib

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit as ce
from ansible_collections.bot_bottle.agents.plugins.module_utils import tomledit as te

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


def test_replace_table_keeps_everything_else():
    out = te.replace_table(USER_TOML, ("mcp_servers", "supervise"), {"url": "http://new/mcp", "http_headers": {"X-A": "b c"}})
    data = tomllib.loads(out)
    assert data["mcp_servers"]["supervise"] == {"url": "http://new/mcp", "http_headers": {"X-A": "b c"}}
    assert out.split("[mcp_servers.supervise]", maxsplit=1)[0] == USER_TOML.split("[mcp_servers.supervise]", maxsplit=1)[0]
    assert out.endswith("# about features\n[features]\nx = true\n")


def test_remove_table_removes_only_it_and_its_subtables():
    out = te.replace_table(USER_TOML, ("mcp_servers", "supervise"), None)
    data = tomllib.loads(out)
    assert "supervise" not in data["mcp_servers"] and data["mcp_servers"]["mine"]["command"] == "my-mcp"
    assert "# about features" in out and "# my codex settings" in out


def test_set_keys_changes_one_key_in_place():
    out = te.set_keys(USER_TOML, ("projects", "/work"), {"trust_level": "trusted"})
    assert out == USER_TOML.replace('trust_level = "untrusted"', 'trust_level = "trusted"')


def test_set_keys_creates_missing_tables_and_root_keys():
    assert tomllib.loads(te.set_keys("", ("projects", "/a b"), {"trust_level": "trusted"})) == {
        "projects": {"/a b": {"trust_level": "trusted"}}}
    out = te.set_keys("a = 1\n\n[t]\nb = 2\n", (), {"c": 3})
    assert out == "a = 1\nc = 3\n\n[t]\nb = 2\n"


def test_inline_tables_are_refused_not_rewritten():
    text = 'mcp_servers = { supervise = { url = "x" } }\n'
    with pytest.raises(te.TomlEditError, match=r"inline or with dotted keys; make it a \[mcp_servers.supervise\] table"):
        te.replace_table(text, ("mcp_servers", "supervise"), {"url": "y"})


def test_strings_that_look_like_headers_are_not_headers():
    text = 'doc = """\n[mcp_servers.supervise]\nurl = 1\n"""\n'
    out = te.replace_table(text, ("mcp_servers", "supervise"), {"url": "http://h"})
    assert tomllib.loads(out) == {"doc": "[mcp_servers.supervise]\nurl = 1\n", "mcp_servers": {"supervise": {"url": "http://h"}}}


@pytest.mark.parametrize("value", ["quote \" backslash \\ tab \t é", 7, 1.5, True, ["a", 1], {"k.e y": "v"}])
def test_values_round_trip(value):
    assert tomllib.loads(te.dumps_table(("t",), {"v": value}))["t"]["v"] == value


def test_unparseable_toml_is_an_error():
    with pytest.raises(ce.ConfigEditError, match="does not parse as TOML"):
        ce.set_entry("toml", "[oops\n", ("mcp_servers", "s"), {"url": "http://h"})


def test_unparseable_json_is_an_error():
    with pytest.raises(ce.ConfigEditError, match="does not parse as JSON"):
        ce.set_entry("json", "{nope", ("mcpServers", "s"), {"type": "http"})


def test_json_entry_keeps_order_and_other_keys():
    text = json.dumps({"z": 1, "mcpServers": {"mine": {"type": "stdio"}}, "a": [1]}, indent=2)
    out = ce.set_entry("json", text, ("mcpServers", "supervise"), {"type": "http", "url": "http://h"})
    data = json.loads(out)
    assert list(data) == ["z", "mcpServers", "a"]
    assert data["mcpServers"] == {"mine": {"type": "stdio"}, "supervise": {"type": "http", "url": "http://h"}}
    assert ce.set_entry("json", out, ("mcpServers", "supervise"), {"type": "http", "url": "http://h"}) is None
    removed = json.loads(ce.set_entry("json", out, ("mcpServers", "supervise"), None))
    assert removed["mcpServers"] == {"mine": {"type": "stdio"}}


def test_unchanged_entry_means_no_write_even_if_formatted_differently():
    text = '[mcp_servers.s]\nurl="http://h"   # mine\n'
    assert ce.set_entry("toml", text, ("mcp_servers", "s"), {"url": "http://h"}) is None


def test_merge_owned_json_deep_merges():
    text = json.dumps({"projects": {"/a": {"x": 1}}, "hasCompletedOnboarding": False, "userID": "u"})
    out = json.loads(ce.merge_owned("json", text, json.dumps({"hasCompletedOnboarding": True, "projects": {"/a": {"t": True}}})))
    assert out == {"projects": {"/a": {"x": 1, "t": True}}, "hasCompletedOnboarding": True, "userID": "u"}
    assert ce.merge_owned("json", json.dumps(out), json.dumps({"projects": {"/a": {"t": True}}})) is None


def test_diff_views_hide_user_data_and_header_values():
    view = ce.owned_view("json", json.dumps({"primaryApiKey": "sk-user", "hasCompletedOnboarding": False}),
                         json.dumps({"hasCompletedOnboarding": True}))
    assert "sk-user" not in view and "false" in view
    shown = ce.entry_view({"url": "http://h", "headers": {"Authorization": "Bearer SECRET"}})
    assert "SECRET" not in shown and "Authorization" in shown
