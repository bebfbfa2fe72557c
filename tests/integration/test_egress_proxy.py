"""The egress addon in a real ``mitmdump`` on loopback, a fake TLS API under the real API host
names, and real clients (curl, raw sockets) going through it.

Network rule: everything stays on 127.0.0.1. Every host the test config routes or allows is in
the proxy's ``upstream_override`` (pointing at the fake API) before the first request; the
proxy refuses any other upstream in that mode; the clients only ever connect to the proxy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import pytest

from fakes.tls_api import FakeCA, FakeTlsApi, free_port, read_ws_frame, websocket_accept, ws_frame

ROOT = Path(__file__).resolve().parents[2]
ADDON = ROOT / "roles" / "egress" / "files" / "bot_bottle_egress.py"
EGRESS_VENV = Path(os.environ.get("BOT_BOTTLE_EGRESS_VENV", ROOT / ".cache" / "venv-egress"))
MITMDUMP = EGRESS_VENV / "bin" / "mitmdump"

PLACEHOLDER = "bot-bottle-placeholder-not-a-secret"
ANTHROPIC_SECRET = "sk-ant-api03-REAL-anthropic-secret-1111"
ROTATED_SECRET = "sk-ant-api03-REAL-anthropic-rotated-2222"
OPENAI_SECRET = "sk-proj-REAL-openai-secret-3333"
PASSWORDS = {"dev": "pw-dev-4444", "other": "pw-other-5555", "broken": "pw-broken-6666"}
SECRETS = (ANTHROPIC_SECRET, ROTATED_SECRET, OPENAI_SECRET, PLACEHOLDER, *PASSWORDS.values())
# Every name the test routes or allows; the proxy sends all of them to the fake API.
OVERRIDDEN = ("api.anthropic.com", "api.openai.com", "registry.npmjs.org", "chatgpt.com")


def _clean_env() -> dict[str, str]:
    """No proxy variables: a client must go only where its command line says (the proxy)."""
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Proxy:
    """One ``mitmdump`` with the addon, on 127.0.0.1:<free port>, stopped by PID."""

    def __init__(self, workdir: Path, config: Path, trusted_ca: Path) -> None:
        if not MITMDUMP.exists():
            pytest.fail(f"{MITMDUMP} missing: create it with `python3 -m venv {EGRESS_VENV} && "
                        f"{EGRESS_VENV}/bin/pip install mitmproxy==11.0.2` (scripts/bootstrap.sh)")
        self.port = free_port()
        self.confdir = workdir / "confdir"
        self.log_path = workdir / f"mitmdump-{self.port}.log"
        self.ca = self.confdir / "mitmproxy-ca-cert.pem"
        self.args = [
            str(MITMDUMP), "--mode", "regular", "--listen-host", "127.0.0.1", "--listen-port", str(self.port),
            "--set", f"confdir={self.confdir}", "--set", "connection_strategy=lazy",
            "--set", "upstream_cert=false", "--set", "flow_detail=0", "--set", f"ssl_verify_upstream_trusted_ca={trusted_ca}",
            "-s", str(ADDON), "--set", f"bot_bottle_config={config}",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> "Proxy":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, env=_clean_env())
        deadline = time.monotonic() + timeout
        while "proxy listening at" not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"mitmdump did not start:\n{self.output()}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.output()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no log line matching {pattern!r} in:\n{self.output()}")
            time.sleep(0.05)
        return self.output()


class Env(t.NamedTuple):
    proxy: Proxy
    api: FakeTlsApi
    ca: FakeCA
    config: Path
    anthropic_key: Path
    openai_auth: Path
    workdir: Path


def _config(api_port: int, anthropic_key: Path, openai_auth: Path, missing: Path) -> dict[str, t.Any]:
    anthropic = {"host": "api.anthropic.com", "header": "x-api-key", "value_prefix": "", "credential_source": "file",
                 "credential_path": str(anthropic_key)}
    openai = {"host": "api.openai.com", "header": "Authorization", "value_prefix": "Bearer ",
              "credential_source": "json_file", "credential_path": str(openai_auth),
              "credential_pointer": "/tokens/access_token", "tls_passthrough": True}
    return {
        "bottles": {
            "dev": {"proxy_password_sha256": _sha(PASSWORDS["dev"]), "allow": ["*.npmjs.org", "localhost"],
                    "routes": [anthropic, openai]},
            "other": {"proxy_password_sha256": _sha(PASSWORDS["other"]), "allow": [], "routes": []},
            "broken": {"proxy_password_sha256": _sha(PASSWORDS["broken"]),
                       "routes": [{**anthropic, "credential_path": str(missing)}]},
        },
        # localhost is allowed but deliberately NOT overridden: the proxy must refuse it upstream.
        "upstream_override": {host: f"127.0.0.1:{api_port}" for host in OVERRIDDEN},
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Env]:
    workdir = tmp_path_factory.mktemp("egress")
    ca = FakeCA(workdir)
    api = FakeTlsApi(ca).start()
    anthropic_key, openai_auth = workdir / "anthropic.key", workdir / "codex-auth.json"
    anthropic_key.write_text(ANTHROPIC_SECRET + "\n")
    openai_auth.write_text(json.dumps({"tokens": {"access_token": OPENAI_SECRET}}))
    config = workdir / "egress.json"
    config.write_text(json.dumps(_config(api.port, anthropic_key, openai_auth, workdir / "no-such.key")))
    proxy = Proxy(workdir, config, ca.cert_path)
    try:
        proxy.start()
        yield Env(proxy, api, ca, config, anthropic_key, openai_auth, workdir)
    finally:
        proxy.stop()
        api.stop()


@pytest.fixture
def api(env: Env) -> FakeTlsApi:
    env.api.clear()
    return env.api


# --- clients -----------------------------------------------------------------------------------


def curl(env: Env, url: str, *args: str, user: str | None = "dev") -> tuple[int, str, str]:
    """curl through the proxy: (exit code, body + last line http_code/http_version, stderr)."""
    cmd = ["curl", "-sS", "--max-time", "10", "--proxy", f"http://127.0.0.1:{env.proxy.port}",
           "--cacert", str(env.proxy.ca), "-w", "\n%{http_code} %{http_version}"]
    if "--http2" not in args:
        cmd.append("--http1.1")  # curl's default is h2 when offered; h2 is tested on purpose
    if user:
        cmd += ["--proxy-user", f"{user}:{PASSWORDS.get(user, 'wrong')}"]
    done = subprocess.run([*cmd, *args, url], capture_output=True, text=True, env=_clean_env(), timeout=20, check=False)
    return done.returncode, done.stdout, done.stderr


def _auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def connect(env: Env, host: str, port: int = 443, auth: str | None = None) -> tuple[socket.socket, int, bytes]:
    """A raw CONNECT to the proxy: (socket, status, body of a refusal)."""
    sock = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10)
    auth = _auth("dev", PASSWORDS["dev"]) if auth is None else auth
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if auth:
        lines.append(f"Proxy-Authorization: {auth}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline().strip()):
        name, value = line.decode().split(":", 1)
        if name.lower() == "content-length":
            length = int(value)
    body = reader.read(length) if status != 200 else b""
    return sock, status, body


def tls_tunnel(env: Env, host: str, sni: str | None = None, cafile: Path | None = None) -> ssl.SSLSocket:
    sock, status, body = connect(env, host)
    assert status == 200, body
    context = ssl.create_default_context(cafile=str(cafile or env.proxy.ca))
    context.set_alpn_protocols(["http/1.1"])
    return context.wrap_socket(sock, server_hostname=sni or host)


def http1(tls: ssl.SSLSocket, path: str, headers: dict[str, str], method: str = "GET") -> t.BinaryIO:
    head = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    tls.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    return tls.makefile("rb")


def read_head(reader: t.BinaryIO) -> tuple[int, dict[str, str]]:
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline().strip()):
        name, value = line.decode().split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return status, headers


# --- tests -------------------------------------------------------------------------------------


def test_route_replaces_placeholder_with_real_secret(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.anthropic.com/v1/messages", "-d", "{}",
                          "-H", f"x-api-key: {PLACEHOLDER}", "-H", f"Authorization: Bearer {PLACEHOLDER}",
                          "-H", "anthropic-version: 2023-06-01")
    assert code == 0 and out.endswith("200 1.1"), (out, err)
    (request,) = api.requests
    assert request.headers["x-api-key"] == ANTHROPIC_SECRET
    assert "authorization" not in request.headers  # the other placeholder is dropped, not forwarded
    assert request.headers["host"] == "api.anthropic.com"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert api.snis[-1] == "api.anthropic.com"  # upstream TLS kept the real name (cert verified)


def test_json_file_route_uses_pointer_and_prefix(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.openai.com/v1/responses", "-d", "{}",
                          "-H", f"Authorization: Bearer {PLACEHOLDER}", "-H", f"x-api-key: {PLACEHOLDER}")
    assert code == 0 and out.endswith("200 1.1"), (out, err)
    (request,) = api.requests
    assert request.headers["authorization"] == f"Bearer {OPENAI_SECRET}"
    assert "x-api-key" not in request.headers


def test_rotated_secret_is_used_without_restart(env: Env, api: FakeTlsApi) -> None:
    curl(env, "https://api.anthropic.com/v1/messages", "-H", f"x-api-key: {PLACEHOLDER}")
    assert api.requests[-1].headers["x-api-key"] == ANTHROPIC_SECRET
    try:
        env.anthropic_key.write_text(ROTATED_SECRET + "\n")
        code, out, err = curl(env, "https://api.anthropic.com/v1/messages", "-H", f"x-api-key: {PLACEHOLDER}")
        assert out.endswith("200 1.1")
        assert api.requests[-1].headers["x-api-key"] == ROTATED_SECRET
    finally:
        env.anthropic_key.write_text(ANTHROPIC_SECRET + "\n")


def test_http2_client(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.anthropic.com/v1/messages", "--http2", "-d", "{}",
                          "-H", f"x-api-key: {PLACEHOLDER}")
    assert code == 0 and out.endswith("200 2"), (out, err)  # h2 to the proxy, h1.1 to the fake
    assert api.requests[-1].headers["x-api-key"] == ANTHROPIC_SECRET


@pytest.mark.parametrize("http", ["--http1.1", "--http2"])
def test_host_header_differing_from_connect_host_is_refused(env: Env, api: FakeTlsApi, http: str) -> None:
    """DESIGN §4's trap: CONNECT api.anthropic.com + Host: api.openai.com must not get any key."""
    code, out, err = curl(env, "https://api.anthropic.com/v1/responses", http, "-H", "Host: api.openai.com")
    assert out.endswith("403 " + ("2" if http == "--http2" else "1.1")), out
    assert "differs from the CONNECT host" in out
    assert api.requests == []


