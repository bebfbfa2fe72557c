"""The real agent CLIs (every provider in the registry), in docker and SSH bottles, reach their APIs only through the real
egress proxy, which puts the real credential on the wire while the bottle holds a placeholder.

The "APIs" are a fake model API served over TLS on this machine under the real host names: the
proxy's test-only upstream override sends each provider's API host there (and refuses any
other host before a lookup), so nothing leaves the machine. Nothing in the bottles changes for the
test: they name the real hosts and go through HTTPS_PROXY.
"""

from __future__ import annotations

import json
import re
import shlex
import typing as t
import uuid
from pathlib import Path

import pytest
from agents import PROVIDERS, AgentDriver, driver
from bottles import (
    IMAGES,
    ROOT,
    TEST_NETWORK,
    Bottle,
    DockerBottle,
    docker_gateway,
    role_vars,
    run_playbook,
    sh,
    write_inventory,
)
from fakes.mcp_server import MCP_PATH, FakeMcpServer
from fakes.model_api import REPLY, TlsModelApi
from fakes.tls_api import FakeCA, free_port

from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN

# Stand in for a user's real credentials; the bottle must never hold a byte of them.
API_KEY = f"sk-ant-api03-real-{uuid.uuid4().hex}"
TOKENS = {provider: f"{driver(provider).token_prefix}real-{uuid.uuid4().hex}" for provider in PROVIDERS}
CASES = [(kind, provider) for kind in ("docker", "ssh") for provider in PROVIDERS]
# An LLM gateway (agent_base_url) under a name of its own, served by the same fake.
GATEWAY = "llm-gateway.bbt.test"
# Claude on the cloud platforms (agent_platform): the endpoint the CLI calls by itself, and the
# credential the proxy must put on the wire there.
PLATFORMS = {
    "bedrock": ({"name": "bedrock", "region": "us-east-1"}, "bedrock-runtime.us-east-1.amazonaws.com"),
    "vertex": ({"name": "vertex", "region": "us-east5", "project": "bbt-project"}, "us-east5-aiplatform.googleapis.com"),
}
# Every header a CLI may carry its credential in.
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")


class Proxy(t.NamedTuple):
    name: str
    fact: dict[str, t.Any]
    api: TlsModelApi
    mcp: dict[str, FakeMcpServer]
    dir: Path
    inventory: Path


def egress_play(tmp: Path, **role_vars_: t.Any) -> Path:
    playbook = tmp / "egress.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - role: bot_bottle.agents.egress\n"
        "  post_tasks:\n    - name: Keep the fact\n      ansible.builtin.copy:\n"
        "        content: \"{{ egress_proxy | to_json }}\"\n        dest: " + str(tmp / "egress.json") + "\n"
        "        mode: '0600'\n"
    )
    inventory = tmp / "egress-inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": str(ROOT / ".venv" / "bin" / "python"),
        **role_vars_}}}}))
    return inventory


@pytest.fixture(scope="module")
def proxy(tmp_path_factory, ssh_server) -> t.Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("egress")
    gateway = docker_gateway()
    (tmp / "ca").mkdir()
    ca = FakeCA(tmp / "ca")
    hosts = [driver(p).api_host for p in PROVIDERS] + [GATEWAY] + [host for _p, host in PLATFORMS.values()]
    api = TlsModelApi(ca, names=hosts, host=gateway).start()
    mcp = {"docker": FakeMcpServer(gateway).start(), "ssh": FakeMcpServer(ssh_server.host_address).start()}
    name = f"bbt-egress-{uuid.uuid4().hex[:6]}"
    inventory = egress_play(
        tmp, egress_name=name, egress_dir=str(tmp / "egress"), egress_network=TEST_NETWORK,
        egress_publish=f"{ssh_server.host_address}:{free_port(ssh_server.host_address)}",
        egress_credential_dirs=[str(tmp_path_factory.getbasetemp())],
        # Tests only: every API host goes to the fake on this machine, verified with the fake's CA.
        egress_upstream_override={host: f"{gateway}:{api.port}" for host in hosts},
        egress_upstream_ca=str(ca.cert_path),
    )
    run = run_playbook(inventory, playbook=tmp / "egress.yml")
    try:
        assert run.rc == 0, run.failed_msgs() or run.stdout[-3000:]
        yield Proxy(name, json.loads((tmp / "egress.json").read_text()), api, mcp, tmp / "egress", inventory)
    finally:
        sh("docker", "rm", "-f", name, check=False)
        api.stop()
        for server in mcp.values():
            server.stop()


