"""The egress role (bot_bottle.agents.egress) with the real docker engine and the real proxy image.

One proxy per module (its own container name, internal network and directory, removed by name at
the end), a docker bottle made with the role's `bottle` entry point, and the fake TLS API under the
real API host names.

Network rule: every request stays on this machine. The proxy runs in override mode from its first
start (`egress_upstream_override` maps every routed host to the fake API, which listens on the
docker bridge gateway, an address of this machine; the proxy refuses every other upstream), the
bottle sits on an internal network, and a host that is not allowed is refused at CONNECT, before
any DNS lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import os
import socket
import subprocess
import sys
import typing as t
import uuid
from pathlib import Path

import pytest

from bottles import IMAGES, PlaybookRun, docker_gateway, run_playbook, sh, write_inventory
from fakes.tls_api import FakeCA, FakeTlsApi, free_port

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "egress.yml"
IMAGE = "localhost/bot-bottle/egress:latest"
PLACEHOLDER = "bot-bottle-placeholder-not-a-secret"
SECRET = "sk-ant-api03-REAL-role-test-secret-7777"
ROUTED = ("api.anthropic.com", "api.openai.com")

# Runs in the bottle (python3 only): CONNECT through the proxy, then one HTTPS GET trusting the
# proxy CA. Prints {"connect": status, "body": refusal} or {"connect": 200, "status", "body"}.
CLIENT = r"""
import base64, json, socket, ssl, sys
proxy, port, user, password, host, ca = sys.argv[1:7]
sock = socket.create_connection((proxy, int(port)), timeout=10)
auth = base64.b64encode(f"{user}:{password}".encode()).decode()
sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\nProxy-Authorization: Basic {auth}\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    chunk = sock.recv(1)
    if not chunk:
        break
    head += chunk
