# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply desired state inside a bottle in one pass (stdlib only, runs in the guest).

The controller turns a plan, skills, prompt and MCP servers into plain desired state;
this module makes the bottle match it: commands (read-only checks), directories,
files (replaced or merged), mirrored trees and MCP entries. Nothing is written in check
mode, every write is atomic, and secret contents never reach a diff.
"""

from __future__ import annotations

import base64
import os
import stat
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit
from ansible_collections.bot_bottle.agents.plugins.module_utils.fileops import (
    OwnerError,
    atomic_write,
    path_state,
    read_bytes,
    resolve_owner,
)

RunCommand = t.Callable[[t.List[str]], t.Tuple[int, str, str]]


class ApplyError(Exception):
    """A step failed; ``field`` names the input the user should look at."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Bottle:
    """Accumulates what changed (and the diffs) while making a bottle match its plan."""

    def __init__(self, check_mode: bool, run: RunCommand | None) -> None:
        self.check_mode = check_mode
        self.run = run
        self.changes: list[str] = []
        self.diffs: list[dict[str, str]] = []

    # -- commands ------------------------------------------------------------------

    def check_commands(self, field: str, commands: t.Sequence[t.Mapping[str, t.Any]]) -> None:
        """Run read-only checks; they never count as changes, and run in check mode too."""
        if self.run is None:  # the dry pass validates files only
            return
        for command in commands:
            try:
                rc, _out, err = self.run(list(command["argv"]))
            except OSError as exc:
                rc, err = 127, str(exc)
            if rc != 0:
                detail = (err or "").strip().splitlines()[-1:] or [f"exit code {rc}"]
                raise ApplyError(field, f"{command['error']} ({' '.join(command['argv'])}: {detail[0]})")

    # -- directories and modes -----------------------------------------------------

    def _ids(self, field: str, owner: str) -> tuple[int, int]:
        try:
            return resolve_owner(owner)
        except OwnerError as exc:
            raise ApplyError(field, str(exc)) from None

    def _fix_attrs(self, path: str, mode: int, ids: tuple[int, int]) -> None:
        state = path_state(path)
        if state is None or state == (mode, *ids):
            return
        self.changes.append(f"attributes of {path} -> {mode:04o} {ids[0]}:{ids[1]}")
        if not self.check_mode:
            os.chown(path, *ids, follow_symlinks=False)
            os.chmod(path, mode)

    def ensure_dir(self, field: str, path: str, mode: str, owner: str) -> None:
        ids = self._ids(field, owner)
        if os.path.islink(path) or (os.path.exists(path) and not os.path.isdir(path)):
            raise ApplyError(field, f"{path} exists and is not a directory; move it away")
        if not os.path.isdir(path):
            parent = os.path.dirname(path)
            if not os.path.isdir(parent) and not self.check_mode:
                raise ApplyError(field, f"parent directory {parent} of {path} does not exist")
            self.changes.append(f"created directory {path}")
            if self.check_mode:
                return
            os.mkdir(path, int(mode, 8))
            # Part of creating it: not a second change (check mode reports the same list).
            os.chown(path, *ids)
            os.chmod(path, int(mode, 8))
            return
        self._fix_attrs(path, int(mode, 8), ids)

    # -- files ---------------------------------------------------------------------

    def ensure_file(
        self,
        field: str,
        path: str,
        content: bytes,
        mode: str,
        owner: str,
        merge: str = "replace",
        secret: bool = False,
    ) -> None:
        ids = self._ids(field, owner)
        current = self._current(field, path)
        desired = self._desired(field, path, current, content, merge)
        if desired is not None and desired != current:
            self.changes.append(f"{'created' if current is None else 'updated'} {path}")
            if secret:
                self._diff(path, "" if current is None else _HIDDEN, _HIDDEN)
            elif merge == "replace":
                self._diff(path, _printable(current), _printable(desired))
            else:
                old = configedit.owned_view(merge, _text(field, path, current), content.decode("utf-8"))
                new = configedit.owned_view(merge, desired.decode("utf-8"), content.decode("utf-8"))
                self._diff(path + " (owned keys)", old, new)
            if not self.check_mode:
                parent = os.path.dirname(path)
                if not os.path.isdir(parent):
                    raise ApplyError(field, f"directory {parent} for {path} does not exist")
                atomic_write(path, desired, int(mode, 8), ids)
            return
        self._fix_attrs(path, int(mode, 8), ids)

    def _current(self, field: str, path: str) -> bytes | None:
        if os.path.islink(path):
            raise ApplyError(field, f"{path} is a symlink; replace it with a regular file (not followed, for safety)")
        if os.path.exists(path) and not stat.S_ISREG(os.lstat(path).st_mode):
            raise ApplyError(field, f"{path} exists and is not a regular file")
        return read_bytes(path)

    def _desired(self, field: str, path: str, current: bytes | None, content: bytes, merge: str) -> bytes | None:
        if merge == "replace":
            return content
        try:
            merged = configedit.merge_owned(merge, _text(field, path, current), content.decode("utf-8"))
        except configedit.ConfigEditError as exc:
            raise ApplyError(field, f"{path} {exc}; fix or remove it, it was left untouched") from None
        return None if merged is None else merged.encode("utf-8")

    def _diff(self, header: str, before: str, after: str) -> None:
        self.diffs.append({"before_header": header, "after_header": header, "before": before, "after": after})

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
                    self.changes.append(f"removed {full}")
                    if not self.check_mode:
                        os.unlink(full)
            for name in dirnames:
                full = os.path.join(dirpath, name)
                if not os.path.islink(full) and not any(k.startswith(os.path.relpath(full, root) + "/") for k in keep):
                    self.changes.append(f"removed directory {full}")
                    if not self.check_mode:
                        os.rmdir(full)

    # -- MCP entries ---------------------------------------------------------------

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
        ids = self._ids(field, owner)
        current = self._current(field, path)
        if current is None and entry is None:
            return
        try:
            new_text = configedit.set_entry(fmt, _text(field, path, current), key_path, entry)
        except configedit.ConfigEditError as exc:
            raise ApplyError(field, f"{path} {exc}; fix or remove it, it was left untouched") from None
        if new_text is None:
            if current is not None:
                self._fix_attrs(path, int(mode, 8), ids)
            return
        action = "registered" if entry is not None else "removed"
        self.changes.append(f"{action} {'.'.join(key_path)} in {path}")
        old_entry = configedit.current_entry(fmt, _text(field, path, current), key_path)
        self._diff(f"{path} ({'.'.join(key_path)})", configedit.entry_view(old_entry), configedit.entry_view(entry))
        if not self.check_mode:
            if not os.path.isdir(os.path.dirname(path)):
                raise ApplyError(field, f"directory {os.path.dirname(path)} for {path} does not exist")
            atomic_write(path, new_text.encode("utf-8"), int(mode, 8), ids)


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