class Agent(t.NamedTuple):
    bottle: Bottle
    kind: str
    provider: str
    tmp: Path
    host_vars: dict[str, t.Any]
    result: dict[str, t.Any]

    @property
    def driver(self) -> AgentDriver:
        return driver(self.provider)

    def headless(self, message: str = "hello"):
        launcher = shlex.quote(self.result["launcher"])
        return self.bottle.exec(f"timeout 90 {launcher} --headless {shlex.quote(message)} </dev/null",
                                user="node", check=False, timeout=120)


def provision(bottle: Bottle, host_vars: dict, tmp: Path, *args: str):
    return run_playbook(write_inventory(tmp / "inventory.yml", {bottle.name: host_vars}), *args, timeout=300)


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{p}" for k, p in CASES])
def agent(request, proxy, tmp_path_factory) -> t.Iterator[Agent]:
    kind, provider = request.param
    if kind == "docker":
        bottle: Bottle = DockerBottle(IMAGES[provider]).start()
    else:
        bottle = request.getfixturevalue("ssh_server")
        bottle.reset_home()
    tmp = tmp_path_factory.mktemp(f"{kind}-{provider}")
    mcp = proxy.mcp[kind]
    mcp_host = "host.docker.internal" if kind == "docker" else bottle.host_address
    egress = dict(proxy.fact, url=proxy.fact["docker_url"] if kind == "docker" else proxy.fact["published_url"])
    host_vars = role_vars(bottle, provider, tmp, agent_auth_token=TOKENS[provider], agent_egress=egress,
                          agent_supervise_url=mcp.url(mcp_host, MCP_PATH))
    try:
        run = provision(bottle, host_vars, tmp)
        assert run.rc == 0, run.failed_msgs() or run.stdout[-3000:]
        yield Agent(bottle, kind, provider, tmp, host_vars, json.loads((tmp / "result.json").read_text()))
    finally:
        if isinstance(bottle, DockerBottle):
            bottle.stop()


def auth_values(requests) -> list[str]:
    return ["".join(r.headers.get(name, "") for name in CREDENTIAL_HEADERS) for r in requests]


def test_the_api_gets_the_real_token_and_never_the_placeholder(agent, proxy):
    proxy.api.clear()
    proxy.mcp[agent.kind].clear()
    run = agent.headless()
    assert run.returncode == 0 and REPLY in run.stdout, (
        run.stdout[-2000:] + run.stderr[-2000:] + sh("docker", "logs", "--tail", "30", proxy.name).stderr)
    turns = proxy.api.turns()
    assert turns, [r.path for r in proxy.api.requests]
    token = TOKENS[agent.provider]
    assert all(token in value for value in auth_values(turns)), auth_values(turns)
    assert not any(PLACEHOLDER_TOKEN in value for value in auth_values(proxy.api.requests))
    # The supervise MCP server is reached directly (NO_PROXY), not refused by the proxy.
    assert "initialize" in proxy.mcp[agent.kind].methods()


def test_claude_with_an_api_key_through_a_gateway_sends_it_there_as_x_api_key(proxy, make_bottle, tmp_path):
    """agent_base_url: the credential's route follows the gateway's host; the API host gets nothing."""
    bottle = make_bottle("docker", "claude")
    host_vars = role_vars(bottle, "claude", tmp_path, agent_auth_token=API_KEY, agent_base_url=f"https://{GATEWAY}",
                          agent_egress=dict(proxy.fact, url=proxy.fact["docker_url"]))
    run = provision(bottle, host_vars, tmp_path)
    assert run.rc == 0, run.failed_msgs()
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["hidden_env_names"] == ["ANTHROPIC_API_KEY"]
    assert [r["host"] for r in result["egress_routes"]] == [GATEWAY]
    proxy.api.clear()
    out = bottle.exec(f"{result['launcher']} --headless hello </dev/null", user="node", check=False, timeout=120)
    assert out.returncode == 0 and REPLY in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert [r.headers.get("x-api-key") for r in proxy.api.turns()] == [API_KEY] * len(proxy.api.turns())
    assert proxy.api.turns() and not any(r.headers.get("authorization") for r in proxy.api.turns())
    assert {r.headers.get("host") for r in proxy.api.requests} == {GATEWAY}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_claude_on_a_cloud_platform_gets_the_credential_at_the_platform_endpoint(proxy, make_bottle, tmp_path, platform):
    """agent_platform: the CLI calls the platform's endpoint by itself (Bedrock with a bearer API key in
    place of SigV4, Vertex with its own Google auth skipped) and the proxy adds the real credential."""
    settings, endpoint = PLATFORMS[platform]
    credential = f"{platform}-credential-{uuid.uuid4().hex}"
    bottle = make_bottle("docker", "claude")
    host_vars = role_vars(bottle, "claude", tmp_path, agent_auth_token=credential, agent_platform=settings,
                          agent_egress=dict(proxy.fact, url=proxy.fact["docker_url"]))
    run = provision(bottle, host_vars, tmp_path)
    assert run.rc == 0, run.failed_msgs()
    result = json.loads((tmp_path / "result.json").read_text())
    assert [r["host"] for r in result["egress_routes"]] == [endpoint]
    proxy.api.clear()
    out = bottle.exec(f"{result['launcher']} --headless hello </dev/null", user="node", check=False, timeout=120)
    assert out.returncode == 0 and REPLY in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    turns = proxy.api.turns()
    assert turns and {r.headers.get("host") for r in turns} == {endpoint}, [r.path for r in proxy.api.requests]
    assert {r.headers.get("authorization") for r in turns} == {f"Bearer {credential}"}
    assert bottle.exec(f"grep -rlsF {credential} /home /etc /tmp", check=False).stdout == ""


