"""Bad input: a clear error naming the variable and the fix; guest and host left as they were."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from agents import PROVIDERS
from bottles import GUEST_HOME, internal_network, role_vars, run_playbook, sh, write_inventory

from ansible_collections.bot_bottle.agents.plugins.module_utils.configedit import BLOCK_BEGIN

CLAUDE_JSON = f"{GUEST_HOME}/.claude.json"
CODEX_TOML = f"{GUEST_HOME}/.codex/config.toml"

KNOWN = ", ".join(PROVIDERS)


def run_failing(bottle, tmp_path, overrides: dict, provider: str = "claude", env: dict | None = None) -> str:
    """Run the role with bad input; assert it failed and changed nothing anywhere.

    A bad input the controller can see fails before anything is built; one only the bottle can
    show (its own config) fails in the bottle's dry pass, before any byte is written there or in
    the controller's state_dir.
    """
    before = bottle.snapshot()
    host_vars = role_vars(bottle, provider, tmp_path, **overrides)
    inventory = write_inventory(tmp_path / "inventory.yml", {bottle.name: host_vars})
    run = run_playbook(inventory, env=env)
    assert run.rc != 0, "bad input must fail the play"
    assert bottle.snapshot() == before, "the bottle was changed by a failed run"
    state = Path(host_vars["agent_state_dir"])
    assert not state.exists() or not any(state.rglob("*")), "the controller state was written by a failed run"
    return " | ".join(run.failed_msgs()) + run.stdout[-3000:]


@pytest.fixture
def docker_claude(make_bottle):
    return make_bottle("docker", "claude")


def test_unknown_provider(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_provider": "nosuch"})
    assert "nosuch" in msg


def test_unknown_provider_through_the_shared_role(docker_claude, tmp_path):
    """Through the shared role (the thin roles pick the provider by name): the role variable is named."""
    inventory = write_inventory(tmp_path / "inventory.yml", {docker_claude.name: {
        **role_vars(docker_claude, "claude", tmp_path), "agent_provider": "nosuch"}})
    playbook = tmp_path / "play.yml"
    playbook.write_text("- hosts: bottles\n  gather_facts: false\n  roles: [bot_bottle.agents.agent]\n")
    run = run_playbook(inventory, playbook=playbook)
    assert f"agent_provider: unknown provider 'nosuch'; known providers: {KNOWN}" in run.failed_msgs()


@pytest.mark.parametrize(
    "skills, expected",
    [
        (["nope"], "agent_skills: skill 'nope' not found"),
        (["../etc"], "agent_skills: '../etc' is not a plain skill name"),
        (["a/b"], "agent_skills: 'a/b' is not a plain skill name"),
        ([".."], "agent_skills: '..' is not a plain skill name"),
    ],
)
def test_bad_skills(docker_claude, tmp_path, skills, expected):
    assert expected in run_failing(docker_claude, tmp_path, {"agent_skills": skills})


def test_skill_symlink_outside_the_root(docker_claude, tmp_path):
    root = tmp_path / "skills"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "SKILL.md").write_text("---\nname: x\ndescription: x\n---\n")
    (root / "escape").symlink_to(outside)
    msg = run_failing(docker_claude, tmp_path, {"agent_skills": ["escape"], "agent_skills_root": str(root)})
    assert "agent_skills: skill 'escape' resolves outside skills_root" in msg


def test_missing_prompt_file(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_prompt_file": str(tmp_path / "missing.md")})
    assert "agent_prompt_file: " in msg and "does not exist" in msg


def test_state_dir_not_writable(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_state_dir": "/proc/bot-bottle-state"})
    assert "agent_state_dir: /proc is not writable" in msg


def test_state_dir_relative(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_state_dir": "relative/state"})
    assert "agent_state_dir: must be an absolute path" in msg


@pytest.mark.parametrize("provider, path, content, expected", [
    ("claude", CLAUDE_JSON, "{not json", "does not parse as JSON"),
    ("codex", CODEX_TOML, "[broken\n", "does not parse as TOML"),
])
def test_unparseable_guest_config(make_bottle, target_kind, tmp_path, provider, path, content, expected):
    bottle = make_bottle(target_kind, provider)
    bottle.exec(f"install -d -o node -g node -m 700 {GUEST_HOME}/.codex && printf '%s' '{content}' > {path}")
    # With a token: the controller would have a secret to write, and must not write it.
    msg = run_failing(bottle, tmp_path, {"agent_auth_token": "sk-must-stay-unwritten"}, provider=provider)
    assert f"{path} {expected}" in msg and "left untouched" in msg
    assert bottle.read(path) == content


def test_config_path_is_a_symlink(docker_claude, tmp_path):
    docker_claude.exec(f"echo '{{}}' > /tmp/elsewhere.json && ln -s /tmp/elsewhere.json {CLAUDE_JSON}")
    msg = run_failing(docker_claude, tmp_path, {"agent_auth_token": "sk-must-stay-unwritten"})
    assert f"{CLAUDE_JSON} is a symlink" in msg
    assert docker_claude.read("/tmp/elsewhere.json").strip() == "{}"


@pytest.mark.parametrize("overrides, expected", [
    ({"agent_settings": {"skipDangerousModePermissionPrompt": False}},
     "agent_settings.skipDangerousModePermissionPrompt: skipDangerousModePermissionPrompt in "
     f"{GUEST_HOME}/.claude/settings.json is set by the collection"),
    ({"agent_settings": "model=opus"}, "agent_settings: must be a YAML mapping, not a string"),
    ({"agent_context_file": "/nonexistent/CONTEXT.md"},
     "agent_context_file: /nonexistent/CONTEXT.md does not exist or is not a file on the controller"),
])
def test_bad_settings_and_context(docker_claude, tmp_path, overrides, expected):
    assert expected in run_failing(docker_claude, tmp_path, overrides)


def test_broken_context_block_in_the_users_file(docker_claude, tmp_path):
    """Only the bottle can see it: the dry pass refuses, nothing is written (the user's file included)."""
    path = f"{GUEST_HOME}/.claude/CLAUDE.md"
    text = f"# Mine\n{BLOCK_BEGIN}\nhalf a block\n"
    docker_claude.exec(f"install -d -o node -g node -m 700 {GUEST_HOME}/.claude && cat > {path} <<'EOF'\n{text}EOF")
    msg = run_failing(docker_claude, tmp_path, {"agent_context": "Be brief."})
    assert f"{path} has a broken bot_bottle.agents block" in msg and "left untouched" in msg
    assert docker_claude.read(path) == text


def test_mcp_url_with_a_bad_scheme(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_supervise_url": "ftp://example/mcp"})
    assert "agent_supervise_url: 'ftp://example/mcp' is not an http(s) URL" in msg


def test_duplicate_mcp_names(docker_claude, tmp_path):
    msg = run_failing(docker_claude, tmp_path, {"agent_mcp_servers": [{"name": "supervise", "url": "http://h/mcp"}]})
    assert "agent_mcp_servers: name 'supervise' is listed twice" in msg


def test_forward_host_credentials_without_host_file(docker_claude, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    msg = run_failing(docker_claude, tmp_path, {"agent_forward_host_credentials": True}, env={"HOME": str(home)})
    assert "agent_forward_host_credentials: controller credential file" in msg
    assert "log in on the controller first" in msg


def test_bottle_unreachable(tmp_path):
    inventory = write_inventory(tmp_path / "inventory.yml", {"bbt-does-not-exist": {
        "ansible_connection": "community.docker.docker", "agent_provider": "claude",
        "agent_state_dir": str(tmp_path / "state")}})
    run = run_playbook(inventory)
    assert run.rc != 0
    msg = " ".join(run.failed_msgs())
    # With pipelining the docker connection reports a missing container as a module failure.
    assert run.stats["bbt-does-not-exist"]["unreachable"] == 1 or (
        "the bottle did not run the provisioning module" in msg and "No such container: bbt-does-not-exist" in msg)


def test_bottle_without_python(tmp_path):
    name = f"bbt-nopy-{os.getpid()}"
    sh("docker", "run", "-d", "--name", name, "--network", internal_network(), "--entrypoint", "sh",
       "localhost/bot-bottle/claude:latest", "-c",
       "rm -f /usr/bin/python3*; exec sleep infinity")
    try:
        inventory = write_inventory(tmp_path / "inventory.yml", {name: {
            "ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3",
            "agent_provider": "claude", "agent_state_dir": str(tmp_path / "state")}})
        run = run_playbook(inventory)
        assert run.rc != 0
        msg = " ".join(run.failed_msgs())
        assert "the bottle did not run the provisioning module" in msg and "/usr/bin/python3" in msg
    finally:
        sh("docker", "rm", "-f", name, check=False)


def test_ssh_bottle_unreachable(ssh_server, tmp_path):
    host = {**ssh_server.inventory_vars(), "ansible_port": _closed_port(), "agent_provider": "codex",
            "agent_state_dir": str(tmp_path / "state")}
    run = run_playbook(write_inventory(tmp_path / "inventory.yml", {"smol-down": host}))
    assert run.rc != 0 and run.stats["smol-down"]["unreachable"] == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there
