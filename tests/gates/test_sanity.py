"""`ansible-test sanity` from an ansible_collections/bot_bottle/agents copy of the checkout."""

from __future__ import annotations

from pathlib import Path

from gatelib import ansible_test, tail


def test_ansible_test_sanity_is_clean(tmp_path: Path) -> None:
    proc = ansible_test(tmp_path, "sanity", "--venv", "--python", "3.11", timeout=1200)
    assert proc.returncode == 0, tail(proc, 120)
    assert "Running sanity test \"validate-modules\"" in proc.stdout, tail(proc)
