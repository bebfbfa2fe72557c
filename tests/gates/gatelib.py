"""Helpers for the Ansible ecosystem gates: run the real tools the way CI and users do."""

from __future__ import annotations

import os
import shutil
import subprocess
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
CACHE = ROOT / ".cache"
DEP_COLLECTIONS = CACHE / "collections" / "ansible_collections"
# Collections the built tarball needs next to it (never the checkout symlink bot_bottle/agents).
DEPENDENCIES = ("community/docker", "community/library_inventory_filtering_v1", "ansible/posix")
# ansible-test keeps its venvs (sanity), SSH keys and caches under ~/.ansible/test: a HOME under
# .cache keeps them between runs and out of the user's home (the first sanity run builds its
# venvs, ~2.5 min; later runs ~40 s).
ANSIBLE_TEST_HOME = CACHE / "ansible-test-home"
PIP_VERSION = "24_2"  # the pip ansible-test 2.19 bootstraps; it names the cached script
OFFLINE_BOOTSTRAP = Path(__file__).resolve().parent / "ansible_test_pip_bootstrap.py"


def tool_env(**extra: str) -> dict[str, str]:
    """The environment of the README's test command: the venv first, no colour."""
    env = dict(os.environ)
    env.update(PATH=f"{VENV_BIN}:{env.get('PATH', '')}", ANSIBLE_NOCOLOR="1", NO_COLOR="1",
               ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    env.update(extra)
    return env


def run(argv: t.Sequence[str], cwd: Path = ROOT, env: dict[str, str] | None = None,
        timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), cwd=str(cwd), env=env or tool_env(), capture_output=True, text=True,
                          timeout=timeout, check=False)


def tail(proc: subprocess.CompletedProcess, lines: int = 60) -> str:
    """The end of a tool's output, for an assertion message."""
    return "\n".join((proc.stdout + "\n" + proc.stderr).splitlines()[-lines:])


def project_files() -> list[str]:
    """Files of the checkout as git sees them: tracked plus new, minus ignored and deleted."""
    out = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).stdout
    return sorted({p for p in out.split("\0") if p and (ROOT / p).is_file()})


def copy_checkout(dest: Path) -> Path:
    """Copy the checkout into dest/ansible_collections/bot_bottle/agents (what ansible-test needs)."""
    tree = dest / "ansible_collections" / "bot_bottle" / "agents"
    for rel in project_files():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    return tree


def ansible_test_env() -> dict[str, str]:
    """tool_env with HOME=ANSIBLE_TEST_HOME, where --venv finds a pip bootstrap that works offline."""
    cache = ANSIBLE_TEST_HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    # The real bootstrap script is downloaded from a host CI cannot reach; ours uses ensurepip + PyPI.
    shutil.copy2(OFFLINE_BOOTSTRAP, cache / f"get_pip_{PIP_VERSION}.py")
    # pip must still find the user's own configuration (index, certificates) and wheel cache.
    home = Path.home()
    return tool_env(HOME=str(ANSIBLE_TEST_HOME),
                    XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(home / ".config")),
                    XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(home / ".cache")))


def ansible_test(dest: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess:
    """`ansible-test ARGS` (no colour) in an ansible_collections/bot_bottle/agents copy of the
    checkout under dest, with ansible_test_env()."""
    return run(["ansible-test", *args, "--color", "no"], cwd=copy_checkout(dest), env=ansible_test_env(),
               timeout=timeout)


def dependency_collections(dest: Path) -> Path:
    """A collections path holding only the dependencies (links into .cache/collections)."""
    for name in DEPENDENCIES:
        target = dest / "ansible_collections" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(DEP_COLLECTIONS / name, target_is_directory=True)
    return dest
