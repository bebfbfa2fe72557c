"""The drift report for CI (bot_bottle.agents.drift): check mode over a fleet, exit 0 when every bottle
is in sync, 2 when one drifted or could not be checked, with the per-bottle list as JSON."""

from __future__ import annotations

import json

from bottles import GUEST_HOME, role_vars, run_playbook, write_inventory

DRIFT = "bot_bottle.agents.drift"  # as users run it, by its collection name


def test_drift_report_says_in_sync_then_names_what_drifted_and_writes_nothing(make_bottle, tmp_path):
    bottle = make_bottle("docker", "codex")
    hosts = {bottle.name: role_vars(bottle, "codex", tmp_path)}
    inventory = write_inventory(tmp_path / "inventory.yml", hosts)
    assert run_playbook(inventory).rc == 0
    report = tmp_path / "drift.json"
    synced = run_playbook(inventory, "-e", f"drift_report_file={report}", playbook=DRIFT)
    assert synced.rc == 0, synced.failed_msgs() or synced.stdout[-2000:]
    assert json.loads(report.read_text()) == {"in_sync": [bottle.name], "drifted": {}, "failed": []}

    # Someone removed the launcher; and a second bottle of the fleet is gone.
    bottle.exec(f"rm {GUEST_HOME}/.bot-bottle/codex/launch")
    before = bottle.snapshot()
    fleet = write_inventory(tmp_path / "fleet.yml", {**hosts, "bbt-gone": {
        **hosts[bottle.name], "ansible_host": "bbt-no-such-container", "agent_state_dir": str(tmp_path / "gone")}})
    drifted = run_playbook(fleet, "-e", f"drift_report_file={report}", playbook=DRIFT)
    assert drifted.rc == 2
    found = json.loads(report.read_text())
    assert found["in_sync"] == [] and found["failed"] == ["bbt-gone"]
    assert found["drifted"] == {bottle.name: [f"created {GUEST_HOME}/.bot-bottle/codex/launch"]}
    assert "1 of 2 bottles drifted" in " ".join(drifted.failed_msgs())
    assert bottle.snapshot() == before, "the drift report wrote to the bottle"
