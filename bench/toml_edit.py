"""Benchmark: what a controller-side TOML edit (issue 12, item 3) costs the codex first run.

When the bottle user already has a ``~/.codex/config.toml``, the in-bottle module
(agent_guest_state) writes nothing, returns the file and its sha256, the controller edits it
with tomlkit (plugins/plugin_utils/guest.py, tomlconfig.py) and the module runs a second time
(compare-and-swap on the hash). Measured here, for the codex provider through
playbooks/provision.yml with the same host vars as bench/run.py (3 skills, prompt, MCP, trust),
on docker bottles and on the SSH bottle:

  (a) first run on a fresh bottle: no config.toml, the module creates it (one module run);
  (a') the no-op rerun of (a), for reference;
  (b) first run on a bottle whose user has a config.toml with keys of their own: the edit is
      made on the controller (two module runs);
  (c) the no-op rerun of (b): converged, one module run.

A fresh bottle for every first run (a new container; the SSH bottle's home reset). Medians over
--reps of wall time, controller CPU time and peak RSS (bench/run.py's ``measure``), and the
ratio (b)/(a). Module runs and remote commands are counted once per bottle kind from an
untimed -vvv run of each case (bench/run.py's ``remote_counts``), not assumed; the run fails if
(c) is not one module run, if a first run changes nothing or a rerun changes something, or if
(b) lost a user key or did not set the owned keys. Also timed, in-process: the controller's
tomlkit edit of that config alone (``tomlconfig.edit``).

  .venv/bin/python bench/toml_edit.py [--quick] [--reps N] [--kinds docker,ssh] [--ref REF] [--out FILE.json]

Prints the markdown table, then the JSON summary. Every container started here is removed and
the SSH bottle stopped on the way out (on error and on SIGTERM too).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import typing as t
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import (  # noqa: E402
    GUEST_HOME,
    PREFIX,
    SSH_ROOTFS,
    SUPERVISE_URL,
    Bench,
    Bottle,
    Play,
    SshBottle,
    ansible_core_version,
    changed_tasks,
    load,
    pipelining,
    record,
    remote_counts,
    series,
    snapshot,
    working_tree,
)

PROVIDER = "codex"
CONFIG = f"{GUEST_HOME}/.codex/config.toml"
# The user's own config: comments, top-level keys, tables, a dotted key, an inline table, an
# MCP server and a trusted project of their own. None of it is owned by the collection.
USER_CONFIG = """\
# my codex settings
model = "o3"  # keep
approval_policy = "on-request"
sandbox_mode = "workspace-write"
tui.notifications = true

[profiles.fast]
model = "o4-mini"
model_reasoning_effort = "low"

[mcp_servers.mine]
command = "my-mcp"
args = ["--stdio"]
env = { MY_MCP_LEVEL = "debug" }

[projects."/srv/app"]
trust_level = "trusted"
"""
USER_KEYS = {
    ("model",): "o3",
    ("approval_policy",): "on-request",
    ("sandbox_mode",): "workspace-write",
    ("tui", "notifications"): True,
    ("profiles", "fast", "model"): "o4-mini",
    ("profiles", "fast", "model_reasoning_effort"): "low",
    ("mcp_servers", "mine", "command"): "my-mcp",
    ("mcp_servers", "mine", "args"): ["--stdio"],
    ("mcp_servers", "mine", "env", "MY_MCP_LEVEL"): "debug",
    ("projects", "/srv/app", "trust_level"): "trusted",
}
CASES = {
    "fresh_first": "(a) first run, no config.toml",
    "fresh_rerun": "(a') no-op rerun of (a)",
    "user_first": "(b) first run, user's config.toml (controller edit)",
    "user_rerun": "(c) no-op rerun of (b)",
}


# -- bottles and runs ------------------------------------------------------------------


def prepare(bench: Bench, kind: str, user_config: bool) -> Bottle:
    """A fresh bottle: no config.toml, or the user's own one (owner node, 0600 in a 0700 dir)."""
    bottle = bench.fresh(kind, PROVIDER)
    if bottle.exec(f"test -e {CONFIG}", check=False).returncode == 0:
        raise RuntimeError(f"{kind}: a fresh bottle already has {CONFIG}")
    if user_config:
        bottle.exec(f"install -d -o node -g node -m 700 {GUEST_HOME}/.codex && "
                    f"cat > {CONFIG} <<'EOF'\n{USER_CONFIG}EOF\n"
                    f"chown node:node {CONFIG} && chmod 600 {CONFIG}")
    return bottle


def inventory(bench: Bench, bottle: Bottle) -> Path:
    return bench.inventory({bottle.name: bench.host_vars(bottle, PROVIDER, bench.state_dir("toml"))})


