"""The real agent CLIs (every provider in the registry) accept what the roles provision, offline.

One bottle per (target kind, provider) is provisioned once by the role and then driven with
the real CLI: MCP readback/connection, auth status per auth mode, headless and resumed runs
through the role's launcher against a fake model API that records what the CLI sent, and an
interactive start in tmux that must reach the ready prompt without any dialog.

The fakes run on this machine only, on the one address each bottle can reach: the host side of
the SSH bottle's veth pair, and the docker bridge address for docker bottles (on an internal
network), which reach it as host.docker.internal (DockerBottle maps it to the host gateway).
"""

from __future__ import annotations

import json
import re
import shlex
import time
import typing as t
import uuid
from pathlib import Path

import pytest
from agents import PROVIDERS, AgentDriver, driver
from bottles import GUEST_HOME, IMAGES, Bottle, DockerBottle, docker_gateway, run_playbook, write_inventory
from conftest import EXAMPLES
from fakes.mcp_server import MCP_PATH, TOOL, FakeMcpServer
from fakes.stdio_mcp import TOOL as STDIO_TOOL
from fakes.model_api import REPLY, FakeModelApi

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN

# Stands in for a user's real credential: it must never reach a default-mode bottle.
REAL_TOKEN = f"real-credential-{uuid.uuid4().hex}"
PROMPT_TEXT = (EXAMPLES / "prompt.md").read_text().strip()
SKILL_NAME = "review"
SKILL_DESCRIPTION = "Review a change for correctness and clarity before it is committed."
# A stdio MCP server the CLI starts in the bottle (tests/fakes/stdio_mcp.py, copied in); each start
# is logged with the env the CLI gave it.
PROBE = "probe"
PROBE_SCRIPT = "/tmp/bbt-stdio-mcp.py"
PROBE_LOG = "/tmp/bbt-stdio-mcp.log"
PROBE_ENV = f"probe-env-{uuid.uuid4().hex[:8]}"
PROBE_SERVER = {"name": PROBE, "command": "python3", "args": [PROBE_SCRIPT, PROBE_LOG], "env": {"PROBE_ENV": PROBE_ENV}}
CASES = [(kind, provider) for kind in ("docker", "ssh") for provider in PROVIDERS]
# Standing instructions (agent_context) and two settings layers: the user's (agent_settings) and the
# root-owned managed one (agent_managed_settings), which must win where both set a key.
CONTEXT_TEXT = f"Standing instruction {uuid.uuid4().hex[:8]}: keep every answer short."
USER_MODEL, MANAGED_MODEL = "bbt-user-model", "bbt-managed-model"
# A plugin from the example marketplace (agent_plugins): its skill must be offered from the first start.
MARKETPLACE = EXAMPLES / "marketplace"
PLUGIN_SKILL = ("house-style:commit-message", "Write a commit message in this team's style before every commit.")
# The dialogs an interactive start must not stop at.
DIALOGS = re.compile(
    r"trust (the files|the contents|this folder)|Quick safety check|Folder access|Open restricted|"
    r"Choose the text style|Detected a custom API key|Bypass Permissions mode|Yes, I accept|"
    r"Sign in|login method|Press Enter to continue",
    re.IGNORECASE,
)


class Services(t.NamedTuple):
    api: FakeModelApi
    mcp: FakeMcpServer
    guest_host: str  # how the bottle names this machine

    def api_url(self) -> str:
        return self.api.url(self.guest_host)

    def mcp_url(self) -> str:
        return self.mcp.url(self.guest_host, MCP_PATH)


class Agent(t.NamedTuple):
    bottle: Bottle
    kind: str
    provider: str
    services: Services
    tmp: Path
    result: dict[str, t.Any]
    plan: dict[str, t.Any]
    real_token: str = ""

    @property
    def driver(self) -> AgentDriver:
        return driver(self.provider)

    def run(self, command: str, timeout: float = 90, check: bool = False):
        """A shell command as the bottle user, stdin closed (codex exec would wait on it)."""
        return self.bottle.exec(f"{command} </dev/null", user="node", check=check, timeout=timeout)

    def with_launcher_env(self, command: str) -> str:
        """``command`` in the environment the role's launcher gives the agent (exports + env files)."""
        launcher = shlex.quote(self.result["launcher"])
        return f"eval \"$(sed -n -e '/^export /p' -e '/^if \\[ -r /p' {launcher})\"; {command}"

    def env(self, name: str) -> str:
        """A variable as the launcher sets it for the agent."""
        return self.run(self.with_launcher_env(f"printenv {name} || true")).stdout.strip()