def test_tls_server_name_differing_from_connect_host_is_refused(env: Env, api: FakeTlsApi) -> None:
    with tls_tunnel(env, "api.anthropic.com", sni="api.openai.com") as tls:
        status, headers = read_head(http1(tls, "/v1/messages", {"Host": "api.anthropic.com", "Connection": "close"}))
    assert status == 403
    assert api.requests == []


def test_not_allowed_host_refused_at_connect(env: Env) -> None:
    for host in ("example.org", "npmjs.org"):  # npmjs.org: '*.npmjs.org' covers subdomains only
        sock, status, body = connect(env, host)
        sock.close()
        assert status == 403
        text = body.decode()
        assert f"{host} is not allowed" in text and "agent_egress_allow" in text
        assert "not example.com itself" in text
    output = env.proxy.wait_for_log(r"host=npmjs\.org method=CONNECT .*status=403 route=refused")
    assert not re.search(r"server connection.*(example\.org|sni=npmjs\.org)", output)


def test_routes_and_allowlist_belong_to_the_authenticated_bottle(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.anthropic.com/v1/messages", user="other")
    assert code != 0 and "403" in err, (out, err)  # 'other' has no route and no allowlist
    assert api.requests == []


def test_proxy_auth_required(env: Env) -> None:
    for auth in ("", _auth("dev", "wrong"), _auth("nobody", PASSWORDS["dev"]), "Bearer x"):
        sock, status, body = connect(env, "api.anthropic.com", auth=auth)
        sock.close()
        assert status == 407, (auth, body)
    sock = socket.create_connection(("127.0.0.1", env.proxy.port), timeout=10)
    sock.sendall(b"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n")
    assert b"Proxy-Authenticate: Basic" in sock.recv(4096).replace(b"proxy-authenticate", b"Proxy-Authenticate")
    sock.close()


def test_plain_http_proxy_request_refused(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "http://api.anthropic.com/v1/messages", "-H", f"x-api-key: {PLACEHOLDER}")
    assert out.endswith("403 1.1"), (out, err)
    assert "plain-HTTP proxy requests are refused" in out
    assert api.requests == []


def test_missing_credential_file_is_a_clear_502(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.anthropic.com/v1/messages", user="broken")
    assert out.endswith("502 1.1"), out
    assert "route 'api.anthropic.com'" in out and str(env.workdir / "no-such.key") in out
    assert api.requests == []


def test_sse_is_streamed_not_buffered(env: Env, api: FakeTlsApi) -> None:
    api.sse_sent_at.clear()
    with tls_tunnel(env, "api.anthropic.com") as tls:
        reader = http1(tls, "/sse", {"Host": "api.anthropic.com", "Connection": "close"})
        status, headers = read_head(reader)
        assert status == 200 and headers["content-type"] == "text/event-stream"
        while b"data:" not in reader.readline():
            pass
        first_event = time.monotonic()
        rest = reader.read()
    assert rest.count(b"data:") == api.sse_events - 1
    last_sent = api.sse_sent_at[-1]
    # 4 events 0.5 s apart: a buffering proxy delivers the first only after the last was sent.
    assert first_event < last_sent - 1.0, (first_event, api.sse_sent_at)


def test_websocket_upgrade_passes_with_injected_header(env: Env, api: FakeTlsApi) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    with tls_tunnel(env, "api.openai.com") as tls:
        reader = http1(tls, "/ws", {"Host": "api.openai.com", "Upgrade": "websocket", "Connection": "Upgrade",
                                    "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13",
                                    "Authorization": f"Bearer {PLACEHOLDER}"})
        status, headers = read_head(reader)
        assert status == 101 and headers["sec-websocket-accept"] == websocket_accept(key)
        tls.sendall(ws_frame(b"hello", mask=True))
        assert read_ws_frame(reader.read) == b"echo:hello"
    assert api.requests[-1].headers["authorization"] == f"Bearer {OPENAI_SECRET}"


def test_allowed_host_without_route_is_tunnelled_untouched(env: Env, api: FakeTlsApi) -> None:
    # Verified against the fake's own test CA: the proxy did not terminate TLS for this host.
    with tls_tunnel(env, "registry.npmjs.org", cafile=env.ca.cert_path) as tls:
        headers = {"Host": "registry.npmjs.org", "Connection": "close", "Authorization": f"Bearer {PLACEHOLDER}"}
        status, _headers = read_head(http1(tls, "/left-pad", headers))
    assert status == 200
    assert api.requests[-1].headers["authorization"] == f"Bearer {PLACEHOLDER}"  # nothing injected
    env.proxy.wait_for_log(r"bottle=dev host=registry\.npmjs\.org method=CONNECT .*status=200 route=allow")


def test_override_mode_refuses_a_host_that_is_not_overridden(env: Env, api: FakeTlsApi) -> None:
    """'localhost' is allowed but not in upstream_override: the proxy must not connect to it."""
    sock, status, body = connect(env, "localhost", port=api.port)
    assert status == 200  # lazy: the CONNECT itself opens nothing
    context = ssl.create_default_context(cafile=str(env.ca.cert_path))
    with pytest.raises((ssl.SSLError, OSError)):
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert tls.recv(100)
    sock.close()
    assert api.requests == []
    env.proxy.wait_for_log(r"refused server connection to localhost")


def test_config_is_reloaded_when_it_changes(env: Env) -> None:
    original = env.config.read_text()
    try:
        config = json.loads(original)
        config["bottles"]["other"]["allow"] = ["chatgpt.com"]
        env.config.write_text(json.dumps(config))
        sock, status, body = connect(env, "chatgpt.com", auth=_auth("other", PASSWORDS["other"]))
        sock.close()
        assert status == 200
        config["bottles"]["other"]["allow"] = ["*bad"]
        env.config.write_text(json.dumps(config))
        sock, status, body = connect(env, "chatgpt.com", auth=_auth("other", PASSWORDS["other"]))
        sock.close()
        assert status == 503 and b"config is invalid" in body  # fail closed, not the old config
    finally:
        env.config.write_text(original)
    sock, status, body = connect(env, "api.anthropic.com")
    sock.close()
    assert status == 200


def test_log_lines_name_the_request_and_hold_no_secret(env: Env, api: FakeTlsApi) -> None:
    code, out, err = curl(env, "https://api.anthropic.com/v1/models?key=qs-7", "-H", f"x-api-key: {PLACEHOLDER}")
    assert code == 0 and out.endswith("200 1.1"), (out, err)
    output = env.proxy.wait_for_log(
        r"egress bottle=dev host=api\.anthropic\.com method=GET path=/v1/models status=200 route=api\.anthropic\.com")
    for secret in (*SECRETS, "qs-7"):
        assert secret not in output
    assert re.search(r"egress bottle=- host=api\.anthropic\.com method=CONNECT .*status=407 route=refused", output)


def test_proxy_connected_only_to_loopback(env: Env) -> None:
    peers = re.findall(r"server connection sni=\S+ peer=(\S+)", env.proxy.output())
    assert peers, env.proxy.output()
    assert all(peer.startswith("127.0.0.1:") for peer in peers), peers


@pytest.mark.parametrize("bottle, expected", [
    ({"allow": ["*foo"]}, r"bottle 'bad': field 'allow' .*'\*foo'"),
    ({"routes": [{"host": "api.anthropic.com", "value_prefix": "", "credential_path": "/x"}]},
     r"bottle 'bad': route 'api.anthropic.com': field 'header'"),
    ({"allowed": []}, r"bottle 'bad': unknown field\(s\) allowed"),
])
def test_invalid_config_stops_the_proxy_at_startup(tmp_path: Path, bottle: dict[str, t.Any], expected: str) -> None:
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"bottles": {"bad": {"proxy_password_sha256": _sha("x"), **bottle}}}))
    proxy = Proxy(tmp_path, config, tmp_path / "unused-ca.pem")
    with open(proxy.log_path, "wb") as log:
        done = subprocess.run(proxy.args, stdout=log, stderr=subprocess.STDOUT, env=_clean_env(), timeout=20, check=False)
    assert done.returncode != 0
    assert re.search(expected, proxy.output()), proxy.output()


