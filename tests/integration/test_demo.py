"""The README's first command: scripts/demo.sh provisions a local docker bottle and prints what it got."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from bottles import CACHE, DockerBottle, sh
from conftest import ROOT


def demo(provider: str, name: str) -> str:
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), provider], capture_output=True, text=True,
                          env={**os.environ, "BOT_BOTTLE_DEMO_NAME": name}, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def recap_changed(stdout: str) -> int:
    return int(re.search(r"^demo\s+:.*\bchanged=(\d+)", stdout, re.M).group(1))


@pytest.mark.parametrize("provider", ["claude", "codex"])
def test_demo_provisions_and_reruns_clean(provider):
    name = f"bbt-demo-{provider}-{os.getpid()}"
    bottle = DockerBottle("unused", name=name)
    try:
        first = demo(provider, name)
        assert recap_changed(first) >= 1
        # The real CLI runs in it: the bottle must have no route off this machine.
        networks = json.loads(sh("docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", name).stdout)
        assert list(networks) == ["bot-bottle-internal"], networks
        assert sh("docker", "network", "inspect", "-f", "{{.Internal}}", "bot-bottle-internal").stdout.strip() == "true"
        printed = json.loads(first.split("--- machine-readable result")[1].split(":\n", 1)[1].split("\n---")[0])
        assert printed["provider"] == provider
        assert bottle.stat(printed["launcher"]) == ("700", "node:node")
        assert bottle.read(printed["prompt_path"]) == (ROOT / "examples" / "prompt.md").read_text()
        assert printed["skills"] == [f"{printed['skills_dir']}/review"]
        assert f"docker exec -it -u node {name} {printed['launcher']}" in first
        # The launcher starts the real CLI with the planned env (--version: no model API needed).
        version = bottle.exec(f"{printed['launcher']} --version", user="node", check=False)
        assert version.returncode == 0 and re.search(r"\d+\.\d+\.\d+", version.stdout), version
        assert recap_changed(demo(provider, name)) == 0
    finally:
        sh("docker", "rm", "-f", name, check=False)
        shutil.rmtree(CACHE / "demo" / name, ignore_errors=True)
        (CACHE / "demo" / f"{name}.json").unlink(missing_ok=True)
