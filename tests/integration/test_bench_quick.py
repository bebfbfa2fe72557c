"""The benchmark still works: bench/run.py --quick on real docker and SSH bottles.

Not a timed test: it checks the run finished, measured every scenario with positive
numbers, and that the baseline reached the same bottle state as the roles.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from agents import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
# Quick mode: every provider on docker, the first one on SSH too.
KEYS = [f"docker/{provider}" for provider in PROVIDERS] + [f"ssh/{PROVIDERS[0]}"]
METRICS = ["wall_s", "cpu_s", "maxrss_mb", "tree_rss_mb"]


def _positive_medians(timings: dict, names: list[str]) -> None:
    for name in names:
        medians = timings["medians"][name]
        assert sorted(medians) == sorted(METRICS), (name, medians)
        assert all(value > 0 for value in medians.values()), (name, medians)


def test_quick_benchmark_runs_and_reports(tmp_path):
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, cwd=str(ROOT), timeout=1800, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    [path] = out.glob("results-quick-*.json")
    results = json.loads(path.read_text())

    assert results["meta"]["quick"] is True and results["meta"]["reps"] == 1
    assert sorted(results["single"]) == sorted(KEYS)
    for key in KEYS:
        single = results["single"][key]
        _positive_medians(single, ["ours_first", "ours_rerun", "baseline"])
        counts = single["counts"]
        assert counts["equivalent"], counts["differences"]
        assert counts["ours_first"]["changed"] >= 1 and counts["ours_rerun"]["changed"] == 0
        assert counts["ours_first"]["tasks"] > 0 and counts["ours_first"]["module_runs"] >= 1
        assert counts["baseline"]["remote_commands"] > 0
    for key in (f"docker/{PROVIDERS[0]}", f"ssh/{PROVIDERS[0]}"):  # the Ansible floor, once per kind
        _positive_medians(results["single"][key], ["floor_ping"])
    assert sorted(results["fleet"], key=int) == ["1", "2"]
    for fleet in results["fleet"].values():
        _positive_medians(fleet, ["ours_first", "ours_rerun", "baseline"])

    ratios = results["ratios"]
    assert sorted(ratios["first_vs_baseline"]) == sorted(KEYS)
    assert all(r > 0 for r in [*ratios["first_vs_baseline"].values(), *ratios["rerun_vs_first"].values()])
    assert ratios["fleet_vs_one"]["sizes"] == [1, 2] and ratios["fleet_vs_one"]["ours_first"] > 0
    assert sorted(results["targets"]) == ["first_vs_baseline", "fleet_vs_one", "rerun_vs_first"]
    assert all(isinstance(target["met"], bool) for target in results["targets"].values())
    table = (out / "RESULTS.md").read_text()
    assert "| first run / baseline" in table and "bench/run.py --quick" in table
