"""The guest-side apply logic on a local directory (the module's passes, no bottle)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from ansible_collections.bot_bottle.agents.plugins.module_utils import bottle as bottle_mod
from ansible_collections.bot_bottle.agents.plugins.module_utils.bottle import ApplyError, Bottle, user_runner
from ansible_collections.bot_bottle.agents.plugins.modules import agent_guest_state as gs
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import guest, tomlconfig

OWNER = "root:root"
USER = "nobody"  # a non-root user every test machine has
ROOT = Path(__file__).resolve().parents[2]


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def params(**kw) -> dict:
    """Module params as AnsibleModule would fill them in (defaults included)."""
    p = {"run_as": "root", "checks": [], "dirs": [], "files": [], "trees": [], "config_entries": [], "toml_files": []}
    p.update(kw)
    p["dirs"] = [{"mode": "700", "owner": OWNER, "create_only": False, **d} for d in p["dirs"]]
    p["files"] = [{"mode": "600", "owner": OWNER, "merge": "replace", "secret": False, **f} for f in p["files"]]
    p["config_entries"] = [{"mode": "600", "owner": OWNER, "entry_secret": {}, **e} for e in p["config_entries"]]
    return p


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# -- the basics --------------------------------------------------------------------------


def test_dirs_files_and_modes(tmp_path):
    b = Bottle(check_mode=False)
    b.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    b.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert mode(tmp_path / "d") == 0o700 and mode(tmp_path / "d" / "f") == 0o600
    assert (tmp_path / "d" / "f").read_bytes() == b"hello"
    assert len(b.changes) == 2
    again = Bottle(check_mode=False)
    again.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    again.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert again.changes == []
    os.chmod(tmp_path / "d" / "f", 0o644)
    again.ensure_file("files", str(tmp_path / "d" / "f"), b"hello", "600", OWNER)
    assert mode(tmp_path / "d" / "f") == 0o600 and len(again.changes) == 1


def test_check_mode_writes_nothing_but_reports(tmp_path):
    b = Bottle(check_mode=True)
    b.ensure_dir("dirs", str(tmp_path / "d"), "700", OWNER)
    b.ensure_dir("dirs", str(tmp_path / "d" / "skills"), "700", OWNER)
    b.ensure_file("files", str(tmp_path / "d" / "f"), b"x", "600", OWNER)
    b.mirror_tree("trees", str(tmp_path / "d" / "skills" / "s"), {"SKILL.md": (b"s", "600")}, OWNER)
    b.finish()
    assert os.listdir(tmp_path) == []
    assert len(b.changes) == 5


def test_symlinks_are_refused(tmp_path):
    target = tmp_path / "target.json"
    target.write_text("{}")
    (tmp_path / "link.json").symlink_to(target)
    with pytest.raises(ApplyError, match="is a symlink"):
        Bottle(False).ensure_config_entry("config_entries", str(tmp_path / "link.json"), "json",
                                          ["mcpServers", "s"], {"type": "http"}, "600", OWNER)
    assert target.read_text() == "{}"


def test_unknown_owner(tmp_path):
    with pytest.raises(ApplyError, match="user 'nobody-here' does not exist in the bottle"):
        Bottle(False).ensure_dir("dirs", str(tmp_path / "d"), "700", "nobody-here:x")


def test_secret_files_never_reach_the_diff(tmp_path):
    b = Bottle(check_mode=False)
    b.ensure_file("files", str(tmp_path / "cred"), b"TOKEN=real-secret", "600", OWNER, secret=True)
    assert "real-secret" not in json.dumps(b.diffs)


def test_json_owned_keys_and_entry_are_one_write_keeping_user_keys(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"userID": "u", "hasCompletedOnboarding": False}))
    writes = []
    monkeypatch.setattr(bottle_mod, "atomic_write", lambda p, *a, **k: writes.append(p) or Path(p).write_bytes(a[0]))
    b = Bottle(check_mode=False)
    b.ensure_file("files", str(path), b'{"hasCompletedOnboarding": true}', "600", OWNER, merge="json")
    b.ensure_config_entry("config_entries", str(path), "json", ["mcpServers", "s"], {"type": "http"}, "600", OWNER)
    b.finish()
    assert json.loads(path.read_text()) == {"userID": "u", "hasCompletedOnboarding": True, "mcpServers": {"s": {"type": "http"}}}
    assert writes == [str(path)], "one write per config file: a kill leaves the old or the new file"
    assert '"u"' not in json.dumps(b.diffs), "diffs show only owned keys"


def test_unparseable_config_is_left_untouched(tmp_path):
    path = tmp_path / "c.json"
    path.write_text("{broken")
    with pytest.raises(ApplyError, match=r"c.json does not parse as JSON.*left untouched"):
        Bottle(False).ensure_file("files", str(path), b"{}", "600", OWNER, merge="json")
    assert path.read_text() == "{broken"


def test_mirror_tree_removes_stale_files(tmp_path):
    root = tmp_path / "skills" / "s"
    (tmp_path / "skills").mkdir()
    b = Bottle(False)
    b.mirror_tree("trees", str(root), {"SKILL.md": (b"a", "600"), "lib/x.sh": (b"b", "700")}, OWNER)
    (root / "stale.txt").write_text("old")
    b2 = Bottle(False)
    b2.mirror_tree("trees", str(root), {"SKILL.md": (b"a", "600")}, OWNER)
    assert sorted(os.listdir(root)) == ["SKILL.md"]
    assert any("removed" in c for c in b2.changes)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    b = Bottle(False)
    for i in range(3):
        b.ensure_file("files", str(tmp_path / "f"), str(i).encode(), "600", OWNER)
    assert os.listdir(tmp_path) == ["f"]


# -- B. create_only ------------------------------------------------------------------------


def test_create_only_dir_is_created_but_an_existing_one_left_alone(tmp_path):
    existing = tmp_path / "project"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    b = Bottle(False)
    b.ensure_dir("dirs", str(existing), "700", f"{USER}:{USER if _group_exists(USER) else 'root'}", create_only=True)
    b.ensure_dir("dirs", str(tmp_path / "new"), "700", OWNER, create_only=True)
    assert mode(existing) == 0o755 and os.stat(existing).st_uid == 0, "an existing directory is the user's"
    assert mode(tmp_path / "new") == 0o700
    assert b.changes == [f"created directory {tmp_path / 'new'}"]


def test_missing_parent_fails_in_the_dry_pass_naming_it(tmp_path):
    with pytest.raises(ApplyError, match=rf"parent directory {tmp_path}/no of {tmp_path}/no/project does not exist"):
        gs.run(params(dirs=[{"path": str(tmp_path / "d")}, {"path": str(tmp_path / "no" / "project"), "create_only": True}]),
               check_mode=False)
    assert listing(tmp_path) == [], "the dry pass found it: nothing written"


def _group_exists(name):
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


# -- A. checks: before any write, as the bottle user, in a throwaway home ----------------------


def test_checks_run_as_the_bottle_user_with_a_throwaway_home(monkeypatch):
    monkeypatch.setenv("CODEX_HOME", "/root/.codex")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/root/.claude")
    run = user_runner(pwd.getpwnam(USER))
    rc, out, _err = run(["sh", "-c", 'id -un; echo "$HOME"; echo "$PATH"; touch "$HOME/state" && echo wrote; env'])
    user, home, path, wrote, *env = out.splitlines()
    assert rc == 0 and user == USER and wrote == "wrote"
    assert home.startswith("/tmp/bot-bottle-check-") and not os.path.exists(home), "the home is removed after"
    assert path == bottle_mod.CHECK_PATH
    assert not any(v.startswith(("CODEX_HOME=", "CLAUDE_CONFIG_DIR=")) for v in env)


def test_checks_run_before_any_write_and_a_missing_cli_says_the_plan_text(tmp_path):
    p = params(run_as=USER, dirs=[{"path": str(tmp_path / "d")}],
               files=[{"path": str(tmp_path / "d" / "f"), "content_b64": b64("x")}],
               checks=[{"argv": ["no-such-agent-cli", "--version"], "error": "the no-such CLI does not run: install it"}])
    with pytest.raises(ApplyError) as info:
        gs.run(p, check_mode=False)
    assert str(info.value) == ("checks: the no-such CLI does not run: install it (no-such-agent-cli: "
                               f"no-such-agent-cli: not found (PATH={bottle_mod.CHECK_PATH}))")
    assert listing(tmp_path) == [], "nothing written before the checks"
    assert info.value.written is None and info.value.dry.changes == [f"created directory {tmp_path / 'd'}", f"created {tmp_path / 'd' / 'f'}"]


def test_checks_run_in_check_mode_too(tmp_path):
    p = params(run_as=USER, checks=[{"argv": ["false"], "error": "failing check"}])
    with pytest.raises(ApplyError, match="checks: failing check"):
        gs.run(p, check_mode=True)


def test_unknown_bottle_user_is_named():
    with pytest.raises(ApplyError, match="run_as: bottle user 'agent-x' does not exist: build the bottle image "
                                         "with that user or set agent_owner"):
        gs.run(params(run_as="agent-x"), check_mode=True)


def test_run_as_defaults_to_the_first_owner():
    assert gs.bottle_user(params(run_as=None, dirs=[{"path": "/x", "owner": "agent:agent"}])) == "agent"
    assert gs.bottle_user(params(run_as=None)) == "node"


# -- C. TOML: one round trip when converged, a controller edit with compare-and-swap otherwise ----


CODEX_OWNED = '[features]\ndaemon_auto_start = false\n\n[projects."/home/node"]\ntrust_level = "trusted"\n'


def codex_params(config: Path, **kw) -> dict:
    return params(
        files=[{"path": str(config), "content_b64": b64(CODEX_OWNED), "merge": "toml"}],
        config_entries=[{"path": str(config), "format": "toml", "entry_path": ["mcp_servers", "supervise"],
                         "entry": {"url": "http://h/mcp"}, "entry_secret": {"http_headers": {"K": "secret"}}}],
        **kw)


class FakeAction:
    """Runs the guest module's passes in-process, as _execute_module would in the bottle."""

    def __init__(self, check_mode=False):
        self.check_mode = check_mode
        self.calls = []

    def _execute_module(self, module_name, module_args, task_vars):
        p = params(**{k: v for k, v in module_args.items() if k not in ("files", "config_entries", "dirs")},
                   files=module_args.get("files", []), config_entries=module_args.get("config_entries", []),
                   dirs=module_args.get("dirs", []))
        self.calls.append(p)
        try:
            dry, writer = gs.run(p, self.check_mode)
        except ApplyError as exc:
            return {"failed": True, "msg": str(exc), "changes": exc.written.changes if exc.written else [],
                    "would_change": exc.dry.changes}
        if writer is None and dry.toml_edits_needed and not self.check_mode:
            return {"changed": False, "changes": [], "would_change": dry.changes, "toml_edits_needed": dry.toml_edits_needed}
        done = writer or dry
        return {"changed": bool(done.changes), "changes": done.changes}


