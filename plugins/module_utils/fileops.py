# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small file primitives shared by the controller and the bottle (stdlib only)."""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile
import typing as t


TEMP_PREFIX = ".bot-bottle-"  # atomic_write's temp files: a run killed inside a write leaves one


class OwnerError(ValueError):
    """The owner named by a plan does not exist in the bottle."""


def read_bytes(path: str) -> bytes | None:
    """The file's content, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def resolve_owner(owner: str) -> tuple[int, int]:
    """``user:group`` (or ``user``) to uid/gid, with an error that names the owner."""
    user, group = owner.partition(":")[::2]
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise OwnerError(f"owner {owner!r}: user {user!r} does not exist in the bottle") from None
    if not group:
        return entry.pw_uid, entry.pw_gid
    try:
        return entry.pw_uid, grp.getgrnam(group).gr_gid
    except KeyError:
        raise OwnerError(f"owner {owner!r}: group {group!r} does not exist in the bottle") from None


def atomic_write(
    path: str,
    data: bytes,
    mode: int,
    ids: tuple[int, int] | None = None,
    before_replace: t.Callable[[str], None] | None = None,
) -> None:
    """Replace ``path`` by a complete new file: temp file in the same dir, fsync, rename.

    The temp file gets its final mode and owner before any byte is written, so a secret
    is never readable by others, and a crash leaves either the old or the new file.
    ``before_replace(path)`` runs between the fsync and the rename (a test hook).
    """
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=directory)
    try:
        os.fchmod(fd, mode)
        if ids is not None:
            os.fchown(fd, *ids)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(path)
        os.replace(tmp, path)
    except BaseException:
        with _suppress_oserror():
            os.unlink(tmp)
        raise


class _suppress_oserror:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: t.Any, exc: t.Any, tb: t.Any) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)


def path_state(path: str) -> tuple[int, int, int] | None:
    """(mode bits, uid, gid) of an existing path, not following a final symlink."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def is_symlink(path: str) -> bool:
    return os.path.islink(path)
