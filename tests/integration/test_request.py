"""What the one validated request promises, on real bottles: the owner reaches every path, the
read-only checks run before any write (as the bottle user, leaving nothing behind), secrets come
from memory, and the trusted project path exists afterwards."""

from __future__ import annotations

import json
import shutil
import typing as t
from pathlib import Path

import pytest
from agents import driver
from bottles import (
    AGENTS_IMAGE,
    CACHE,
    IMAGES,
    SUPERVISE_URL,
    DockerBottle,
    SshBottle,
    role_vars,
    run_playbook,
    sh,
    write_inventory,
)

AGENT_HOME = "/home/agent"
PROJECT = f"{AGENT_HOME}/project"


def as_agent_user(bottle, tmp_path: Path, provider: str, **extra: t.Any) -> dict[str, t.Any]:
    return role_vars(bottle, provider, tmp_path, agent_owner="agent:agent", agent_guest_home=AGENT_HOME,
                     agent_trusted_project_path=PROJECT, **extra)


def converge(bottle, host_vars: dict, tmp_path: Path, *args: str):
    return run_playbook(write_inventory(tmp_path / "inventory.yml", {bottle.name: host_vars}), *args)


@pytest.fixture(scope="module")
def agent_ssh_bottle() -> t.Iterator[SshBottle]:
    """An SSH bottle whose only user is ``agent``: a hard-linked copy of the suite's rootfs, with
    real copies of /etc and /home (userdel edits files in place: through a hard link it would
    change the shared rootfs too)."""
    shared = SshBottle.prepare_rootfs(CACHE / "ssh-rootfs")
    rootfs = CACHE / "ssh-rootfs-agent"
    shutil.rmtree(rootfs, ignore_errors=True)
    sh("cp", "-al", str(shared), str(rootfs))
    for private in ("etc", "home", "root"):
        shutil.rmtree(rootfs / private)
        sh("cp", "-a", str(shared / private), str(rootfs / private))
    sh("chroot", str(rootfs), "sh", "-c", "userdel -r node && useradd -m -U -s /bin/bash agent")
    bottle = SshBottle(rootfs, name="ssh-agent-bottle").start()
    yield bottle
    bottle.stop()
    shutil.rmtree(rootfs, ignore_errors=True)


@pytest.fixture
def agent_bottle(request, agent_ssh_bottle):
    """A bottle of the given kind whose user is ``agent`` and which has no ``node`` user."""
    if request.param == "ssh":
        yield agent_ssh_bottle
        return
    bottle = DockerBottle(AGENTS_IMAGE).start()
    bottle.exec("userdel -r node && useradd -m -U -s /bin/bash agent")
    yield bottle
    bottle.stop()


def read_config_with_the_cli(bottle, provider: str) -> str:
    """The real CLI, run as the bottle user, reads the MCP entry we wrote (0600, owned by agent)."""
    command = driver(provider).mcp_get_command(AGENT_HOME)
    return bottle.exec(f"cd {PROJECT} && {command} </dev/null", user="agent", check=False, timeout=60).stdout


@pytest.mark.parametrize("agent_bottle", ["docker", "ssh"], indirect=True)
def test_a_bottle_whose_user_is_not_node(agent_bottle, provider, tmp_path):
    agent_bottle.exec(f"rm -rf {AGENT_HOME}/.[!.]* {PROJECT}")
    assert agent_bottle.exec("id node", check=False).returncode != 0, "the bottle must have no node user"
    host_vars = as_agent_user(agent_bottle, tmp_path, provider)
    root_home = agent_bottle.exec("ls -A /root").stdout
    first = converge(agent_bottle, host_vars, tmp_path)
    assert first.rc == 0, first.failed_msgs() or first.stdout[-2000:]
    # Every path the collection wrote belongs to the bottle user.
    assert agent_bottle.exec(f"find {AGENT_HOME} ! -user agent -o ! -group agent").stdout == ""
    assert agent_bottle.stat(PROJECT) == ("700", "agent:agent"), "the trusted project path is created"
    assert str(SUPERVISE_URL) in read_config_with_the_cli(agent_bottle, provider)
    # The CLI check ran as the bottle user with a throwaway home: nothing in root's home.
    assert agent_bottle.exec("ls -A /root").stdout == root_home
    assert converge(agent_bottle, host_vars, tmp_path).changed(agent_bottle.name) == 0


def test_an_existing_trusted_project_is_left_as_it_is(make_bottle, tmp_path):
    bottle = make_bottle("docker", "codex")
    bottle.exec("install -d -o root -g root -m 755 /srv/repo")
    run = converge(bottle, role_vars(bottle, "codex", tmp_path, agent_trusted_project_path="/srv/repo"), tmp_path)
    assert run.rc == 0, run.failed_msgs()
    assert bottle.stat("/srv/repo") == ("755", "root:root")


def test_a_trusted_project_without_its_parent_fails_before_any_write(make_bottle, tmp_path):
    bottle = make_bottle("docker", "codex")
    before = bottle.system_snapshot()
    run = converge(bottle, role_vars(bottle, "codex", tmp_path, agent_auth_token="sk-not-written",
                                     agent_trusted_project_path="/nonexistent/repo"), tmp_path)
    assert run.rc != 0
    assert "/nonexistent" in " ".join(run.failed_msgs())
    assert bottle.system_snapshot() == before
    assert not (tmp_path / "state").exists()


def test_a_missing_cli_fails_with_the_plans_words_before_any_write(tmp_path):
    """Claude provisioned into the codex image (no claude binary): nothing written anywhere."""
    bottle = DockerBottle(IMAGES["codex"]).start()
    try:
        before = bottle.system_snapshot()
        run = converge(bottle, role_vars(bottle, "claude", tmp_path, agent_auth_token="sk-not-written"), tmp_path)
        assert run.rc != 0
        msg = " ".join(run.failed_msgs())
        assert "the claude CLI does not run in the bottle" in msg and "@anthropic-ai/claude-code" in msg, msg
        assert "Errno 2" not in msg
        assert bottle.system_snapshot() == before
        assert not (tmp_path / "state").exists()
    finally:
        bottle.stop()


def test_check_mode_compares_the_secret_in_memory_not_a_stale_copy(make_bottle, tmp_path):
    """A new token in --check must show as a change of the bottle's credential file."""
    bottle = make_bottle("docker", "codex")
    first = converge(bottle, role_vars(bottle, "codex", tmp_path, agent_auth_token="sk-first",
                                       agent_credentials_in_guest=True), tmp_path)
    assert first.rc == 0, first.failed_msgs()
    check = converge(bottle, role_vars(bottle, "codex", tmp_path, agent_auth_token="sk-second",
                                       agent_credentials_in_guest=True), tmp_path, "--check")
    assert check.rc == 0 and check.changed(bottle.name) == 1
    changes = [c for r in check.results[bottle.name] for c in r.get("changes", [])]
    assert any(c.endswith("/.codex/auth.json") for c in changes), changes
    assert "sk-second" not in check.stdout and json.loads(bottle.read("/home/node/.codex/auth.json"))[
        "OPENAI_API_KEY"] == "sk-first"