USER_CONFIG = ('\ufeff# mine\r\nmodel = "o3"\r\nmcp_servers.supervise = {url = "http://old"}\r\n\r\n'
               '[projects."/home/node"]\r\ntrust_level = "untrusted"  # keep\r\n')


def test_new_toml_file_is_written_in_one_run(tmp_path):
    config = tmp_path / "config.toml"
    action = FakeAction()
    outcome = guest.run_guest_state(action, codex_params(config), {})
    assert len(action.calls) == 1 and outcome["changes"] == [f"created {config}", f"registered mcp_servers.supervise in {config}"]
    assert tomllib.loads(config.read_text())["mcp_servers"]["supervise"] == {"url": "http://h/mcp", "http_headers": {"K": "secret"}}
    action = FakeAction()
    assert guest.run_guest_state(action, codex_params(config), {})["changes"] == []
    assert len(action.calls) == 1, "a converged rerun is one module run"


def test_existing_toml_is_edited_on_the_controller_keeping_user_bytes(tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(USER_CONFIG.encode())
    dry, writer = gs.run(codex_params(config), check_mode=False)
    assert writer is None and [e["path"] for e in dry.toml_edits_needed] == [str(config)]
    assert config.read_bytes() == USER_CONFIG.encode(), "the first run writes nothing"
    action = FakeAction()
    outcome = guest.run_guest_state(action, codex_params(config), {})
    assert "toml_edits_needed" not in outcome and outcome["changes"] == [f"updated {config}", f"registered mcp_servers.supervise in {config}"]
    assert len(action.calls) == 2
    out = config.read_bytes()
    assert out.startswith(b'\xef\xbb\xbf# mine\r\nmodel = "o3"\r\nmcp_servers.supervise = {')
    assert b'trust_level = "trusted"  # keep\r\n' in out and b"\n" not in out.replace(b"\r\n", b"")
    assert tomllib.loads(out.decode().lstrip("\ufeff"))["model"] == "o3"
    action = FakeAction()
    assert guest.run_guest_state(action, codex_params(config), {})["changes"] == [] and len(action.calls) == 1


def test_check_mode_reports_toml_changes_in_one_run(tmp_path):
    config = tmp_path / "config.toml"
    config.write_bytes(USER_CONFIG.encode())
    action = FakeAction(check_mode=True)
    outcome = guest.run_guest_state(action, codex_params(config), {})
    assert outcome["changes"] == [f"updated {config}", f"registered mcp_servers.supervise in {config}"]
    assert len(action.calls) == 1 and config.read_bytes() == USER_CONFIG.encode()


def test_a_file_changed_during_the_run_is_not_overwritten(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('model = "o3"\n')
    dry, _writer = gs.run(codex_params(config), check_mode=False)
    (found,) = dry.toml_edits_needed
    field, ops = guest.toml_ops(codex_params(config), str(config))
    edited = tomlconfig.edit(base64.b64decode(found["content_b64"]), ops)
    config.write_text('model = "o4"\n')  # the user (or the agent) writes meanwhile
    toml_files = [{"path": str(config), "content_b64": b64(edited), "expected_sha256": found["sha256"]}]
    with pytest.raises(ApplyError, match="changed during the run.*not written: rerun") as info:
        gs.run(codex_params(config, toml_files=toml_files), check_mode=False)
    assert config.read_text() == 'model = "o4"\n' and info.value.written is None and field == "files"


def test_compare_and_swap_right_before_the_write(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('model = "o3"\n')
    sha = hashlib.sha256(config.read_bytes()).hexdigest()
    _field, ops = guest.toml_ops(codex_params(config), str(config))
    edited = tomlconfig.edit(config.read_bytes(), ops)
    real_finish = Bottle.finish

    def finish(self):
        if not self.check_mode:  # between the dry pass and the write
            config.write_text('model = "o5"\n')
        real_finish(self)

    monkeypatch.setattr(Bottle, "finish", finish)
    with pytest.raises(ApplyError, match="changed during the run") as info:
        gs.run(codex_params(config, toml_files=[{"path": str(config), "content_b64": b64(edited), "expected_sha256": sha}]),
               check_mode=False)
    assert config.read_text() == 'model = "o5"\n'
    assert info.value.written.changes == [] and info.value.dry.changes, "D: written vs would_change"


# -- D. a failed run reports what happened ---------------------------------------------------


def test_failed_module_run_reports_nothing_written_and_what_would_have_been(tmp_path):
    """The module itself (AnsibleModule, fail_json): changes=[] and would_change lists the dry pass."""
    (tmp_path / "c.json").write_text("{broken")
    args = {"ANSIBLE_MODULE_ARGS": {
        "run_as": "root",
        "dirs": [{"path": str(tmp_path / "d"), "owner": OWNER}],
        "files": [{"path": str(tmp_path / "c.json"), "content_b64": b64("{}"), "merge": "json", "owner": OWNER}],
    }}
    (tmp_path / "args.json").write_text(json.dumps(args))
    proc = subprocess.run([sys.executable, "-m", "ansible_collections.bot_bottle.agents.plugins.modules.agent_guest_state",
                           str(tmp_path / "args.json")], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / ".cache" / "collections")}, check=False)
    result = json.loads(proc.stdout)
    assert result["failed"] and "does not parse as JSON" in result["msg"]
    assert result["changes"] == [] and result["would_change"] == [f"created directory {tmp_path / 'd'}"]
    assert not (tmp_path / "d").exists()


# -- E. the test hook ---------------------------------------------------------------------------


def test_slow_write_hook_logs_and_pauses_only_when_the_flag_exists(tmp_path, monkeypatch):
    monkeypatch.setattr(bottle_mod, "TEST_SLOW_WRITES", str(tmp_path / "flag"))
    monkeypatch.setattr(bottle_mod, "TEST_WRITE_LOG", str(tmp_path / "log"))
    assert Bottle(False)._pause is None
    (tmp_path / "flag").write_text("0")
    b = Bottle(False)
    assert Bottle(True)._pause is None, "never in the dry pass"
    b.ensure_file("files", str(tmp_path / "f"), b"x", "600", OWNER)
    assert (tmp_path / "log").read_text() == f"{os.getpid()} {tmp_path / 'f'}\n"


def test_temp_files_of_an_interrupted_write_are_removed_with_the_next_write(tmp_path):
    (tmp_path / ".bot-bottle-abc123").write_text("complete content of a killed write")
    dry = Bottle(check_mode=True)
    dry.ensure_file("files", str(tmp_path / "f"), b"new", "600", OWNER)
    b = Bottle(check_mode=False)
    b.ensure_file("files", str(tmp_path / "f"), b"new", "600", OWNER)
    assert os.listdir(tmp_path) == ["f"]
    assert b.changes == dry.changes == [f"removed {tmp_path / '.bot-bottle-abc123'} (left by an interrupted run)",
                                        f"created {tmp_path / 'f'}"]
