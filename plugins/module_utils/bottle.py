# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply desired state inside a bottle (stdlib only, runs in the guest).

The controller turns a plan, skills, prompt and MCP servers into plain desired state;
this module makes the bottle match it: directories, files (replaced), agent configs (owned
keys and entries, JSON or TOML), mirrored trees. Every write is atomic, and secret contents
never reach a diff.

The guest module runs a ``Bottle`` twice: a dry pass (``check_mode=True``) that also runs the
read-only checks as the bottle user, then, only if the dry pass succeeded, the write pass.
``changes`` lists what was done (in the dry pass: what would be done).

Agent configs are collected per file: every owned key and entry for one path is applied to
the parsed data, and the file is written at most once, at the end of the pass (``finish``).
A TOML file that exists and needs a change is not edited here (the stdlib has no
style-preserving TOML writer): the dry pass lists it in ``toml_edits_needed`` and the
controller edits it with tomlkit and runs the module again with the new text in
``toml_files`` (with the sha256 it was computed from: a file changed meanwhile is refused).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import time
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit
from ansible_collections.bot_bottle.agents.plugins.module_utils.fileops import (
    TEMP_PREFIX,
    OwnerError,
    atomic_write,
    path_state,
    read_bytes,
    resolve_owner,
)

RunCommand = t.Callable[[t.List[str]], t.Tuple[int, str, str]]

# Commands run with this PATH (not the module's), as the bottle user, in a throwaway HOME.
CHECK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHECK_TIMEOUT = 120

# Test hook (documented test-only, harmless): when this file exists in the bottle, every write
# of the write pass logs "<pid> <path>" to TEST_WRITE_LOG and sleeps the number of seconds the
# file holds ("SECONDS" or "SECONDS N": only in the N-th write) between writing the temp file
# and renaming it over the target, so a test can kill the run inside a write.
TEST_SLOW_WRITES = "/run/bot-bottle-test-slow-writes"
TEST_WRITE_LOG = "/run/bot-bottle-test-writes.log"


