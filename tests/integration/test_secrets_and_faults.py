"""Secrets never leak; user config survives; interrupted and repeated runs converge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import yaml
from agents import driver
from bottles import GUEST_HOME, VENV_BIN, ansible_env, role_vars, run_playbook, write_inventory
from conftest import ROOT

TOKEN = "sk-REAL-SECRET-7f3a9c1e-never-print"
HEADER_SECRET = "hdr-SECRET-0b6d2e"
ENV_SECRET = "env-SECRET-91c4d7"  # a stdio MCP server's env value


def vars_for(bottle, provider, tmp_path, **extra):
    extra = {"agent_supervise_headers": {"X-Supervise-Key": HEADER_SECRET}, "agent_auth_token": TOKEN,
             "agent_mcp_servers": [{"name": "tracker", "command": "tracker-mcp", "env": {"TRACKER_TOKEN": ENV_SECRET}}],
             **extra}
    return role_vars(bottle, provider, tmp_path, **extra)


def inventory(bottle, provider, tmp_path, **extra):
    return write_inventory(tmp_path / "inventory.yml", {bottle.name: vars_for(bottle, provider, tmp_path, **extra)})


def controller_files_holding(secret: str, root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_no_secret_in_any_output(make_bottle, target_kind, provider, tmp_path):
    bottle = make_bottle(target_kind, provider)
    inv = inventory(bottle, provider, tmp_path)
    plain = run_playbook(inv, "-vvv", "--diff", json_output=False)
    assert plain.rc == 0, plain.stdout[-2000:]
    as_json = run_playbook(inv, "-vvv", "--diff")  # registered results, facts, the plan
    assert as_json.rc == 0
    for secret in (TOKEN, HEADER_SECRET, ENV_SECRET):
        assert secret not in plain.stdout + plain.stderr
        assert secret not in as_json.stdout + as_json.stderr
        assert secret not in (tmp_path / "result.json").read_text()
    # The only controller file holding the token is the one the egress proxy reads, 0600.
    holders = controller_files_holding(TOKEN, tmp_path / "state")
    routes = json.loads((tmp_path / "result.json").read_text())["egress_routes"]
    assert [str(p) for p in holders] == [r["credential_path"] for r in routes if r["credential_source"] == "file"]
    assert holders[0].stat().st_mode & 0o777 == 0o600
    # Default mode: the real token is nowhere in the bottle.
    assert bottle.exec(f"grep -rl {TOKEN} {GUEST_HOME} /tmp /etc", check=False).stdout == ""


def test_credentials_in_guest_opt_in(make_bottle, provider, tmp_path):
    bottle = make_bottle("docker", provider)
    inv = inventory(bottle, provider, tmp_path, agent_credentials_in_guest=True)
    run = run_playbook(inv, "-vvv", "--diff", json_output=False)
    assert run.rc == 0, run.stdout[-2000:]
    assert TOKEN not in run.stdout + run.stderr
    (holder,) = bottle.exec(f"grep -rl {TOKEN} {GUEST_HOME}").stdout.split()
    assert bottle.stat(holder) == ("600", "node:node")
    assert controller_files_holding(TOKEN, tmp_path / "state") == [] or all(
        p.stat().st_mode & 0o777 == 0o600 for p in controller_files_holding(TOKEN, tmp_path / "state"))
    assert run_playbook(inv).changed(bottle.name) == 0


def test_mcp_absent_removes_only_ours_and_owned_keys_come_back(make_bottle, provider, tmp_path):
    bottle = make_bottle("docker", provider)
    agent = driver(provider)
    inv = inventory(bottle, provider, tmp_path)
    assert run_playbook(inv).rc == 0
    config = agent.config_path
    # The user's own server, and one of our keys changed by hand (it must come back).
    bottle.exec(f"cat > {config} <<'EOF'\n{agent.tampered(agent.with_user_server(bottle.read(config)))}\nEOF")
    assert not agent.owned_keys_hold(bottle.read(config))
    assert run_playbook(inv).changed(bottle.name) >= 1
    playbook = tmp_path / "absent.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "bottles", "gather_facts": False, "tasks": [{
        "name": "Remove supervise", "bot_bottle.agents.agent_mcp_server": {"provider": provider, "state": "absent"}}]}]))
    assert run_playbook(inv, playbook=playbook).changed(bottle.name) == 1
    assert run_playbook(inv, playbook=playbook).changed(bottle.name) == 0
    text = bottle.read(config)
    servers = agent.mcp_servers(text)
    # Only the named entry goes: the user's server and our other one stay.
    assert sorted(servers) == ["mine", "tracker"] and servers["mine"] == agent.USER_SERVER
    assert agent.owned_keys_hold(text) and agent.user_server_kept(text)


def apply_changes(run, host):
    return next(r for r in run.results[host] if "bottle" in r)["changes"]


def test_check_mode_predicts_the_real_run(make_bottle, target_kind, tmp_path):
    bottle = make_bottle(target_kind, "codex")
    inv = inventory(bottle, "codex", tmp_path)
    predicted = apply_changes(run_playbook(inv, "--check"), bottle.name)
    actual = apply_changes(run_playbook(inv), bottle.name)
    assert predicted == actual and actual


def test_two_providers_in_a_row_do_not_fight(ssh_server, tmp_path):
    ssh_server.reset_home()
    claude = vars_for(ssh_server, "claude", tmp_path, agent_state_dir=str(tmp_path / "s1"),
                      agent_result_file=str(tmp_path / "claude.json"))
    codex = vars_for(ssh_server, "codex", tmp_path, agent_state_dir=str(tmp_path / "s2"),
                     agent_result_file=str(tmp_path / "codex.json"))
    inv_claude = write_inventory(tmp_path / "claude.yml", {ssh_server.name: claude})
    inv_codex = write_inventory(tmp_path / "codex.yml", {ssh_server.name: codex})
    for inv in (inv_claude, inv_codex):
        assert run_playbook(inv).rc == 0
    for inv in (inv_claude, inv_codex):
        assert run_playbook(inv).changed(ssh_server.name) == 0


SLOW_WRITES = "/run/bot-bottle-test-slow-writes"  # the guest module's test hook (agent_guest_state notes)
WRITE_LOG = "/run/bot-bottle-test-writes.log"
DUMP = ("python3 -c 'import json,os; print(json.dumps({os.path.join(d, f): open(os.path.join(d, f), \"rb\").read()"
        ".decode(\"utf-8\", \"replace\") for d, _, fs in os.walk(\"%s\") for f in fs}))'" % GUEST_HOME)


def home_files(bottle) -> dict[str, str]:
    return json.loads(bottle.exec(DUMP).stdout)


def writes_logged(bottle) -> list[tuple[str, str]]:
    out = bottle.exec(f"cat {WRITE_LOG} 2>/dev/null || true").stdout
    return [tuple(line.split(" ", 1)) for line in out.splitlines()]


def killed_inside_write(bottle, inv, k: int) -> list[tuple[str, str]]:
    """Start a run whose writes pause before their rename; kill it (bottle and controller) inside write k."""
    bottle.exec(f"rm -f {WRITE_LOG} && echo '60 {k}' > {SLOW_WRITES}")
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(ROOT / "playbooks/provision.yml")],
                            env=ansible_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 50
        while len(logged := writes_logged(bottle)) < k:
            assert proc.poll() is None and time.monotonic() < deadline, f"the run never reached write {k}: {logged}"
            time.sleep(0.1)
        bottle.exec(f"kill -9 {logged[k - 1][0]}")  # the module, paused inside its k-th write
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        bottle.exec(f"rm -f {SLOW_WRITES}")
    return logged[:k]


def test_killed_run_leaves_old_or_new_files_and_converges(make_bottle, tmp_path):
    """Kill the guest module inside each of its writes: every file is the old or the new version."""
    bottle = make_bottle("docker", "claude")
    inventories = []
    for version in ("old", "new"):  # a prompt, a skill and the MCP header (in ~/.claude.json) change
        (tmp_path / f"{version}.md").write_text(f"The {version} prompt.\n")
        skill = tmp_path / version / "review" / "SKILL.md"
        skill.parent.mkdir(parents=True)
        skill.write_text(f"---\nname: review\ndescription: The {version} review skill.\n---\nReview it.\n")
        inventories.append(write_inventory(tmp_path / f"{version}.yml", {bottle.name: vars_for(
            bottle, "claude", tmp_path, agent_prompt_file=str(tmp_path / f"{version}.md"),
            agent_skills_root=str(tmp_path / version), agent_supervise_headers={"X-Supervise-Key": f"{version}-key"})}))
    inv_old, inv_new = inventories
    # A reference run (the hook logs, no pause) gives the writes from the old state to the new one.
    assert run_playbook(inv_old).rc == 0
    bottle.exec(f"rm -f {WRITE_LOG} && echo 0 > {SLOW_WRITES}")
    assert run_playbook(inv_new).rc == 0
    bottle.exec(f"rm -f {SLOW_WRITES}")
    reference = [path for _pid, path in writes_logged(bottle)]
    new = home_files(bottle)
    assert len(reference) >= 3, f"the new inputs change at least three files: {reference}"
    for k in range(1, len(reference) + 1):
        assert run_playbook(inv_old).rc == 0
        old = home_files(bottle)
        written = killed_inside_write(bottle, inv_new, k)
        assert [path for _pid, path in written] == reference[:k]
        after = home_files(bottle)
        cut = reference[k - 1]  # killed between its temp file and its rename
        assert after.get(cut) == old.get(cut), f"{cut}: killed inside its write, must be the old version"
        for path in set(old) | set(new) | set(after):
            if os.path.basename(path).startswith(".bot-bottle-"):
                continue  # the temp file of the killed write (complete, never renamed)
            expected = new.get(path) if path in reference[: k - 1] else old.get(path)
            assert after.get(path) == expected, f"{path} is neither the old nor the new version (killed in write {k})"
            if path.endswith(".json") and path in after:
                json.loads(after[path])
    rerun = run_playbook(inv_new)
    assert rerun.rc == 0, rerun.failed_msgs()
    assert home_files(bottle) == new, "converged, and the killed writes' temp files are gone"
    assert run_playbook(inv_new).changed(bottle.name) == 0
