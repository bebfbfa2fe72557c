"""`ansible-test integration` of the collection-native targets (tests/integration/targets/) from an
ansible_collections/bot_bottle/agents copy of the checkout: localhost, connection local, no docker.

`--local`, not `--venv`: the venv ansible-test builds gets ansible-core's requirements plus the
collection's `tests/integration/requirements.txt`, and the collection has none, so tomlkit (the
controller needs it to edit a Codex config.toml; it is in the root requirements.txt) would be missing
and the codex cases fail. `--local` runs in the project's .venv, which scripts/bootstrap.sh filled
from requirements.txt: no pip run, nothing downloaded, ~35 s.
"""

from __future__ import annotations

import re
from pathlib import Path

from agents import PROVIDERS
from gatelib import ansible_test, tail

TARGETS = ("agent_mcp_server", "agent_provision_plan")


def test_ansible_test_integration_targets_pass(tmp_path: Path) -> None:
    proc = ansible_test(tmp_path, "integration", "--local", *TARGETS, timeout=900)
    assert proc.returncode == 0, tail(proc, 120)
    # Each target ran, and ran its per-provider tasks for every provider the registry knows.
    runs = re.split(r"^Running (\S+) integration test role$", proc.stdout, flags=re.MULTILINE)
    ran = dict(zip(runs[1::2], runs[2::2]))
    assert sorted(ran) == sorted(TARGETS), tail(proc)
    for target, output in ran.items():
        for provider in PROVIDERS:
            assert re.search(rf"{target}/tasks/provider\.yml for testhost => \(item={provider}\)$", output,
                             re.MULTILINE), f"{target} did not run {provider}:\n{output[-3000:]}"
        assert re.search(r"^testhost\s+: ok=\d+ .*\bfailed=0\b", output, re.MULTILINE), output[-3000:]