class ApplyError(Exception):
    """A step failed; ``field`` names the input the user should look at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


# -- the bottle user and the checks --------------------------------------------------------


def check_user(field: str, user: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise ApplyError(
            field, f"bottle user {user!r} does not exist: build the bottle image with that user or set agent_owner"
        ) from None


def _scratch_root() -> str:
    for candidate in ("/tmp", "/var/tmp"):
        if os.path.isdir(candidate) and os.stat(candidate).st_mode & stat.S_ISVTX:
            return candidate
    return tempfile.gettempdir()


def user_runner(user: pwd.struct_passwd, timeout: float = CHECK_TIMEOUT) -> RunCommand:
    """Run argv as ``user`` with a throwaway HOME (created 0700 for it, removed after).

    CODEX_HOME, CLAUDE_CONFIG_DIR and every other variable of the module are not passed, so a
    CLI that writes state under its home writes into the throwaway one. When the module does
    not run as root it cannot switch users and runs the command as itself, same environment.
    """
    switch = os.geteuid() == 0 and os.geteuid() != user.pw_uid

    def preexec() -> None:  # pragma: no cover - runs in the child
        os.setgroups(os.getgrouplist(user.pw_name, user.pw_gid))
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    def run(argv: t.List[str]) -> t.Tuple[int, str, str]:
        home = tempfile.mkdtemp(prefix="bot-bottle-check-", dir=_scratch_root())
        try:
            if switch:
                os.chown(home, user.pw_uid, user.pw_gid)
            env = {"PATH": CHECK_PATH, "HOME": home, "USER": user.pw_name, "LOGNAME": user.pw_name,
                   "LANG": "C.UTF-8", "TMPDIR": home}
            proc = subprocess.run(  # pylint: disable=subprocess-popen-preexec-fn
                argv, cwd=home, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                preexec_fn=preexec if switch else None, check=False,
            )
            return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
        finally:
            shutil.rmtree(home, ignore_errors=True)

    return run


def _sha256(data: bytes | None) -> str:
    return "" if data is None else hashlib.sha256(data).hexdigest()


class _Config:
    """One agent config file of a pass: its current data and what the ops make of it."""

    def __init__(self, fmt: str, path: str, current: bytes | None, text: str) -> None:
        self.fmt = fmt
        self.path = path
        self.current = current
        self.sha256 = _sha256(current)
        self.data = configedit.loads(fmt, text)
        self.desired = self.data
        self.exists = current is not None
        self.mode = "600"
        self.ids = (0, 0)
        self.field = ""
        self.lines: list[str] = []  # changes, reported once the file is written
        # Keys an earlier run set and the user no longer asks for (the controller's TOML edit needs them).
        self.removals: list[tuple[str, ...]] = []


class Bottle:
    """Accumulates what changed (and the diffs) while making a bottle match its plan."""

    def __init__(
        self,
        check_mode: bool,
        run: RunCommand | None = None,
        toml_files: t.Mapping[str, tuple[bytes, str]] | None = None,
    ) -> None:
        self.check_mode = check_mode
        self.run = run
        self.changes: list[str] = []
        self.diffs: list[dict[str, str]] = []
        self.toml_files = dict(toml_files or {})  # path -> (edited content, sha256 it was made from)
        self.toml_edits_needed: list[dict[str, str]] = []
        self._configs: dict[str, _Config] = {}
        self._new_dirs: set[str] = set()  # created by this pass (the dry pass: would be)
        # Records of owned settings keys, written after their configs: (field, path, content, owner).
        self._records: list[tuple[str, str, bytes, str]] = []
        self._pause = _test_pause() if not check_mode else None

    # -- commands ------------------------------------------------------------------

    def check_commands(self, field: str, commands: t.Sequence[t.Mapping[str, t.Any]]) -> None:
        """Run read-only checks; they never count as changes. The module runs them in the dry pass."""
        if self.run is None:
            return
        for command in commands:
            argv = list(command["argv"])
            try:
                rc, _out, err = self.run(argv)
            except FileNotFoundError:
                rc, err = 127, f"{argv[0]}: not found (PATH={CHECK_PATH})"
            except subprocess.TimeoutExpired:
                rc, err = -1, f"no answer within {CHECK_TIMEOUT} s"
            except OSError as exc:
                rc, err = 126, str(exc)
            if rc != 0:
                detail = (err or "").strip().splitlines()[-1:] or [f"exit code {rc}"]
                # The command's name only: its arguments may carry credentials (the egress check's).
                raise ApplyError(field, f"{command['error']} ({argv[0]}: {detail[0]})")

    # -- directories and modes -----------------------------------------------------

    def _ids(self, field: str, owner: str) -> tuple[int, int]:
        try:
            return resolve_owner(owner)
        except OwnerError as exc:
            raise ApplyError(field, str(exc)) from None

    def _done(self, line: str) -> None:
        self.changes.append(line)

    def _fix_attrs(self, path: str, mode: int, ids: tuple[int, int]) -> None:
        state = path_state(path)
        if state is None or state == (mode, *ids):
            return
        if not self.check_mode:
            os.chown(path, *ids, follow_symlinks=False)
            os.chmod(path, mode)
        self._done(f"attributes of {path} -> {mode:04o} {ids[0]}:{ids[1]}")

    def _require_parent(self, field: str, path: str, what: str) -> None:
        parent = os.path.dirname(path)
        if not os.path.isdir(parent) and parent not in self._new_dirs:
            raise ApplyError(field, f"{what} {parent} of {path} does not exist; create it first or choose another path")

    def ensure_dir(self, field: str, path: str, mode: str, owner: str, create_only: bool = False) -> None:
        """A directory with ``mode`` and ``owner``; ``create_only``: an existing one is left alone."""
        ids = self._ids(field, owner)
        if create_only and os.path.isdir(path):
            return  # it exists (a symlink to a directory counts): the user's, not ours
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            raise ApplyError(field, f"{path} exists and is not a directory; move it away")
        if not os.path.isdir(path):
            self._require_parent(field, path, "parent directory")
            if not self.check_mode:
                os.mkdir(path, int(mode, 8))
                # Part of creating it: not a second change (check mode reports the same list).
                os.chown(path, *ids)
                os.chmod(path, int(mode, 8))
            self._new_dirs.add(path)
            self._done(f"created directory {path}")
            return
        self._fix_attrs(path, int(mode, 8), ids)

    # -- files ---------------------------------------------------------------------

    def _write(self, path: str, data: bytes, mode: int, ids: tuple[int, int]) -> None:
        atomic_write(path, data, mode, ids, before_replace=self._pause)

    def _remove_stale_temps(self, path: str) -> None:
        """Temp files of an earlier run killed inside its write (complete, never renamed) next to ``path``."""
        directory = os.path.dirname(path)
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            full = os.path.join(directory, name)
            if name.startswith(TEMP_PREFIX) and stat.S_ISREG(os.lstat(full).st_mode):
                if not self.check_mode:
                    os.unlink(full)
                self._done(f"removed {full} (left by an interrupted run)")

    def ensure_file(
        self,
        field: str,
        path: str,
        content: bytes,
        mode: str,
        owner: str,
        merge: str = "replace",
        secret: bool = False,
        record: str = "",
    ) -> None:
        """A file with exactly ``content``; ``merge`` json/toml: the keys of ``content`` set in it
        (with ``record``: the user's settings, see ``_merge_settings``); ``block``: ``content`` is
        the collection's marked block in a file the user writes too."""
        if merge in configedit.FORMATS:
            try:
                owned = configedit.loads(merge, _text(field, path, content))
            except configedit.ConfigEditError as exc:
                raise ApplyError(field, f"the content for {path} {exc}") from None
            if record:
                self._merge_settings(field, merge, path, mode, owner, owned, record)
            else:
                self._config_op(field, merge, path, mode, owner, ("owned", owned, None))
            return
        ids = self._ids(field, owner)
        current = self._current(field, path)
        if merge == "block":
            if current is None and not content.strip():
                return  # no block to remove from a file that does not exist
            try:
                content = configedit.with_block(_text(field, path, current), _text(field, path, content)).encode("utf-8")
            except configedit.ConfigEditError as exc:
                raise ApplyError(field, f"{path} {exc}; it was left untouched") from None
        if content != current:
            self._require_parent(field, path, "directory")
            self._remove_stale_temps(path)
            if not self.check_mode:
                self._write(path, content, int(mode, 8), ids)
            self._done(f"{'created' if current is None else 'updated'} {path}")
            if secret:
                self._diff(path, "" if current is None else _HIDDEN, _HIDDEN)
            else:
                self._diff(path, _printable(current), _printable(content))
            return
        self._fix_attrs(path, int(mode, 8), ids)

    def _current(self, field: str, path: str) -> bytes | None:
        if os.path.islink(path):
            raise ApplyError(field, f"{path} is a symlink; replace it with a regular file (not followed, for safety)")
        if os.path.exists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
            raise ApplyError(field, f"{path} exists and is not a regular file")
        return read_bytes(path)

    def _diff(self, header: str, before: str, after: str) -> None:
        self.diffs.append({"before_header": header, "after_header": header, "before": before, "after": after})

    # -- agent configs (owned keys and entries) --------------------------------------

    def ensure_config_entry(
        self,
        field: str,
        path: str,
        fmt: str,
        key_path: t.Sequence[str],
        entry: t.Mapping[str, t.Any] | None,
        mode: str,
        owner: str,
    ) -> None:
        """Make one entry of an agent config exactly ``entry`` (None removes it)."""
        self._config_op(field, fmt, path, mode, owner, ("entry", tuple(key_path), None if entry is None else dict(entry)))

    def _merge_settings(self, field: str, fmt: str, path: str, mode: str, owner: str,
                        settings: t.Mapping[str, t.Any], record: str) -> None:
        """Merge the user's settings into a config; keys set by an earlier run and no longer asked
        for are removed if they still hold what was set. ``record`` (written after the config)
        lists the keys the collection owns now."""
        try:
            current = self._current(field, record)
        except PermissionError:
            if not settings:
                return  # not root: it cannot have set anything in a root-owned file before
            raise ApplyError(field, f"cannot read {record}: {path} is root's; run the task as root (become)") from None
        if current is None and not settings:
            return  # nothing asked for and nothing set before: the file is not ours to look at
        config = self._config(field, fmt, path)
        config.field, config.mode, config.ids = field, mode, self._ids(field, owner)
        try:
            recorded = configedit.load_record(_text(field, record, current))
        except configedit.ConfigEditError as exc:
            raise ApplyError(field, f"{record} {exc}; remove it (the keys it lists stay in {path})") from None
        ops, owned = configedit.settings_ops(config.desired, settings, recorded)
        for op in ops:
            if op[0] == "remove":
                config.removals.append(op[1])
            self._config_op(field, fmt, path, mode, owner, op)
        if current is not None or owned:
            self._records.append((field, record, configedit.dumps_record(path, owned).encode("utf-8"), owner))

    def _config(self, field: str, fmt: str, path: str) -> _Config:
        config = self._configs.get(path)
        if config is None:
            current = self._current(field, path)
            try:
                config = _Config(fmt, path, current, _text(field, path, current))
            except configedit.ConfigEditError as exc:
                raise ApplyError(field, f"{path} {exc}; fix or remove it, it was left untouched") from None
            self._configs[path] = config
        elif config.fmt != fmt:
            raise ApplyError(field, f"{path} is edited both as {config.fmt} and as {fmt}")
        return config

    def _config_op(self, field: str, fmt: str, path: str, mode: str, owner: str, op: configedit.Op) -> None:
        config = self._config(field, fmt, path)
        config.field, config.mode, config.ids = field, mode, self._ids(field, owner)
        try:
            after = configedit.apply_ops(config.desired, [op])
        except configedit.ConfigEditError as exc:
            raise ApplyError(field, f"{path} {exc}; fix or remove it, it was left untouched") from None
        kind, arg, entry = op
        if kind == "owned":
            if after == config.desired and config.exists:
                return
            config.lines.append(f"{'updated' if config.exists else 'created'} {path}")
            self._diff(path + " (owned keys)", configedit.owned_view(config.desired, arg), configedit.owned_view(after, arg))
        elif kind == "remove":
            if after == config.desired:
                return
            config.lines.append(f"removed {'.'.join(arg)} (no longer in the settings) from {path}")
            self._diff(f"{path} ({'.'.join(arg)})", json.dumps(configedit.get_in(config.desired, arg), default=str) + "\n", "")
        else:
            if after == config.desired:
                return
            before = configedit.get_in(config.desired, arg)
            config.lines.append(f"{'registered' if entry is not None else 'removed'} {'.'.join(arg)} in {path}")
            self._diff(f"{path} ({'.'.join(arg)})", configedit.entry_view(before), configedit.entry_view(entry))
        config.desired = after
        config.exists = True

    def finish(self) -> None:
        """Write each agent config whose data changes (once), or list the TOML edits needed."""
        for path, config in self._configs.items():
            mode = int(config.mode, 8)
            if config.desired == config.data and config.current is not None:
                self._fix_attrs(path, mode, config.ids)
                continue
            if not config.lines:
                continue  # removing from a file that does not exist
            self._require_parent(config.field, path, "directory")
            given = self.toml_files.get(path) if config.fmt == "toml" else None
            if given is not None:
                content = self._checked_edit(config, *given)
            elif config.fmt == "json" or not config.current:
                try:
                    text = configedit.render_new(config.fmt, config.desired)
                except configedit.ConfigEditError as exc:
                    raise ApplyError(config.field, f"{path} {exc}") from None
                bom = config.current is not None and config.current.startswith(configedit.BOM.encode("utf-8"))
                content = ((configedit.BOM if bom else "") + text).encode("utf-8")
            else:
                self.toml_edits_needed.append({
                    "path": path,
                    "content_b64": base64.b64encode(config.current).decode("ascii"),
                    "sha256": config.sha256,
                    "remove": [list(key) for key in config.removals],
                })
                self.changes.extend(config.lines)
                continue
            if not self.check_mode and _sha256(read_bytes(path)) != config.sha256:
                raise _changed_meanwhile(config.field, path)
            self._remove_stale_temps(path)
            if not self.check_mode:
                self._write(path, content, mode, config.ids)
            self.changes.extend(config.lines)
        for field, path, content, owner in self._records:
            self.ensure_file(field, path, content, "600", owner)

    def _checked_edit(self, config: _Config, content: bytes, sha256: str) -> bytes:
        if sha256 != config.sha256:
            raise _changed_meanwhile(config.field, config.path)
        try:
            edited = configedit.loads("toml", content.decode("utf-8"))
        except (configedit.ConfigEditError, UnicodeDecodeError) as exc:
            raise ApplyError(config.field, f"the controller's edit of {config.path} does not parse ({exc})") from None
        if not configedit.same_data(edited, config.desired):
            raise ApplyError(config.field, f"the controller's edit of {config.path} does not hold the desired keys")
        return content

    # -- trees (skills) ------------------------------------------------------------

    def mirror_tree(self, field: str, root: str, files: t.Mapping[str, tuple[bytes, str]], owner: str) -> None:
        """Make directory ``root`` hold exactly ``files`` (relative path -> content, mode)."""
        self.ensure_dir(field, root, "700", owner)
        for rel in sorted(files):
            parts = rel.split("/")
            for depth in range(1, len(parts)):
                self.ensure_dir(field, os.path.join(root, *parts[:depth]), "700", owner)
            content, mode = files[rel]
            self.ensure_file(field, os.path.join(root, rel), content, mode, owner)
        if os.path.isdir(root):
            self._remove_extra(root, set(files))

    def _remove_extra(self, root: str, keep: set[str]) -> None:
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                full = os.path.join(dirpath, name)
                if os.path.relpath(full, root) not in keep:
                    if not self.check_mode:
                        os.unlink(full)
                    self._done(f"removed {full}")
            for name in dirnames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full) and not any(k.startswith(os.path.relpath(full, root) + "/") for k in keep):
                    if not self.check_mode:
                        os.rmdir(full)
                    self._done(f"removed directory {full}")


def _changed_meanwhile(field: str, path: str) -> ApplyError:
    return ApplyError(field, f"{path} changed during the run (someone else wrote it); it was not written: rerun")


def _test_pause() -> t.Callable[[str], None] | None:
    """The test-only write hook (see TEST_SLOW_WRITES), or None."""
    try:
        with open(TEST_SLOW_WRITES, encoding="utf-8") as handle:
            words = handle.read().split()
        delay = float(words[0]) if words else 0.0
        only = int(words[1]) if len(words) > 1 else 0
    except (OSError, ValueError):
        return None
    count = [0]

    def pause(path: str) -> None:
        count[0] += 1
        with open(TEST_WRITE_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()} {path}\n")
        if not only or count[0] == only:
            time.sleep(delay)

    return pause


_HIDDEN = "(secret content hidden)\n"


def decode_content(field: str, value: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ApplyError(field, "content_b64 is not valid base64") from None


def _text(field: str, path: str, data: bytes | None) -> str:
    try:
        return (data or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise ApplyError(field, f"{path} is not UTF-8 text; fix or remove it, it was left untouched") from None


def _printable(data: bytes | None) -> str:
    if data is None:
        return ""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(data)} bytes of binary content)\n"
