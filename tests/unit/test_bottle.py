"""The guest-side apply logic on a local directory (pure file work, no Ansible)."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils.bottle import ApplyError, Bottle

OWNER = "root:root"


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_dirs_files_and_modes(tmp_path):
    b = Bottle(check_mode=False, run=None)
    b.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    b.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert mode(tmp_path / "d") == 0o700 and mode(tmp_path / "d" / "f") == 0o600
    assert (tmp_path / "d" / "f").read_bytes() == b"hello"
    assert len(b.changes) == 2
    again = Bottle(check_mode=False, run=None)
    again.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    again.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert again.changes == []
    os.chmod(tmp_path / "d" / "f", 0o644)
    again.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert mode(tmp_path / "d" / "f") == 0o600 and len(again.changes) == 1


def test_check_mode_writes_nothing_but_reports(tmp_path):
    b = Bottle(check_mode=True, run=None)
    b.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    b.ensure_file("files", str(tmp_path / "d" / "f"), b"x", "600", OWNER)
    b.mirror_tree("trees", str(tmp_path / "d" / "skills" / "s"), {"SKILL.md": (b"s", "600")}, OWNER)
    assert os.listdir(tmp_path) == []
    assert len(b.changes) == 4


def test_symlinks_are_refused(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(ApplyError, match="is a symlink"):
        Bottle(False, None).ensure_config_entry("config_entries", str(tmp_path / "link.json"), "json",
                                                ["mcpServers", "s"], {"type": "http"}, "600", OWNER)
    assert target.read_text() == "{}"


def test_unknown_owner(tmp_path):
    with pytest.raises(ApplyError, match="user 'nobody-here' does not exist in the bottle"):
        Bottle(False, None).ensure_dir("dirs", str(tmp_path / "d"), "700", "nobody-here:x")


def test_secret_files_never_reach_the_diff(tmp_path):
    b = Bottle(check_mode=False, run=None)
    b.ensure_file("files", str(tmp_path / "cred"), b"TOKEN=real-secret", "600", OWNER, secret=True)
    assert "real-secret" not in json.dumps(b.diffs)


def test_json_merge_file_keeps_user_keys(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"userID": "u", "hasCompletedOnboarding": False}))
    b = Bottle(check_mode=False, run=None)
    b.ensure_file("files", str(path), b'{"hasCompletedOnboarding": true}', "600", OWNER, merge="json")
    assert json.loads(path.read_text()) == {"userID": "u", "hasCompletedOnboarding": True}
    assert '"u"' not in json.dumps(b.diffs), "diffs show only owned keys"


def test_unparseable_config_is_left_untouched(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{broken")
    with pytest.raises(ApplyError, match=r"c.json does not parse as JSON.*left untouched"):
        Bottle(False, None).ensure_file("files", str(path), b"{}", "600", OWNER, merge="json")
    assert path.read_text() == "{broken"


def test_mirror_tree_removes_stale_files(tmp_path):
    root = tmp_path / "skills" / "s"
    (tmp_path / "skills").mkdir()
    b = Bottle(False, None)
    b.mirror_tree("trees", str(root), {"SKILL.md": (b"a", "600"), "lib/x.sh": (b"b", "700")}, OWNER)
    (root / "stale.txt").write_text("old")
    b2 = Bottle(False, None)
    b2.mirror_tree("trees", str(root), {"SKILL.md": (b"a", "600")}, OWNER)
    assert sorted(os.listdir(root)) == ["SKILL.md"]
    assert any("removed" in c for c in b2.changes)


def test_failed_command_shows_the_plan_error():
    b = Bottle(False, run=lambda argv: (1, "", "claude: not found"))
    with pytest.raises(ApplyError, match=r"verify: install claude \(claude --version: claude: not found\)"):
        b.check_commands("verify", [{"argv": ["claude", "--version"], "error": "install claude"}])


def test_atomic_write_leaves_no_temp_files(tmp_path):
    b = Bottle(False, None)
    for i in range(3):
        b.ensure_file("files", str(tmp_path / "f"), str(i).encode(), "600", OWNER)
    assert os.listdir(tmp_path) == ["f"]
