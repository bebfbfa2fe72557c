"""Secrets never leak; user config survives; interrupted and repeated runs converge."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import yaml
from bottles import GUEST_HOME, VENV_BIN, ansible_env, role_vars, run_playbook, write_inventory
from conftest import ROOT

TOKEN = "sk-REAL-SECRET-7f3a9c1e-never-print"
HEADER_SECRET = "hdr-SECRET-0b6d2e"


def vars_for(bottle, provider, tmp_path, **extra):
    extra = {"agent_supervise_headers": {"X-Supervise-Key": HEADER_SECRET}, "agent_auth_token": TOKEN, **extra}
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
    for secret in (TOKEN, HEADER_SECRET):
        assert secret not in plain.stdout + plain.stderr
        assert secret not in as_json.stdout + as_json.stderr
        assert secret not in (tmp_path / "result.json").read_text()
    # The only controller file holding the token is the one the egress proxy reads, 0600.
    holders = controller_files_holding(TOKEN, tmp_path / "state")
    assert [p.name for p in holders] == [{"claude": "claude-oauth-token", "codex": "codex-api-key"}[provider]]
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
    inv = inventory(bottle, provider, tmp_path)
    assert run_playbook(inv).rc == 0
    config = {"claude": f"{GUEST_HOME}/.claude.json", "codex": f"{GUEST_HOME}/.codex/config.toml"}[provider]
    if provider == "claude":
        data = json.loads(bottle.read(config))
        data["mcpServers"]["mine"] = {"type": "http", "url": "http://mine"}
        data["theme"] = "light"  # not ours: stays
        data["hasCompletedOnboarding"] = False  # ours: re-asserted
        bottle.exec(f"cat > {config} <<'EOF'\n{json.dumps(data, indent=2)}\nEOF")
    else:
        text = bottle.read(config) + '\n# mine\n[mcp_servers.mine]\nurl = "http://mine"\n'
        text = text.replace('trust_level = "trusted"', 'trust_level = "untrusted"')  # ours: re-asserted
        bottle.exec(f"cat > {config} <<'EOF'\n{text}EOF")
    assert run_playbook(inv).changed(bottle.name) >= 1
    playbook = tmp_path / "absent.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "bottles", "gather_facts": False, "tasks": [{
        "name": "Remove supervise", "bot_bottle.agents.agent_mcp_server": {"provider": provider, "state": "absent"}}]}]))
    assert run_playbook(inv, playbook=playbook).changed(bottle.name) == 1
    assert run_playbook(inv, playbook=playbook).changed(bottle.name) == 0
    text = bottle.read(config)
    if provider == "claude":
        data = json.loads(text)
        assert data["mcpServers"] == {"mine": {"type": "http", "url": "http://mine"}}
        assert data["theme"] == "light" and data["hasCompletedOnboarding"] is True
    else:
        data = tomllib.loads(text)
        assert data["mcp_servers"] == {"mine": {"url": "http://mine"}}
        assert "# mine" in text and data["projects"][GUEST_HOME]["trust_level"] == "trusted"


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


def test_killed_run_converges_on_rerun(make_bottle, tmp_path):
    bottle = make_bottle("docker", "claude")
    inv = inventory(bottle, "claude", tmp_path)
    for delay in (1.0, 1.6, 2.2):
        proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), str(ROOT / "playbooks/provision.yml")],
                                env=ansible_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        time.sleep(delay)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        json.loads(bottle.exec(f"cat {GUEST_HOME}/.claude.json 2>/dev/null || echo '{{}}'").stdout)
    rerun = run_playbook(inv)
    assert rerun.rc == 0, rerun.failed_msgs()
    assert json.loads(bottle.read(f"{GUEST_HOME}/.claude.json"))["mcpServers"]["supervise"]["type"] == "http"
    assert run_playbook(inv).changed(bottle.name) == 0
