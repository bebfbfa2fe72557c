"""`ansible-test sanity` from an ansible_collections/bot_bottle/agents copy of the checkout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gatelib import CACHE, copy_checkout, run, tail, tool_env

# ansible-test keeps its sanity venvs under ~/.ansible/test: a HOME under .cache keeps them
# between runs (first run builds them, ~2.5 min; later runs ~40 s).
TEST_HOME = CACHE / "ansible-test-home"
PIP_VERSION = "24_2"  # the pip ansible-test 2.19 bootstraps; it names the cached script
OFFLINE_BOOTSTRAP = Path(__file__).resolve().parent / "ansible_test_pip_bootstrap.py"


def sanity_env() -> dict[str, str]:
    # pip must still find the user's own configuration (index, certificates) and wheel cache.
    home = Path.home()
    return tool_env(HOME=str(TEST_HOME), XDG_CONFIG_HOME=os.environ.get("XDG_CONFIG_HOME", str(home / ".config")),
                    XDG_CACHE_HOME=os.environ.get("XDG_CACHE_HOME", str(home / ".cache")))


def test_ansible_test_sanity_is_clean(tmp_path: Path) -> None:
    cache = TEST_HOME / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    # The real bootstrap script is downloaded from a host CI cannot reach; ours uses ensurepip + PyPI.
    shutil.copy2(OFFLINE_BOOTSTRAP, cache / f"get_pip_{PIP_VERSION}.py")
    tree = copy_checkout(tmp_path)
    proc = run(["ansible-test", "sanity", "--venv", "--python", "3.11", "--color", "no"], cwd=tree,
               env=sanity_env(), timeout=1200)
    assert proc.returncode == 0, tail(proc, 120)
    assert "Running sanity test \"validate-modules\"" in proc.stdout, tail(proc)