@pytest.fixture(scope="module")
def services(ssh_server) -> t.Iterator[dict[str, Services]]:
    # Each bottle reaches only this machine's address on its side: the fakes listen there.
    ssh_host = ssh_server.host_address
    started = {
        "ssh": Services(FakeModelApi(ssh_host), FakeMcpServer(ssh_host), ssh_host),
        "docker": Services(FakeModelApi(docker_gateway()), FakeMcpServer(docker_gateway()), "host.docker.internal"),
    }
    for s in started.values():
        s.api.start()
        s.mcp.start()
    yield started
    for s in started.values():
        s.api.stop()
        s.mcp.stop()


def install_stdio_probe(bottle: Bottle) -> None:
    script = (Path(__file__).parent.parent / "fakes" / "stdio_mcp.py").read_text()
    bottle.exec(f"cat > {PROBE_SCRIPT} <<'EOF'\n{script}EOF\nchmod 644 {PROBE_SCRIPT}; rm -f {PROBE_LOG}")


def probe_starts(agent: "Agent") -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in agent.bottle.exec(f"cat {PROBE_LOG} 2>/dev/null || true").stdout.splitlines()]


def settings_layers(provider: str) -> dict[str, t.Any]:
    """User settings choosing one model (and allowing the tool the policy denies), a managed policy
    choosing another (and denying that tool)."""
    agent = driver(provider)
    user, managed = agent.model_settings(USER_MODEL), agent.model_settings(MANAGED_MODEL)
    if agent.denied_tool:
        policy, allow, _tool = agent.denied_tool
        user, managed = {**user, **allow}, {**managed, **policy}
    return {"agent_settings": user, "agent_managed_settings": managed}


def provision(bottle: Bottle, provider: str, tmp: Path, svc: Services, **auth: t.Any) -> dict[str, t.Any]:
    """Run the role; return the plan it computed."""
    host = {
        **bottle.inventory_vars(),
        "agent_provider": provider,
        "agent_state_dir": str(tmp / "state"),
        "agent_skills": [SKILL_NAME],
        "agent_skills_root": str(EXAMPLES / "skills"),
        "agent_prompt_file": str(EXAMPLES / "prompt.md"),
        "agent_supervise_url": svc.mcp_url(),
        "agent_mcp_servers": [PROBE_SERVER],
        "agent_trusted_project_path": GUEST_HOME,
        "agent_result_file": str(tmp / "result.json"),
        # The fake model API is the gateway: every model request must arrive there.
        "agent_base_url": driver(provider).base_url(svc.api_url()),
        "agent_context": CONTEXT_TEXT,
        **settings_layers(provider),
        **({"agent_plugins": [{"marketplace": str(MARKETPLACE)}]} if driver(provider).takes_plugins else {}),
        **auth,
    }
    run = run_playbook(write_inventory(tmp / "inventory.yml", {bottle.name: host}), timeout=180)
    assert run.rc == 0, run.failed_msgs() or run.stderr or run.stdout
    return next(r for r in run.results[bottle.name] if "plan" in r)["plan"]


DEFAULT_AUTH = {"agent_auth_token": REAL_TOKEN}


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{p}" for k, p in CASES])
def agent(request, services, tmp_path_factory) -> t.Iterator[Agent]:
    kind, provider = request.param
    svc = services[kind]
    if kind == "docker":
        bottle: Bottle = DockerBottle(IMAGES[provider]).start()
    else:
        bottle = request.getfixturevalue("ssh_server")
        bottle.reset_home()
    try:
        install_stdio_probe(bottle)
        tmp = tmp_path_factory.mktemp(f"{kind}-{provider}")
        plan = provision(bottle, provider, tmp, svc, **DEFAULT_AUTH)
        result = json.loads((tmp / "result.json").read_text())
        yield Agent(bottle, kind, provider, svc, tmp, result, plan, REAL_TOKEN)
    finally:
        bottle.exec("tmux kill-server", user="node", check=False)
        if isinstance(bottle, DockerBottle):
            bottle.stop()


