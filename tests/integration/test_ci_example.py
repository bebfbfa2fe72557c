"""examples/ci: the script the GitHub Actions and GitLab CI examples call, run as a CI job would.

It starts a bottle, provisions it, runs the agent headless on a task and keeps the artifacts. The
"model API" is the fake on this machine, given to the agent as agent_base_url through the job's
vars file, behind the job's egress proxy, so the real CLI runs end to end offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import yaml
from bottles import CACHE, ROOT, TEST_NETWORK, VENV_BIN, docker_gateway
from fakes.model_api import REPLY, TlsModelApi
from fakes.tls_api import FakeCA

EXAMPLE = ROOT / "examples" / "ci"
GATEWAY = "llm-gateway.bbt.test"
KEY = f"sk-ant-api03-ci-{uuid.uuid4().hex}"


def test_the_ci_job_provisions_runs_the_task_and_keeps_the_artifacts(tmp_path):
    """The job's own egress proxy holds the key; the model API (a gateway name, served by the TLS fake
    through the proxy's test-only upstream override) gets it, the bottle never does."""
    ca = FakeCA(tmp_path)
    api = TlsModelApi(ca, names=[GATEWAY], host=docker_gateway()).start()
    try:
        task = f"fix the failing test {uuid.uuid4().hex[:8]}"
        job_vars = tmp_path / "agent-vars.yml"
        job_vars.write_text(yaml.safe_dump({"agent_base_url": f"https://{GATEWAY}", "agent_auth_token": KEY}))
        egress_vars = tmp_path / "egress-vars.yml"
        egress_vars.write_text(yaml.safe_dump({"egress_upstream_override": {GATEWAY: f"{docker_gateway()}:{api.port}"},
                                               "egress_upstream_ca": str(ca.cert_path)}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update(HOME=str(tmp_path), PATH=f"{VENV_BIN}:{env['PATH']}",
                   ANSIBLE_COLLECTIONS_PATH=str(CACHE / "collections"), AGENT_TASK=task, AGENT_VARS=str(job_vars),
                   EGRESS_VARS=str(egress_vars), BOTTLE_NETWORK=TEST_NETWORK, ARTIFACTS=str(tmp_path / "artifacts"))
        job = subprocess.run(["bash", str(EXAMPLE / "agent-task.sh")], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=600, check=False)
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        artifacts = tmp_path / "artifacts"
        result = json.loads((artifacts / "result.json").read_text())
        assert result["provider"] == "claude" and [r["host"] for r in result["egress_routes"]] == [GATEWAY]
        assert REPLY in (artifacts / "agent-output.txt").read_text()
        turns = api.turns()
        assert any(task in json.dumps(turn.json()) for turn in turns), "the task did not reach the model"
        assert {turn.headers.get("x-api-key") for turn in turns} == {KEY}, "the proxy did not put the key on"
        assert KEY not in job.stdout + job.stderr
        # The job's bottle and proxy are gone with the job.
        names = subprocess.run(["docker", "ps", "-a", "--format", "{{.Names}}"], capture_output=True, text=True,
                               check=True).stdout
        assert "agent-ci-" not in names
    finally:
        api.stop()


def test_the_workflows_stay_thin_and_call_the_tested_script():
    github = yaml.safe_load((EXAMPLE / "github-actions.yml").read_text())
    steps = [step.get("run", "") for job in github["jobs"].values() for step in job["steps"]]
    assert "bash examples/ci/agent-task.sh" in steps
    assert any("bot_bottle.agents.drift" in run for run in steps)
    gitlab = yaml.safe_load((EXAMPLE / "gitlab-ci.yml").read_text())
    scripts = [line for job in gitlab.values() for line in job["script"]]
    assert any("examples/ci/agent-task.sh" in line for line in scripts)
    assert any("bot_bottle.agents.drift" in line for line in scripts)
