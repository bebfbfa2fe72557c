"""ansible-lint, production profile, with the repository's own .ansible-lint (offline)."""

from __future__ import annotations

import re

from gatelib import ROOT, run, tail

# What the gate must cover: a config that excluded these would pass without linting them.
LINTED = ("roles", "playbooks", "molecule")


def test_ansible_lint_production_profile_passes() -> None:
    proc = run(["ansible-lint", "--offline", "--nocolor"], timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, tail(proc, 80)
    assert "Profile 'production' was required, and it passed" in out, tail(proc)
    processed = int(re.search(r"in (\d+) files processed", out).group(1))
    expected = sum(1 for d in LINTED for p in (ROOT / d).rglob("*.yml"))
    assert processed >= expected, f"only {processed} files linted, {LINTED} alone have {expected}"
