"""`molecule test` for each scenario: real docker bottles and a real SSH bottle, offline."""

from __future__ import annotations

import re

import pytest
from gatelib import run, tail

# Every step of the scenario's test_sequence must have run and passed.
STEPS = ("destroy", "create", "check", "converge", "idempotence", "verify")


@pytest.mark.parametrize("scenario", ["docker", "ssh"])
def test_molecule_scenario_passes(scenario: str) -> None:
    proc = run(["molecule", "test", "-s", scenario], timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, tail(proc, 120)
    for step in STEPS:
        # The recap reads "ssh > verify: ..." without a terminal and "ssh ➜ verify: ..." with one.
        assert re.search(rf"{scenario} (>|➜) {step}: Executed: Successful", out), f"{step} did not run:\n{tail(proc)}"
