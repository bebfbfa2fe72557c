"""The README's first command: scripts/demo.sh provisions a local docker bottle and prints what it got."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from agents import PROVIDERS
from bottles import CACHE, DockerBottle, sh
from conftest import ROOT

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import get_provider


# Every variable a provider's users keep a credential in: the demo must not find a real one here.
KEYS = {name for provider in PROVIDERS for name in get_provider(provider).credential_env_names}


def demo(name: str, *args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in KEYS}
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "demo.sh"), *args], capture_output=True, text=True,
                          env={**clean, "BOT_BOTTLE_DEMO_NAME": name, **env}, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module", autouse=True)
def stop_the_demo_proxy():
    """The demo leaves its egress proxy running for the user; the tests stop it."""
    yield
    sh("docker", "rm", "-f", "bot-bottle-egress-demo", check=False)


def recap_changed(stdout: str) -> int:
    return int(re.search(r"^demo-\w+\s+:.*\bchanged=(\d+)", stdout, re.M).group(1))


def test_demo_provisions_and_reruns_clean():
    """As the README runs it: no argument, the default provider (the other providers take the same
    path through the script; the role tests cover each of them)."""
    provider = "claude"
    name = f"bbt-demo-{provider}-{os.getpid()}"
    bottle = DockerBottle("unused", name=name)
    try:
        first = demo(name)
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
        assert "no credential in this shell: export" in first
        assert recap_changed(demo(name)) == 0
    finally:
        sh("docker", "rm", "-f", name, check=False)
        shutil.rmtree(CACHE / "demo" / name, ignore_errors=True)
        for leftover in (f"{name}.json", f"{name}.inventory.yml"):
            (CACHE / "demo" / leftover).unlink(missing_ok=True)


def test_demo_of_another_provider_puts_a_key_from_the_shell_behind_the_proxy():
    """`demo.sh gemini` with GEMINI_API_KEY set: the key stays on this machine, the bottle gets a
    placeholder and goes out through the proxy. (Nothing is sent to the API: only provisioning runs,
    whose TLS check the proxy answers itself.)"""
    name = f"bbt-demo-key-{os.getpid()}"
    key = f"AIza-demo-{os.getpid()}-not-a-real-key"
    bottle = DockerBottle("unused", name=name)
    try:
        out = demo(name, "gemini", GEMINI_API_KEY=key)
        printed = json.loads(out.split("--- machine-readable result")[1].split(":\n", 1)[1].split("\n---")[0])
        assert printed["provider"] == "gemini" and printed["hidden_env_names"] == ["GEMINI_API_KEY"]
        (route,) = printed["egress_routes"]
        assert (route["host"], route["header"]) == ("generativelanguage.googleapis.com", "x-goog-api-key")
        assert key not in out and "no credential in this shell" not in out
        launcher = bottle.read(printed["launcher"])
        assert "HTTPS_PROXY=" in launcher and "bot-bottle-egress-demo:3128" in launcher
        assert bottle.exec(f"grep -rlsF {key} /home /etc /tmp /root", check=False).stdout == ""
        registration = CACHE / "demo" / "egress" / "bottles" / "demo-gemini.json"
        assert json.loads(registration.read_text())["routes"][0]["credential_path"] == route["credential_path"]
        assert open(route["credential_path"]).read() == key
    finally:
        sh("docker", "rm", "-f", name, check=False)
        shutil.rmtree(CACHE / "demo" / name, ignore_errors=True)
        for leftover in (f"{name}.json", f"{name}.inventory.yml"):
            (CACHE / "demo" / leftover).unlink(missing_ok=True)
