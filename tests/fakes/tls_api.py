"""A fake HTTPS API answering under the real API host names, for the egress proxy tests.

``FakeCA`` makes a throwaway test CA (``cryptography``) and issues server certificates for any
names; ``FakeTlsApi`` is a ``FakeServer`` whose socket speaks TLS with such a certificate (one
for ``API_HOSTS`` by default). It serves on loopback only; the proxy under test is told to send
those host names here (its test-only ``upstream_override``), so nothing leaves the machine.

Paths it serves (everything is recorded in ``.requests``, the TLS server names in ``.snis``):
- ``/sse``: a chunked ``text/event-stream`` of ``sse_events`` events, ``sse_delay`` seconds
  apart; ``sse_sent_at`` holds the ``time.monotonic()`` at which each event was written.
- ``/ws`` with ``Upgrade: websocket``: the handshake, then one frame echoed back as ``echo:...``.
- anything else: JSON ``{"path", "host"}`` (status 200).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import socket
import ssl
import time
import typing as t
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from fakes import FakeHandler, FakeServer, Recorded

API_HOSTS = ("api.anthropic.com", "api.openai.com", "chatgpt.com", "registry.npmjs.org", "localhost")
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class FakeCA:
    """A CA made for one test run; ``cert_path`` is what a client or the proxy should trust."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name("bot-bottle test CA"))
            .issuer_name(_name("bot-bottle test CA"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = directory / "test-ca.pem"
        self.cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, names: t.Sequence[str], stem: str = "server") -> tuple[Path, Path]:
        """A server certificate for ``names`` (and 127.0.0.1): (cert path, key path)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.directory / f"{stem}.pem", self.directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        key_path.chmod(0o600)
        return cert_path, key_path


# --- WebSocket frames (RFC 6455), just enough for one text message each way --------------------


def ws_frame(payload: bytes, mask: bool) -> bytes:
    """One final text frame; clients must mask (``mask=True``), servers must not."""
    header = bytes([0x81])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        header += bytes([bit | length])
    else:
        header += bytes([bit | 126]) + length.to_bytes(2, "big")
    if not mask:
        return header + payload
    key = b"\x01\x02\x03\x04"
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_ws_frame(read: t.Callable[[int], bytes]) -> bytes:
    """The payload of the next frame; ``read(n)`` must return exactly n bytes."""
    first, second = read(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(read(2), "big")
    elif length == 127:
        length = int.from_bytes(read(8), "big")
    key = read(4) if second & 0x80 else b""
    payload = read(length)
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if key else payload


def websocket_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


class TlsApiHandler(FakeHandler):
    fake: "FakeTlsApi"

    def handle_request(self, request: Recorded) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/sse":
            self.send_slow_sse()
        elif path == "/ws" and request.headers.get("upgrade", "").lower() == "websocket":
            self.websocket_echo(request)
        else:
            self.send_json(200, {"path": request.path, "host": request.headers.get("host")})

    def send_slow_sse(self) -> None:
        """Chunked SSE, one event per chunk, ``sse_delay`` seconds apart: shows any buffering."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for index in range(self.fake.sse_events):
            if index:
                time.sleep(self.fake.sse_delay)
            event = f"event: tick\ndata: {json.dumps({'index': index})}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            self.fake.sse_sent_at.append(time.monotonic())
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def websocket_echo(self, request: Recorded) -> None:
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", websocket_accept(request.headers["sec-websocket-key"]))
        self.end_headers()
        self.wfile.flush()
        message = read_ws_frame(self.rfile.read)
        self.wfile.write(ws_frame(b"echo:" + message, mask=False))
        self.wfile.flush()
        self.close_connection = True


class FakeTlsApi(FakeServer):
    """``FakeServer`` over TLS, with a certificate from ``ca`` for ``names`` (HTTP/1.1 only)."""

    handler_class = TlsApiHandler

    def __init__(self, ca: FakeCA, names: t.Sequence[str] = API_HOSTS, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.snis: list[str | None] = []
        self.sse_events, self.sse_delay = 4, 0.5
        self.sse_sent_at: list[float] = []
        cert, key = ca.issue(names, stem=f"fake-api-{self.port}")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.set_alpn_protocols(["http/1.1"])
        context.sni_callback = self._saw_sni
        # Handshake in the handler thread (on first read), not in the accepting thread.
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]

    def _saw_sni(self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext) -> None:
        self.snis.append(name)

    def url(self, host: str | None = None, path: str = "") -> str:
        return f"https://{host or self.host}:{self.port}{path}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