# -- helpers to read what the CLI sent ---------------------------------------------------


def strings(data: t.Any) -> t.Iterator[str]:
    """Every string in a JSON document (so escaping never hides a match)."""
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value)


def request_text(body: dict[str, t.Any]) -> str:
    return "\n".join(strings(body))


def wait_until(what: str, probe: t.Callable[[], t.Any], timeout: float, detail: t.Callable[[], str]) -> t.Any:
    """Poll ``probe`` until it returns something truthy; fail with ``detail()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:.0f}s:\n{detail()}")
        time.sleep(0.5)


def grep_bottle(agent: Agent, needle: str) -> str:
    """Files in the bottle that contain ``needle`` (home, /tmp, /root)."""
    return agent.bottle.exec(f"grep -rlsF -e {shlex.quote(needle)} {GUEST_HOME} /tmp /root || true").stdout


# -- interactive sessions in tmux --------------------------------------------------------


def pane(agent: Agent) -> str:
    return agent.bottle.exec("tmux capture-pane -p -t bbt", user="node", check=False).stdout


def wait_for_pane(agent: Agent, pattern: re.Pattern, timeout: float = 60) -> str:
    def probe() -> str:
        text = pane(agent)
        dead = agent.bottle.exec("tmux display -p -t bbt '#{pane_dead} #{pane_dead_status}'", user="node", check=False)
        if dead.stdout.startswith("1"):
            pytest.fail(f"the agent exited (status {dead.stdout.split()[-1]}) before its prompt:\n{text}")
        dialog = DIALOGS.search(text)
        if dialog:
            pytest.fail(f"the interactive start stopped at a dialog ({dialog.group(0)!r}):\n{text}")
        return text if pattern.search(text) else ""

    return wait_until(f"screen showing {pattern.pattern!r}", probe, timeout, lambda: pane(agent))


def start_interactive(agent: Agent) -> str:
    """Start the launcher in tmux; return the screen once the agent waits for input."""
    agent.bottle.exec("tmux kill-server", user="node", check=False)
    agent.bottle.exec(
        # remain-on-exit keeps the last screen of an agent that quits (e.g. at an offline onboarding).
        f"cd {GUEST_HOME} && tmux new-session -d -s bbt -x 200 -y 50 {shlex.quote(agent.result['launcher'])}"
        " \\; set-option -t bbt remain-on-exit on",
        user="node",
    )
    if agent.driver.first_turn_is_the_prompt():
        # The prompt instruction is the first turn: ready means that turn is done.
        wait_for_pane(agent, re.compile(re.escape(REPLY)))
    return wait_for_pane(agent, agent.driver.ready)


def interactive_turn(agent: Agent, message: str) -> None:
    """Type ``message`` into the running UI and wait until the model API received it."""
    agent.bottle.exec(f"tmux send-keys -t bbt -l {shlex.quote(message)}", user="node")
    time.sleep(0.5)  # codex treats keys arriving with the text as a paste: Enter must come after
    agent.bottle.exec("tmux send-keys -t bbt Enter", user="node")
    api = agent.services.api
    wait_until(
        "the typed message reaching the model API",
        lambda: any(message in request_text(turn.json()) for turn in api.turns()),
        60,
        lambda: pane(agent),
    )
    wait_for_pane(agent, agent.driver.ready)


def stop_interactive(agent: Agent) -> None:
    agent.bottle.exec("tmux kill-server", user="node", check=False)


# -- the tests ---------------------------------------------------------------------------


def test_supervise_mcp_is_registered_and_reachable(agent):
    agent.services.mcp.clear()
    agent.driver.mcp_readback(agent, agent.services.mcp_url())


def test_a_stdio_mcp_server_is_registered_in_the_clis_own_format(agent):
    agent.driver.stdio_readback(agent, PROBE, "python3")


def test_headless_run_sends_prompt_skills_and_mcp_tools_with_placeholder_only(agent):
    api = agent.services.api
    api.clear()
    message = f"headless check {uuid.uuid4().hex[:8]}"
    run = agent.run(f"{shlex.quote(agent.result['launcher'])} --headless {shlex.quote(message)}")
    assert run.returncode == 0, run.stderr
    assert REPLY in run.stdout

    turns = api.turns()
    assert turns, f"no model request recorded; other requests: {api.requests}"
    text = "\n".join(request_text(turn.json()) for turn in turns)
    assert message in text
    # Claude appends the prompt to its system prompt; codex reads the file (the fake asks it to).
    assert PROMPT_TEXT in text
    assert agent.driver.lists_skill(text, SKILL_NAME, SKILL_DESCRIPTION)
    if agent.driver.takes_plugins:  # installed offline from the marketplace directory, no CLI command run
        assert agent.driver.lists_skill(text, *PLUGIN_SKILL)
    first = turns[0].json()
    offered = agent.driver.tool_names(first, request_text(first))
    assert agent.driver.mcp_tool("supervise", TOOL["name"]) in offered
    # The stdio server: the CLI started it in the bottle, with its env, and offers its tool.
    assert agent.driver.mcp_tool(PROBE, STDIO_TOOL["name"]) in offered
    assert {"started": True, "probe_env": PROBE_ENV} in probe_starts(agent)
    # The managed layer wins over the user's settings; the standing instructions reach the model.
    models = {agent.driver.request_model(turn) for turn in turns}
    assert MANAGED_MODEL in models and USER_MODEL not in models, models
    assert CONTEXT_TEXT in text
    if agent.driver.denied_tool:  # denied by the policy although the user's settings allow it
        assert agent.driver.denied_tool[2] not in offered, offered
    for turn in turns:
        assert agent.driver.credential(turn.headers) == PLACEHOLDER_TOKEN
    recorded = [*api.requests, *agent.services.mcp.requests]
    assert not [r.path for r in recorded if REAL_TOKEN in json.dumps(r.headers) or REAL_TOKEN.encode() in r.body]
    assert grep_bottle(agent, REAL_TOKEN) == ""


def test_interactive_start_stops_at_no_dialog(agent):
    try:
        screen = start_interactive(agent)
        assert agent.driver.ready.search(screen)
        interactive_turn(agent, f"typed in tmux {uuid.uuid4().hex[:8]}")
    finally:
        stop_interactive(agent)


def test_resume_continues_the_interactive_session(agent):
    first = f"first turn {uuid.uuid4().hex[:8]}"
    second = f"resumed turn {uuid.uuid4().hex[:8]}"
    try:
        start_interactive(agent)
        interactive_turn(agent, first)
    finally:
        stop_interactive(agent)
    api = agent.services.api
    api.clear()
    run = agent.run(f"{shlex.quote(agent.result['launcher'])} --resume --headless {shlex.quote(second)}")
    assert run.returncode == 0, run.stderr or run.stdout
    assert REPLY in run.stdout
    text = request_text(api.turns()[-1].json())
    assert second in text
    assert first in text, "the resumed run did not carry the earlier conversation"


# Runs last for each bottle: the opt-in mode leaves the real token in it on purpose.
def test_auth_status_follows_the_auth_mode(agent):
    def reprovision(**auth: t.Any) -> None:
        provision(agent.bottle, agent.provider, agent.tmp, agent.services, **auth)

    # Default mode (the fixture's): a placeholder the CLI accepts, the real token stays outside.
    agent.driver.auth_status(agent, "placeholder")
    assert grep_bottle(agent, REAL_TOKEN) == ""
    reprovision(agent_auth_token="")
    agent.driver.auth_status(agent, "none")
    # Opt-in: the real credential is placed in the bottle and the CLI uses it.
    reprovision(agent_auth_token=REAL_TOKEN, agent_credentials_in_guest=True)
    agent.driver.auth_status(agent, "real")
    assert grep_bottle(agent, REAL_TOKEN) != ""
