"""Test bottles cannot reach outside this machine (asserted once per run, for each kind).

The real agent CLIs open connections of their own, so every bottle a test runs them in must be
cut off. The probe is a listener in a network namespace this test makes (veth pair, link-local
/30, default route back to this machine): a container on docker's default network reaches it
through this machine's forwarding (the control), exactly as it would reach the outside. A test
bottle must not. Nothing here leaves the machine: the probe is our own namespace, and name
lookups go to resolvers that answer nothing for an isolated bottle.
"""

from __future__ import annotations

import subprocess
import sys
import time
import typing as t

import pytest
from bottles import IMAGES, TEST_NETWORK, NetNs, docker_gateway, sh
from fakes.mcp_server import FakeMcpServer

PROBE_PORT = 8080
# The probe listener: accept and answer, nothing else (http.server would look up its own name,
# and a lookup from the probe namespace is traffic this machine could forward).
LISTENER = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
while True:
    conn, _ = server.accept()
    conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
    conn.close()
"""
# Tries to open a TCP connection and resolve an outside name; prints "<connect>|<resolve>|<seconds>".
PROBE_SCRIPT = """
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=3).close(); reached = "reached"
except OSError as exc:
    reached = "blocked:" + type(exc).__name__
start = time.monotonic()
try:
    socket.getaddrinfo("api.anthropic.com", 443); resolved = "resolved"
except OSError:
    resolved = "unresolved"
print(f"{reached}|{resolved}|{time.monotonic() - start:.2f}")
"""


class Probe(t.NamedTuple):
    ip: str
    port: int


@pytest.fixture(scope="module")
def probe() -> t.Iterator[Probe]:
    """An HTTP listener in a test-made namespace that this machine routes to."""
    ns = NetNs("bbp", default_route=True).create()
    server = subprocess.Popen(
        ns.exec_argv(sys.executable, "-c", LISTENER, ns.ns_ip, str(PROBE_PORT)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while sh("curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://{ns.ns_ip}:{PROBE_PORT}/",
                 check=False).returncode != 0:
            assert time.monotonic() < deadline, "the probe listener did not start"
            time.sleep(0.2)
        yield Probe(ns.ns_ip, PROBE_PORT)
    finally:
        server.kill()
        server.wait(timeout=10)
        ns.delete()


def probe_from_docker(network: str, probe: Probe) -> list[str]:
    out = sh("docker", "run", "--rm", "--network", network, "--dns-option", "timeout:1", "--dns-option", "attempts:1",
             IMAGES["claude"], "python3", "-c", PROBE_SCRIPT, probe.ip, str(probe.port)).stdout
    return out.strip().split("|")


def test_control_a_default_network_container_reaches_the_probe(probe):
    """Without this, 'blocked' below could mean a broken probe rather than an isolated bottle."""
    reached, _resolved, _seconds = probe_from_docker("bridge", probe)
    assert reached == "reached"


def test_docker_test_bottles_cannot_reach_outside(make_bottle, probe):
    bottle = make_bottle("docker", "claude")
    networks = sh("docker", "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
                  bottle.name).stdout.split()
    assert networks == [TEST_NETWORK]
    out = bottle.exec(f"python3 -c '{PROBE_SCRIPT}' {probe.ip} {probe.port}").stdout.strip()
    reached, resolved, seconds = out.split("|")
    assert reached.startswith("blocked"), out
    assert resolved == "unresolved" and float(seconds) < 3, out


def test_ssh_test_bottles_cannot_reach_outside(ssh_server, probe):
    out = ssh_server.exec(f"python3 -c '{PROBE_SCRIPT}' {probe.ip} {probe.port}").stdout.strip()
    reached, resolved, seconds = out.split("|")
    # No route at all: the connect fails at once, and so does any name lookup.
    assert reached.startswith("blocked"), out
    assert resolved == "unresolved" and float(seconds) < 3, out
    # And not only because this machine's firewall drops forwarded traffic: no default route.
    routes = ssh_server.exec("cat /proc/net/route").stdout.splitlines()[1:]
    assert [r.split()[1] for r in routes if r.split()[1] == "00000000"] == [], routes


@pytest.mark.parametrize("kind", ["docker", "ssh"])
def test_bottles_still_reach_the_fakes_on_this_machine(kind, make_bottle, ssh_server):
    """The isolation keeps what the tests need: the fakes on this machine's bottle-facing address."""
    if kind == "docker":
        bottle = make_bottle("docker", "claude")
        listen, name = docker_gateway(), "host.docker.internal"
    else:
        bottle, listen = ssh_server, ssh_server.host_address
        name = listen
    with FakeMcpServer(listen) as mcp:
        bottle.exec(f"python3 -c 'import urllib.request as u; u.urlopen(\"{mcp.url(name, '/health')}\", timeout=5)'",
                    check=False)
        assert [r.path for r in mcp.requests] == ["/health"]