def check_user_config(bottle: Bottle) -> None:
    """After (b): every user key kept, the owned keys set."""
    config = tomllib.loads(bottle.read(CONFIG))
    for path, want in USER_KEYS.items():
        node: t.Any = config
        for key in path:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        if node != want:
            raise RuntimeError(f"{bottle.kind}: user key {'.'.join(path)} is {node!r}, was {want!r}")
    owned = {
        "mcp_servers.supervise.url": config.get("mcp_servers", {}).get("supervise", {}).get("url"),
        "projects.trust_level": config.get("projects", {}).get(GUEST_HOME, {}).get("trust_level"),
        "features.daemon_auto_start": config.get("features", {}).get("daemon_auto_start"),
    }
    if owned != {"mcp_servers.supervise.url": SUPERVISE_URL, "projects.trust_level": "trusted",
                 "features.daemon_auto_start": False}:
        raise RuntimeError(f"{bottle.kind}: the owned keys are not set: {owned}")


def expect(kind: str, case: str, play: Play, host: str) -> None:
    changed = play.stats.get(host, {}).get("changed", 0)
    if case.endswith("_first") and changed < 1:
        raise RuntimeError(f"{kind} {case}: a first run must change something: {play.stats}")
    if case.endswith("_rerun") and changed != 0:
        raise RuntimeError(f"{kind} {case}: the rerun changed something: {changed_tasks(play, host)}")


def pair(bench: Bench, kind: str, user_config: bool, verbose: bool = False) -> dict[str, Play]:
    """First run and no-op rerun on one fresh bottle."""
    prefix = "user" if user_config else "fresh"
    bottle = prepare(bench, kind, user_config)
    try:
        inv = inventory(bench, bottle)
        first = bench.playbook(inv, verbose=verbose)
        if user_config:
            check_user_config(bottle)
        rerun = bench.playbook(inv, verbose=verbose)
    finally:
        bench.drop([bottle])
    plays = {f"{prefix}_first": first, f"{prefix}_rerun": rerun}
    if not verbose:
        for case, play in plays.items():
            expect(kind, case, play, bottle.name)
    return plays


def probe(bench: Bench, kind: str) -> dict[str, dict[str, int]]:
    """Untimed, -vvv: remote commands, module runs and transfers of each case."""
    counts = {}
    for user_config in (False, True):
        for case, play in pair(bench, kind, user_config, verbose=True).items():
            counts[case] = remote_counts(play.m.stdout)
    for case, want in (("fresh_first", 1), ("fresh_rerun", 1), ("user_first", 2), ("user_rerun", 1)):
        if counts[case]["module_runs"] != want:
            print(f"warning: {kind} {case}: {counts[case]['module_runs']} module runs, expected {want}",
                  file=sys.stderr, flush=True)
    if counts["user_rerun"]["module_runs"] != 1:
        raise RuntimeError(f"{kind}: the no-op rerun of an edited config is not one module run: {counts}")
    return counts


def edit_ms(collections: Path, reps: int = 50) -> dict[str, float]:
    """The controller's tomlkit edit of USER_CONFIG alone, in this process: first call, then median."""
    sys.path.insert(0, str(collections))
    tomlconfig = importlib.import_module("ansible_collections.bot_bottle.agents.plugins.plugin_utils.tomlconfig")
    # The ops guest.toml_ops builds for codex: the owned keys (file merge), then the MCP entry.
    ops = [("owned", {"features": {"daemon_auto_start": False}, "projects": {GUEST_HOME: {"trust_level": "trusted"}}},
            None), ("entry", ("mcp_servers", "supervise"), {"url": SUPERVISE_URL})]
    times = []
    while len(times) <= reps:
        start = time.perf_counter()
        edited = tomlconfig.edit(USER_CONFIG.encode(), ops)
        times.append((time.perf_counter() - start) * 1000)
    if edited == USER_CONFIG.encode():
        raise RuntimeError("the in-process edit changed nothing")
    return {"first_ms": round(times[0], 2), "median_ms": round(statistics.median(times[1:]), 2)}


def tasks_changed(play: Play) -> dict[str, int]:
    host = next(iter(play.stats))
    return {"changed": play.stats[host].get("changed", 0), "tasks": len(play.results.get(host, []))}


# -- summary and output --------------------------------------------------------------------


def summarize(results: dict[str, t.Any]) -> dict[str, t.Any]:
    for data in results["kinds"].values():
        data["medians"] = {case: {k: round(statistics.median(v), 3) for k, v in s.items() if v}
                           for case, s in data["timings"].items()}
        med = data["medians"]
        data["ratios"] = {
            "user_first_vs_fresh_first": {m: round(med["user_first"][m] / med["fresh_first"][m], 2)
                                          for m in ("wall_s", "cpu_s")},
            "user_rerun_vs_fresh_rerun": {m: round(med["user_rerun"][m] / med["fresh_rerun"][m], 2)
                                          for m in ("wall_s", "cpu_s")},
            "edit_cost_ms": {m: round((med["user_first"][m] - med["fresh_first"][m]) * 1000)
                             for m in ("wall_s", "cpu_s")},
        }
    return results