def test_no_byte_of_the_token_in_the_bottle(agent):
    token = TOKENS[agent.provider]
    found = agent.bottle.exec(
        f"grep -rlsF {shlex.quote(token)} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev; "
        f"cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF {shlex.quote(token)}", check=False)
    assert found.stdout.strip() in ("0", ""), found.stdout
    assert agent.bottle.exec("ps -eo args", check=False).stdout.count(token) == 0


CONNECT_SCRIPT = """
import base64, os, socket, sys, urllib.parse
proxy = urllib.parse.urlparse(os.environ["HTTPS_PROXY"])
sock = socket.create_connection((proxy.hostname, proxy.port), timeout=10)
auth = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode()
sock.sendall(f"CONNECT {sys.argv[1]}:443 HTTP/1.1\\r\\nHost: {sys.argv[1]}:443\\r\\n"
             f"Proxy-Authorization: Basic {auth}\\r\\n\\r\\n".encode())
reply = b""
while b"\\r\\n\\r\\n" not in reply:
    reply += sock.recv(65536)
head, _, body = reply.partition(b"\\r\\n\\r\\n")
length = int(dict(line.split(": ", 1) for line in head.decode("latin-1").lower().split("\\r\\n")[1:]).get("content-length", 0))
while len(body) < length:
    body += sock.recv(65536)
print(head.decode("latin-1") + "\\n\\n" + body.decode())
"""


def via_launcher_env(agent: Agent, command: str):
    """``command`` as the bottle user, in the environment the launcher gives the agent."""
    launcher = shlex.quote(agent.result["launcher"])
    return agent.bottle.exec(f"eval \"$(sed -n '/^export /p' {launcher})\"; {command}", user="node", check=False)


def test_a_host_off_the_allowlist_is_refused_with_the_variable_to_change(agent):
    run = via_launcher_env(agent, f"python3 -c {shlex.quote(CONNECT_SCRIPT)} example.com")
    out = run.stdout
    assert out.startswith("HTTP/1.1 403"), run
    assert "example.com" in out and "agent_egress_allow" in out


def test_no_token_in_any_ansible_output_and_rerun_is_clean(agent, proxy):
    rerun = run_playbook(write_inventory(agent.tmp / "inventory.yml", {agent.bottle.name: agent.host_vars}),
                         "-vvv", "--diff", json_output=False, timeout=300)
    assert rerun.rc == 0 and TOKENS[agent.provider] not in rerun.stdout + rerun.stderr
    changes = re.findall(r"(?:created|updated|removed|registered|attributes of) [^\"]*", rerun.stdout)
    assert "changed=0" in rerun.stdout.split("PLAY RECAP")[-1], changes or rerun.stdout[-1500:]


def test_the_proxy_play_reruns_clean(proxy):
    proxy_rerun = run_playbook(proxy.inventory, playbook=proxy.inventory.parent / "egress.yml")
    assert proxy_rerun.rc == 0 and proxy_rerun.changed("localhost") == 0


def test_a_rotated_secret_reaches_the_api_without_reprovisioning(agent, proxy):
    (route,) = [r for r in agent.result["egress_routes"] if r["host"] == agent.driver.api_host]
    secret = Path(route["credential_path"])
    original = secret.read_bytes()
    rotated = TOKENS[agent.provider] + "-rotated"
    secret.write_text(rotated)
    try:
        proxy.api.clear()
        run = agent.headless()
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert all(rotated in value for value in auth_values(proxy.api.turns())) and proxy.api.turns()
    finally:
        secret.write_bytes(original)
