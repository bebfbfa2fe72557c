"""Small stand-ins for the network services a bottle talks to, for offline tests.

Each fake is a stdlib ``ThreadingHTTPServer`` on one address of this machine (loopback or
the docker bridge), run in a daemon thread, stopped by ``stop()`` or the ``with`` block,
and it records every request it saw so a test can look at what the real CLI sent.
"""

from __future__ import annotations

import json
import threading
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorded(t.NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> t.Any:
        return json.loads(self.body or b"null")


class FakeServer:
    """Serve ``handler_class`` on ``host`` (port chosen by the OS) until stopped."""

    handler_class: type["FakeHandler"]

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        handler = type("Handler", (self.handler_class,), {"fake": self})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> "FakeServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def url(self, host: str | None = None, path: str = "") -> str:
        return f"http://{host or self.host}:{self.port}{path}"


class FakeHandler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: t.Any) -> None:  # quiet: tests read .requests
        pass

    def _recorded(self) -> Recorded:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        self.fake.record(request)
        return request

    def send_json(self, status: int, data: t.Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def send_bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_sse(self, events: t.Iterable[tuple[str | None, t.Any]]) -> None:
        """A complete server-sent-event stream (``event:`` name, if any, + JSON ``data:``), then close."""
        body = b"".join(
            (f"event: {name}\n" if name else "").encode() + f"data: {json.dumps(data)}\n\n".encode()
            for name, data in events
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_request(self, request: Recorded) -> None:
        self.send_empty(404)

    def _dispatch(self) -> None:
        self.handle_request(self._recorded())

    do_GET = do_POST = do_DELETE = do_HEAD = _dispatch