def markdown(results: dict[str, t.Any]) -> str:
    meta = results["meta"]
    lines = [
        f"Measured {meta['date']} on {meta['machine']} ({meta['cpus']} cores, load average "
        f"{meta['load_before']} before / {meta['load_after']} after), ansible-core {meta['ansible_core']}, "
        f"{meta['reps']} repetitions, medians, {meta['source']}, pipelining {meta['pipelining']}. "
        "Reproduce with:", "",
        "```", meta["command"], "```", "",
        "| bottle | case | wall s | CPU s | RSS MB | vs (a) wall | changed / tasks | remote cmds | module runs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, data in results["kinds"].items():
        med, counts, tasks = data["medians"], data["counts"], data["tasks"]
        for case, label in CASES.items():
            m, c = med[case], counts[case]
            ratio = "" if case == "fresh_first" else f"{m['wall_s'] / med['fresh_first']['wall_s']:.2f}x"
            lines.append(f"| {kind}/{PROVIDER} | {label} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | "
                         f"{m['maxrss_mb']:.0f} ({m['tree_rss_mb']:.0f}) | {ratio} | "
                         f"{tasks[case]['changed']} / {tasks[case]['tasks']} | {c['remote_commands']} | "
                         f"{c['module_runs']} |")
    lines += ["", "| bottle | (b)/(a) wall | (b)/(a) CPU | (b)-(a) wall ms | (b)-(a) CPU ms | (c)/(a') wall |",
              "|---|---|---|---|---|---|"]
    for kind, data in results["kinds"].items():
        r = data["ratios"]
        lines.append(f"| {kind}/{PROVIDER} | {r['user_first_vs_fresh_first']['wall_s']:.2f}x | "
                     f"{r['user_first_vs_fresh_first']['cpu_s']:.2f}x | {r['edit_cost_ms']['wall_s']} | "
                     f"{r['edit_cost_ms']['cpu_s']} | {r['user_rerun_vs_fresh_rerun']['wall_s']:.2f}x |")
    edit = results["edit"]
    lines += ["", f"The controller's tomlkit edit of this config alone (`tomlconfig.edit`, in-process): "
              f"{edit['first_ms']:.1f} ms the first call, {edit['median_ms']:.1f} ms (median) after."]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 repetition: proves the benchmark works")
    p.add_argument("--reps", type=int, help="repetitions (default 5, quick 1)")
    p.add_argument("--kinds", default="docker,ssh", help="bottle kinds, comma-separated (docker, ssh)")
    p.add_argument("--ref", help="measure this git ref (exported with git archive) instead of the working tree")
    p.add_argument("--out", type=Path, help="also write the results JSON here")
    args = p.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 5)
    args.kinds = [k for k in args.kinds.split(",") if k]
    if not args.kinds or set(args.kinds) - {"docker", "ssh"}:
        p.error("--kinds: docker and/or ssh")
    return args


def _terminate(signum: int, _frame: t.Any) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace, argv: list[str]) -> dict[str, t.Any]:
    results: dict[str, t.Any] = {
        "meta": {
            "command": " ".join([".venv/bin/python", "bench/toml_edit.py", *argv]),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}", "cpus": os.cpu_count(),
            "ansible_core": ansible_core_version(), "reps": args.reps, "quick": args.quick,
            "load_before": load(),
        },
        "kinds": {},
    }
    work = Path(tempfile.mkdtemp(prefix="bbench-toml-"))
    bench: Bench | None = None
    try:
        source = snapshot(args.ref, work) if args.ref else working_tree()
        results["meta"]["source"] = source.label
        results["meta"]["pipelining"] = pipelining(source.config, {})
        results["edit"] = edit_ms(source.collections)
        bench = Bench(work, {}, source)
        if "ssh" in args.kinds:
            bench.ssh = SshBottle(SshBottle.prepare_rootfs(SSH_ROOTFS), name=f"{PREFIX}toml-ssh").start()
        for kind in args.kinds:
            results["kinds"][kind] = {"counts": probe(bench, kind), "tasks": {},
                                      "timings": {case: series() for case in CASES}}
        for rep in range(args.reps):  # interleaved, and the order alternates, so load hits all alike
            for kind in args.kinds:
                data = results["kinds"][kind]
                for user_config in ((False, True) if rep % 2 == 0 else (True, False)):
                    for case, play in pair(bench, kind, user_config).items():
                        record(data["timings"][case], play.m)
                        data["tasks"][case] = tasks_changed(play)
            print(f"rep {rep + 1}/{args.reps} done (load {load()})", file=sys.stderr, flush=True)
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(work, ignore_errors=True)
    results["meta"]["load_after"] = load()
    return summarize(results)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH.parent, capture_output=True,
                            text=True, check=False).stdout.strip()
    results = run(args, argv)
    results["meta"]["head"] = commit
    print(markdown(results))
    summary: dict[str, t.Any] = {
        kind: {"ratios": d["ratios"], "module_runs": {case: n["module_runs"] for case, n in d["counts"].items()}}
        for kind, d in results["kinds"].items()
    }
    summary["edit"] = results["edit"]
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