status = int(head.split()[1])
if status != 200:
    length = int(next((l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")), b"0"))
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    print(json.dumps({"connect": status, "body": body.decode()}))
    sys.exit(0)
tls = ssl.create_default_context(cadata=ca).wrap_socket(sock, server_hostname=host)
tls.sendall(f"GET /v1/models HTTP/1.1\r\nHost: {host}\r\nx-api-key: PLACEHOLDER\r\nConnection: close\r\n\r\n".encode())
data = b""
while True:
    chunk = tls.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
print(json.dumps({"connect": 200, "status": int(head.split()[1]), "body": body.decode(errors="replace")}))
""".replace("PLACEHOLDER", PLACEHOLDER)


def bridge_gateway() -> str:
    """The docker bridge's address on this machine (docker_gateway() is empty when IPAM names no gateway)."""
    gateway = docker_gateway()
    if not gateway:
        subnet = sh("docker", "network", "inspect", "bridge", "-f", "{{(index .IPAM.Config 0).Subnet}}").stdout.strip()
        gateway = str(next(ipaddress.ip_network(subnet).hosts()))
    assert ipaddress.ip_address(gateway).is_private, gateway
    return gateway


def _names(tag: str) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:6]
    return {"egress_name": f"bbe-{tag}-{suffix}", "egress_network": f"bbe-{tag}-{suffix}-net"}


def run_role(workdir: Path, variables: dict[str, t.Any], *args: str) -> PlaybookRun:
    """playbooks/egress.yml on localhost with ``variables`` as extra vars."""
    inventory = write_inventory(workdir / "inventory.yml", {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}, group="all")
    extra = workdir / f"vars-{uuid.uuid4().hex[:6]}.json"
    extra.write_text(json.dumps(variables))
    return run_playbook(inventory, "-e", f"@{extra}", *args, playbook=PLAYBOOK)


def fact(run: PlaybookRun) -> dict[str, t.Any]:
    return next(r["egress_proxy"] for r in run.results["localhost"] if "egress_proxy" in r)


def inspect(name: str) -> dict[str, t.Any] | None:
    done = sh("docker", "inspect", name, check=False)
    return json.loads(done.stdout)[0] if done.returncode == 0 else None


def remove(names: dict[str, str], *containers: str) -> None:
    sh("docker", "rm", "-f", names["egress_name"], *containers, check=False)
    sh("docker", "network", "rm", names["egress_network"], check=False)


def ca_fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Env(t.NamedTuple):
    names: dict[str, str]
    variables: dict[str, t.Any]
    workdir: Path
    egress_dir: Path
    creds: Path
    api: FakeTlsApi
    bottle: str
    first: PlaybookRun
    ca_after_first: str
    published: int


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Env]:
    if sh("docker", "image", "inspect", IMAGE, check=False).returncode != 0:
        pytest.fail(f"{IMAGE} missing: run scripts/bootstrap.sh")
    workdir = tmp_path_factory.mktemp("egress-role")
    creds = workdir / "creds"
    creds.mkdir(mode=0o700)
    (creds / "anthropic.key").write_text(SECRET + "\n")
    (creds / "anthropic.key").chmod(0o600)
    ca = FakeCA(workdir)
    # On the docker bridge gateway: an address of this machine the proxy container reaches.
    api = FakeTlsApi(ca, host=bridge_gateway()).start()
    names = _names("role")
    bottle = f"{names['egress_name']}-bottle"
    published = free_port()
    variables = {
        **names, "egress_dir": str(workdir / "egress"), "egress_credential_dirs": [str(creds)],
        "egress_publish": f"127.0.0.1:{published}", "egress_upstream_ca": str(ca.cert_path),
        "egress_upstream_override": {host: f"{api.host}:{api.port}" for host in ROUTED},
        "egress_bottle_name": bottle, "egress_bottle_image": IMAGES["claude"],
    }
    try:
        first = run_role(workdir, variables)
        assert first.rc == 0, first.failed_msgs() or first.stdout[-3000:] + first.stderr
        egress_dir = workdir / "egress"
        yield Env(names, variables, workdir, egress_dir, creds, api, bottle, first,
                  ca_fingerprint(egress_dir / "confdir" / "mitmproxy-ca.pem"), published)
    finally:
        remove(names, bottle)
        api.stop()


def started_at(name: str) -> str:
    return (inspect(name) or {})["State"]["StartedAt"]


def password(env: Env, bottle: str) -> str:
    """The agent side's derivation: HMAC-SHA256(bottle-key, bottle name)."""
    key = bytes.fromhex((env.egress_dir / "bottle-key").read_text().strip())
    return hmac.new(key, bottle.encode(), hashlib.sha256).hexdigest()


def register(env: Env, bottle: str, text: str) -> None:
    """Write bottles/<bottle>.json the way the agent side does: a dot-file renamed into place."""
    tmp = env.egress_dir / "bottles" / f".{bottle}.json.tmp"
    tmp.write_text(text)
    tmp.chmod(0o600)
    os.replace(tmp, env.egress_dir / "bottles" / f"{bottle}.json")


def from_bottle(env: Env, user: str, secret: str, host: str) -> dict[str, t.Any]:
    """The bottle's own request through the proxy, by its DNS name on the internal network."""
    ca = (env.egress_dir / "confdir" / "mitmproxy-ca-cert.pem").read_text()
    done = subprocess.run(
        ["docker", "exec", "-i", env.bottle, "python3", "-", env.names["egress_name"], "3128", user, secret, host, ca],
        input=CLIENT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_converge_then_rerun_changes_nothing(env: Env) -> None:
    assert env.first.changed("localhost") >= 1
    before = started_at(env.names["egress_name"])
    again = run_role(env.workdir, env.variables)
    assert again.rc == 0, again.failed_msgs()
    assert again.changed("localhost") == 0, [r["_task"] for r in again.results["localhost"] if r.get("changed")]
    check = run_role(env.workdir, env.variables, "--check", "--diff", "-vvv")
    assert check.rc == 0 and check.changed("localhost") == 0, check.failed_msgs()
    key = (env.egress_dir / "bottle-key").read_text().strip()
    for run in (env.first, again, check):  # the bottle key never shows in any output
        assert key not in run.stdout + run.stderr
    assert started_at(env.names["egress_name"]) == before
    name, egress_dir = env.names["egress_name"], str(env.egress_dir)
    assert fact(again) == {
        "name": name, "dir": egress_dir, "docker_url": f"http://{name}:3128",
        "published_url": f"http://127.0.0.1:{env.published}",
        "ca_cert_path": f"{egress_dir}/confdir/mitmproxy-ca-cert.pem", "network": env.names["egress_network"],
        "credential_dirs": env.variables["egress_credential_dirs"]}
    # Left in the proxy's directory: agent_egress={dir} finds the URLs there.
    assert json.loads((env.egress_dir / "proxy.json").read_text()) == fact(again)


def test_ca_and_bottle_key_are_private_and_made_once(env: Env) -> None:
    confdir = env.egress_dir / "confdir"
    assert oct(env.egress_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((confdir / "mitmproxy-ca.pem").stat().st_mode & 0o777) == "0o600"
    assert b"PRIVATE KEY" in (confdir / "mitmproxy-ca.pem").read_bytes()
    assert b"PRIVATE KEY" not in (confdir / "mitmproxy-ca-cert.pem").read_bytes()
    key = env.egress_dir / "bottle-key"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert len(bytes.fromhex(key.read_text().strip())) == 32
    key_before = key.read_text()
    assert run_role(env.workdir, env.variables).rc == 0
    assert ca_fingerprint(confdir / "mitmproxy-ca.pem") == env.ca_after_first
    assert key.read_text() == key_before


def test_proxy_is_on_the_internal_and_the_outside_network(env: Env) -> None:
    network = json.loads(sh("docker", "network", "inspect", env.names["egress_network"]).stdout)[0]
    assert network["Internal"] is True
    container = inspect(env.names["egress_name"])
    networks = container["NetworkSettings"]["Networks"]
    assert set(networks) == {env.names["egress_network"], "bridge"}
    assert env.names["egress_name"] in networks[env.names["egress_network"]]["Aliases"]
    assert container["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert container["HostConfig"]["ReadonlyRootfs"] is True and container["HostConfig"]["CapDrop"] == ["ALL"]
    binds = container["HostConfig"]["Binds"]
    assert f"{env.egress_dir}:/egress:ro" in binds and f"{env.creds}:{env.creds}:ro" in binds


def test_bottle_entry_point_joins_only_the_internal_network(env: Env) -> None:
    container = inspect(env.bottle)
    assert set(container["NetworkSettings"]["Networks"]) == {env.names["egress_network"]}
    assert "host.docker.internal:host-gateway" in container["HostConfig"]["ExtraHosts"]


def test_registration_is_picked_up_without_restart(env: Env) -> None:
    before = started_at(env.names["egress_name"])
    env.api.clear()
    secret = password(env, "dev")
    # Not registered yet: 407.
    assert from_bottle(env, "dev", secret, "api.anthropic.com")["connect"] == 407
    route = {"host": "api.anthropic.com", "header": "x-api-key", "value_prefix": "", "credential_source": "file",
             "credential_path": str(env.creds / "anthropic.key"), "credential_pointer": "", "tls_passthrough": False}
    register(env, "dev", json.dumps({"proxy_password_sha256": hashlib.sha256(secret.encode()).hexdigest(),
                                     "allow": [], "routes": [route]}))
    register(env, "broken", "{not json")
    answer = from_bottle(env, "dev", secret, "api.anthropic.com")
    assert answer["connect"] == 200 and answer["status"] == 200, answer
    (request,) = env.api.requests
    assert request.headers["x-api-key"] == SECRET  # the real secret, read on the proxy side
    refused = from_bottle(env, "dev", secret, "example.org")
    assert refused["connect"] == 403, refused
    assert "example.org is not allowed" in refused["body"] and "agent_egress_allow" in refused["body"]
    # The broken file refuses only its own bottle, and the log names the file.
    assert from_bottle(env, "broken", "x", "api.anthropic.com")["connect"] == 503
    logs = sh("docker", "logs", env.names["egress_name"]).stdout
    assert "bottles/broken.json: not valid JSON" in logs
    assert SECRET not in logs and secret not in logs
    assert started_at(env.names["egress_name"]) == before
    (env.egress_dir / "bottles" / "broken.json").unlink()


def test_published_port_reaches_the_proxy(env: Env) -> None:
    with socket.create_connection(("127.0.0.1", env.published), timeout=10) as sock:
        sock.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n")
        assert sock.recv(100).split()[1] == b"407"  # the proxy answered; no credentials, no tunnel


def test_rejected_config_keeps_the_live_one(env: Env) -> None:
    live = (env.egress_dir / "config.json").read_text()
    before = started_at(env.names["egress_name"])
    bad = {**env.variables, "egress_upstream_override": {"api.anthropic.com": "not-an-address"}}
    run = run_role(env.workdir, bad)
    assert run.rc != 0
    assert any("the proxy's check rejected the new config" in m and "upstream_override 'api.anthropic.com'" in m
               for m in run.failed_msgs()), run.failed_msgs()
    assert (env.egress_dir / "config.json").read_text() == live
    assert not (env.egress_dir / ".config.json.candidate").exists()
    assert started_at(env.names["egress_name"]) == before


def test_check_mode_on_a_fresh_dir_writes_and_starts_nothing(tmp_path: Path) -> None:
    names = _names("check")
    variables = {**names, "egress_dir": str(tmp_path / "egress"), "egress_credential_dirs": []}
    try:
        run = run_role(tmp_path, variables, "--check")
        assert run.rc == 0, run.failed_msgs()
        assert run.changed("localhost") >= 1, "check mode must report what it would do"
        assert not (tmp_path / "egress").exists()
        assert inspect(names["egress_name"]) is None and inspect(f"{names['egress_name']}-ca") is None
        assert sh("docker", "network", "inspect", names["egress_network"], check=False).returncode != 0
    finally:
        remove(names, f"{names['egress_name']}-ca")


@pytest.mark.parametrize("case", ["malformed_publish", "port_in_use", "missing_image"])
def test_bad_input_fails_clearly_and_leaves_no_container(tmp_path: Path, case: str) -> None:
    names = _names("bad")
    variables: dict[str, t.Any] = {**names, "egress_dir": str(tmp_path / "egress"), "egress_credential_dirs": []}
    listener = None
    if case == "malformed_publish":
        variables["egress_publish"], expected = "localhost:99999", "egress_publish must be empty or ADDR:PORT"
    elif case == "port_in_use":
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        variables["egress_publish"] = f"127.0.0.1:{port}"
        expected = f"egress_publish 127.0.0.1:{port}: that port is already in use"
    else:
        variables["egress_image"] = "localhost/bot-bottle/no-such-egress:latest"
        expected = "egress_image localhost/bot-bottle/no-such-egress:latest is not on this docker host"
    try:
        run = run_role(tmp_path, variables)
        assert run.rc != 0
        assert any(expected in m for m in run.failed_msgs()), run.failed_msgs()
        assert inspect(names["egress_name"]) is None
        if case != "port_in_use":  # refused before anything was written
            assert not (tmp_path / "egress").exists()
    finally:
        if listener:
            listener.close()
        remove(names)