@pytest.mark.parametrize("setting", ["connection_strategy=eager", "upstream_cert=true", "flow_detail=1"])
def test_unsafe_mitmdump_settings_stop_the_proxy(tmp_path: Path, setting: str) -> None:
    config = tmp_path / "ok.json"
    config.write_text(json.dumps({"bottles": {}}))
    proxy = Proxy(tmp_path, config, tmp_path / "unused-ca.pem")
    name = setting.split("=")[0]
    args = [setting if arg.startswith(name + "=") else arg for arg in proxy.args]
    with open(proxy.log_path, "wb") as log:
        done = subprocess.run(args, stdout=log, stderr=subprocess.STDOUT, env=_clean_env(), timeout=20, check=False)
    assert done.returncode != 0
    assert re.search(rf"bot_bottle_egress needs --set .*{name}=", proxy.output()), proxy.output()


def test_addon_file_runs_as_check_cli() -> None:
    done = subprocess.run([sys.executable, str(ADDON)], capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "usage" in done.stderr


def _register(directory: Path, bottle: str, text: str) -> None:
    """Write <bottle>.json as the agent side does: a dot-file renamed into place (atomic)."""
    tmp = directory / f".{bottle}.json.tmp"
    tmp.write_text(text)
    os.replace(tmp, directory / f"{bottle}.json")


def test_registration_directory_is_reread_and_a_broken_file_breaks_only_its_bottle(
        env: Env, api: FakeTlsApi, tmp_path: Path) -> None:
    """bot_bottle_bottles_dir: <bottle>.json files appear, change and go without a restart."""
    full = json.loads(env.config.read_text())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"bottles": {"dev": full["bottles"]["dev"]},
                                  "upstream_override": full["upstream_override"]}))
    bottles = tmp_path / "bottles"
    bottles.mkdir()
    other = {"proxy_password_sha256": _sha(PASSWORDS["other"]), "allow": [],
             "routes": [r for r in full["bottles"]["dev"]["routes"] if r["host"] == "api.anthropic.com"]}
    _register(bottles, "broken", "{not json")  # broken from the start: the proxy still starts
    _register(bottles, "dev", json.dumps(full["bottles"]["dev"]))  # also in config.json: ambiguous
    proxy = Proxy(tmp_path, config, env.ca.cert_path)
    proxy.args += ["--set", f"bot_bottle_bottles_dir={bottles}"]
    here = env._replace(proxy=proxy.start())
    try:
        other_auth = _auth("other", PASSWORDS["other"])
        sock, status, body = connect(here, "api.anthropic.com", auth=other_auth)
        sock.close()
        assert status == 407  # not registered yet

        _register(bottles, "other", json.dumps(other))
        code, out, err = curl(here, "https://api.anthropic.com/v1/messages", "-H", f"x-api-key: {PLACEHOLDER}",
                              user="other")
        assert code == 0 and out.endswith("200 1.1"), (out, err)
        assert api.requests[-1].headers["x-api-key"] == ANTHROPIC_SECRET
        sock, status, body = connect(here, "chatgpt.com", auth=other_auth)
        sock.close()
        assert status == 403 and b"agent_egress_allow" in body

        _register(bottles, "other", json.dumps({**other, "allow": ["chatgpt.com"]}))  # same size class, new inode
        sock, status, body = connect(here, "chatgpt.com", auth=other_auth)
        sock.close()
        assert status == 200

        for name in ("broken", "dev"):
            sock, status, body = connect(here, "api.anthropic.com", auth=_auth(name, PASSWORDS[name]))
            sock.close()
            assert status == 503 and f"registration of bottle {name!r} is invalid".encode() in body, body
        output = proxy.wait_for_log(r"refusing bottle dev until fixed: defined both in")
        assert re.search(rf"refusing bottle broken until fixed: registration file {bottles}/broken\.json: not valid JSON",
                         output)

        (bottles / "other.json").unlink()
        sock, status, body = connect(here, "chatgpt.com", auth=other_auth)
        sock.close()
        assert status == 407  # gone with its file
        for secret in SECRETS:
            assert secret not in proxy.output()
    finally:
        proxy.stop()

    done = subprocess.run([sys.executable, str(ADDON), "check", str(config), str(bottles)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert f"bottle 'broken': registration file {bottles}/broken.json: not valid JSON" in done.stderr
    assert "bottle 'dev': defined both in" in done.stderr
