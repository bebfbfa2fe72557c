"""Benchmark: what the egress proxy adds to a request, on loopback, figures from ONE run.

One fake TLS API (tests/fakes/tls_api.py, serving the real API names with a throwaway CA) and
one real ``mitmdump`` with the addon (roles/egress/files/bot_bottle_egress.py, started the way
tests/integration/test_egress_proxy.py starts it), both on 127.0.0.1. The same client code
(raw socket + ssl, HTTP/1.1) talks to the fake API either directly or through the proxy
(CONNECT + Proxy-Authorization, then TLS to the proxy's CA), and measures:

  (a) request latency, direct vs proxied, a fresh connection per request (a CLI's first
      request: TCP + CONNECT + TLS + request) and on one kept-alive connection; p50/p99 and the
      added latency, plus where a proxied fresh request spends its time (phases) and the proxy
      process's CPU per request; direct and proxied requests alternate, so both see the same
      load;
  (b) time to the first BODY byte of an SSE response (not the headers), direct vs proxied, and
      how late each later event arrives after the fake wrote it (buffering would show there);
  (c) 32 concurrent SSE streams through the one proxy from 32 registered bottles, each with its
      own proxy password and its own route (same host, a distinct secret file): every stream
      must complete, and every request must reach the fake API carrying its own bottle's secret.

Network rule: the clients connect only to 127.0.0.1 (the fake API or the proxy); the proxy's
``upstream_override`` maps the one routed host to the fake API, and in that mode the addon
refuses every other upstream; the run fails if the proxy log shows a server connection to
anything but 127.0.0.1. Everything started here (mitmdump, by PID; the fake's threads) is
stopped on the way out, on error and on SIGTERM too.

  .venv/bin/python bench/egress.py [--quick] [--out FILE.json] [--markdown FILE.md]

Prints the markdown table, then the JSON summary. Exit 1 if a request was lost or mixed or
the proxy touched a non-loopback address; missed latency targets are reported, not fatal.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from fakes.tls_api import FakeCA, FakeTlsApi  # noqa: E402
from test_egress_proxy import ADDON, EGRESS_VENV, PLACEHOLDER, Proxy  # noqa: E402

HOST = "api.anthropic.com"  # the routed host; the proxy sends it to the fake API
HEADER = "x-api-key"
BOTTLES = 32
TARGETS = {"p50_overhead_ms": 5.0, "first_byte_delta_ms": 10.0}
MODES = {
    # fresh / keep-alive requests per side, SSE first-byte samples per side, rounds of 32 streams
    "quick": {"requests": 40, "keepalive": 40, "sse": 10, "rounds": 1, "warmup": 5, "idle": 0.5,
              "sse_events": 4, "sse_delay": 0.05},
    "default": {"requests": 400, "keepalive": 400, "sse": 60, "rounds": 3, "warmup": 20, "idle": 2.0,
                "sse_events": 6, "sse_delay": 0.05},
}
TIMEOUT = float(__import__("os").environ.get("BENCH_TIMEOUT", "15"))


# --- numbers -----------------------------------------------------------------------------------


def pct(values: t.Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def summary(samples: t.Sequence[float]) -> dict[str, float | int]:
    return {"n": len(samples), "p50_ms": ms(pct(samples, 50)), "p99_ms": ms(pct(samples, 99)),
            "mean_ms": ms(statistics.fmean(samples)), "min_ms": ms(min(samples)), "max_ms": ms(max(samples))}


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the client: one code path, direct or through the proxy -----------------------------------


class Target(t.NamedTuple):
    name: str  # "direct" | "proxied"
    address: tuple[str, int]  # always 127.0.0.1
    context: ssl.SSLContext
    proxy_auth: str | None  # Basic credentials: through the proxy
    api_key: str  # the header the client sends: the real secret direct, the placeholder proxied
    host: str = HOST  # CONNECT target, SNI and Host header
    port: int = 443


class Response(t.NamedTuple):
    status: int
    body: bytes
    events: list[tuple[float, bytes]]  # SSE: (arrival time, chunk) per chunk
    times: dict[str, float]  # perf_counter marks: start, tcp, connect, tls, sent, head, first_body, done


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def context(cafile: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class Connection:
    """An HTTPS connection to ``HOST`` (SNI and Host), opened directly or via CONNECT."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.times = {"start": time.perf_counter()}
        sock = socket.create_connection(target.address, timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.times["tcp"] = time.perf_counter()
        if target.proxy_auth:
            authority = f"{target.host}:{target.port}"
            sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
                         f"Proxy-Authorization: {target.proxy_auth}\r\n\r\n".encode())
            raw = sock.makefile("rb")  # nothing follows the reply until our ClientHello
            status = read_head(raw)[0]
            if status != 200:
                sock.close()
                raise ConnectionError(f"CONNECT {authority}: proxy answered {status}")
        self.times["connect"] = time.perf_counter()
        self.tls = target.context.wrap_socket(sock, server_hostname=target.host)
        self.times["tls"] = time.perf_counter()
        self.reader = self.tls.makefile("rb")

    def request(self, path: str) -> Response:
        times = dict(self.times) if self.times else {"start": time.perf_counter()}
        self.times = {}
        host = self.target.host if self.target.port == 443 else f"{self.target.host}:{self.target.port}"
        self.tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{HEADER}: {self.target.api_key}\r\n"
                         f"User-Agent: bot-bottle-bench\r\nAccept: */*\r\n\r\n".encode())
        times["sent"] = time.perf_counter()
        status, headers = read_head(self.reader, times)
        events: list[tuple[float, bytes]] = []
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self.reader.readline().split(b";")[0], 16)
                if size == 0:
                    self.reader.readline()
                    break
                chunk = self.reader.read(size)
                now = time.perf_counter()
                times.setdefault("first_body", now)
                events.append((now, chunk))
                self.reader.readline()
            body = b"".join(chunk for _arrived, chunk in events)
        else:
            body = self.reader.read(int(headers.get("content-length", "0")))
            times.setdefault("first_body", time.perf_counter())
        times["done"] = time.perf_counter()
        return Response(status, body, events, times)

    def close(self) -> None:
        try:
            self.tls.close()
        except OSError:
            pass


def read_head(reader: t.BinaryIO, times: dict[str, float] | None = None) -> tuple[int, dict[str, str]]:
    line = reader.readline()
    if times is not None:
        times["head"] = time.perf_counter()
    if not line:
        raise ConnectionError("connection closed before a response")
    status = int(line.split()[1])
    headers: dict[str, str] = {}
    while (line := reader.readline().strip()):
        name, value = line.decode().split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return status, headers


def fresh_request(target: Target, path: str) -> Response:
    conn = Connection(target)
    try:
        return conn.request(path)
    finally:
        conn.close()


# --- the run -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, workdir: Path, mode: dict[str, t.Any]) -> None:
        self.workdir, self.mode = workdir, mode
        self.ca = FakeCA(workdir)
        self.api = FakeTlsApi(self.ca)
        # ThreadingHTTPServer listens with a backlog of 5: a burst of 32 connections would get
        # SYNs dropped (1 s retransmits) and measure the fake, not the proxy. Linux lets a
        # listening socket raise its backlog.
        self.api.httpd.socket.listen(128)
        # Its handler writes the response head and body separately; with Nagle on, the body waits
        # for the client's delayed ACK (40 ms on Linux) and every figure would measure that. Real
        # API servers disable Nagle, and so does mitmproxy (asyncio). Accepted sockets inherit it.
        self.api.httpd.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.passwords = {f"b{i:02d}": f"pw-{secrets.token_hex(8)}" for i in range(BOTTLES)}
        self.secrets = {name: f"sk-ant-api03-bench-{name}-{secrets.token_hex(12)}" for name in self.passwords}
        bottles = {}
        for name, secret in self.secrets.items():
            key = workdir / f"{name}.key"
            key.write_text(secret + "\n")
            key.chmod(0o600)
            bottles[name] = {
                "proxy_password_sha256": hashlib.sha256(self.passwords[name].encode()).hexdigest(),
                "allow": [],
                "routes": [{"host": HOST, "header": HEADER, "value_prefix": "", "credential_source": "file",
                            "credential_path": str(key)}],
            }
        # One more bottle whose route host is the fake's own address: its CONNECT target already
        # is the upstream address, as in production, where upstream_override is not used.
        self.loop_password = f"pw-{secrets.token_hex(8)}"
        bottles["loop"] = {**bottles["b00"], "proxy_password_sha256": hashlib.sha256(self.loop_password.encode()).hexdigest(),
                           "routes": [{**bottles["b00"]["routes"][0], "host": "127.0.0.1"}]}
        upstream = f"127.0.0.1:{self.api.port}"
        self.config = workdir / "egress.json"
        self.config.write_text(json.dumps(
            {"bottles": bottles, "upstream_override": {HOST: upstream, "127.0.0.1": upstream}}))
        self.proxy = Proxy(workdir, self.config, self.ca.cert_path)

    def start(self) -> None:
        self.api.start()
        self.proxy.start()
        self.pid = self.proxy.process.pid  # type: ignore[union-attr]
        self.direct_ctx, self.proxied_ctx = context(self.ca.cert_path), context(self.proxy.ca)

    def stop(self) -> None:
        try:
            self.proxy.stop()  # terminate, then kill, by the Popen's PID
        finally:
            self.api.stop()

    def direct(self, bottle: str = "b00") -> Target:
        return Target("direct", (self.api.host, self.api.port), self.direct_ctx, None, self.secrets[bottle])

    def loop(self) -> Target:
        return Target("proxied-loop", ("127.0.0.1", self.proxy.port), self.proxied_ctx,
                      basic("loop", self.loop_password), PLACEHOLDER, "127.0.0.1", self.api.port)

    def direct_loop(self) -> Target:
        return Target("direct-loop", (self.api.host, self.api.port), self.direct_ctx, None,
                      self.secrets["b00"], "127.0.0.1", self.api.port)

    def proxied(self, bottle: str = "b00") -> Target:
        return Target("proxied", ("127.0.0.1", self.proxy.port), self.proxied_ctx,
                      basic(bottle, self.passwords[bottle]), PLACEHOLDER)

    # (a) -------------------------------------------------------------------------------------

    def latency(self) -> dict[str, t.Any]:
        direct, proxied = self.direct(), self.proxied()
        for _warm in range(self.mode["warmup"]):  # imports, the proxy's leaf cert for HOST, caches
            fresh_request(direct, "/v1/warmup")
            fresh_request(proxied, "/v1/warmup")
        idle_start, idle_cpu = time.perf_counter(), cpu_seconds(self.pid)
        time.sleep(self.mode["idle"])
        idle = (cpu_seconds(self.pid) - idle_cpu) / (time.perf_counter() - idle_start)
        fresh: dict[str, list[Response]] = {"direct": [], "proxied": []}
        # The proxy's CPU over the whole phase: a proxied flow's teardown (and its log line)
        # overlaps the direct request that follows it.
        phase_cpu = cpu_seconds(self.pid)
        for i in range(self.mode["requests"]):
            order = (direct, proxied) if i % 2 == 0 else (proxied, direct)
            for target in order:
                response = fresh_request(target, f"/v1/bench?i={i}")
                assert response.status == 200, (target.name, response.status, response.body[:200])
                fresh[target.name].append(response)
        phase_cpu = cpu_seconds(self.pid) - phase_cpu
        keep: dict[str, list[float]] = {"direct": [], "proxied": []}
        # Keep-alive through the proxy with the "loop" bottle (route host = the fake's address):
        # for api.anthropic.com, upstream_override rewrites the upstream address, so mitmproxy
        # finds no reusable upstream connection, opens one per request and, on the same client
        # connection, stops answering at the 6th request (curl shows it too; see NOTES.md). In
        # production the CONNECT target is the upstream address, as it is for "loop".
        conns = {"direct": Connection(self.direct_loop()), "proxied": Connection(self.loop())}
        try:
            for name in conns:
                conns[name].request("/v1/warmup")
            proxy_cpu = cpu_seconds(self.pid)
            for i in range(self.mode["keepalive"]):
                for name in (("direct", "proxied") if i % 2 == 0 else ("proxied", "direct")):
                    conns[name].times = {}
                    start = time.perf_counter()
                    response = conns[name].request(f"/v1/keepalive?i={i}")
                    keep[name].append(time.perf_counter() - start)
                    assert response.status == 200, (name, response.status)
            proxy_cpu = cpu_seconds(self.pid) - proxy_cpu
        finally:
            for conn in conns.values():
                conn.close()

        def total(r: Response) -> float:
            return r.times["done"] - r.times["start"]

        def phase(name: str, a: str, b: str) -> float:
            return ms(statistics.median(r.times[b] - r.times[a] for r in fresh[name]))

        result: dict[str, t.Any] = {"fresh": {}, "keepalive": {}}
        for name in ("direct", "proxied"):
            result["fresh"][name] = summary([total(r) for r in fresh[name]])
            result["fresh"][name]["phases_p50_ms"] = {
                "tcp_connect": phase(name, "start", "tcp"), "proxy_connect_reply": phase(name, "tcp", "connect"),
                "tls_handshake": phase(name, "connect", "tls"), "request_to_head": phase(name, "sent", "head"),
                "head_to_body_end": phase(name, "head", "done")}
            result["keepalive"][name] = summary(keep[name])
        for kind in ("fresh", "keepalive"):
            d, p = result[kind]["direct"], result[kind]["proxied"]
            result[kind]["added_p50_ms"] = round(p["p50_ms"] - d["p50_ms"], 3)
            result[kind]["added_p99_ms"] = round(p["p99_ms"] - d["p99_ms"], 3)
            result[kind]["ratio_p50"] = round(p["p50_ms"] / d["p50_ms"], 2)
        fresh_pairs = [total(p) - total(d) for d, p in zip(fresh["direct"], fresh["proxied"])]
        result["fresh"]["added_paired_median_ms"] = ms(statistics.median(fresh_pairs))
        n = self.mode["requests"]
        result["proxy_cpu_ms_per_request"] = {
            "fresh": ms(phase_cpu / n), "keepalive": ms(proxy_cpu / self.mode["keepalive"]),
            "idle_cpu_ms_per_s": ms(idle)}
        return result

    # (b) -------------------------------------------------------------------------------------

    def first_byte(self) -> dict[str, t.Any]:
        self.api.sse_events, self.api.sse_delay = self.mode["sse_events"], self.mode["sse_delay"]
        direct, proxied = self.direct(), self.proxied()
        samples: dict[str, dict[str, list[float]]] = {
            name: {"first_body": [], "first_body_from_request": [], "head": [], "event_lag": [], "last_event_lag": []}
            for name in ("direct", "proxied")}
        for i in range(self.mode["sse"]):
            for target in ((direct, proxied) if i % 2 == 0 else (proxied, direct)):
                self.api.sse_sent_at.clear()
                response = fresh_request(target, f"/sse?i={i}")
                assert response.status == 200 and len(response.events) == self.api.sse_events, \
                    (target.name, response.status, len(response.events))
                s = samples[target.name]
                s["first_body"].append(response.times["first_body"] - response.times["start"])
                s["first_body_from_request"].append(response.times["first_body"] - response.times["sent"])
                s["head"].append(response.times["head"] - response.times["start"])
                # arrival minus the moment the fake wrote the event (perf_counter and monotonic
                # are the same clock on Linux; both are read in this process).
                lags = [arrived - sent for (arrived, _chunk), sent in zip(response.events, self.api.sse_sent_at)]
                s["event_lag"].extend(lags[1:])
                s["last_event_lag"].append(lags[-1])
        result: dict[str, t.Any] = {"events_per_stream": self.api.sse_events,
                                    "event_gap_ms": ms(self.api.sse_delay)}
        for name, s in samples.items():
            result[name] = {
                "first_body_byte": summary(s["first_body"]),
                "first_body_byte_from_request": summary(s["first_body_from_request"]),
                "response_head": summary(s["head"]),
                "later_event_lag": summary(s["event_lag"]),
                "last_event_lag": summary(s["last_event_lag"]),
            }
        d, p = result["direct"], result["proxied"]
        result["first_byte_delta_p50_ms"] = round(p["first_body_byte"]["p50_ms"] - d["first_body_byte"]["p50_ms"], 3)
        result["first_byte_delta_p99_ms"] = round(p["first_body_byte"]["p99_ms"] - d["first_body_byte"]["p99_ms"], 3)
        result["first_byte_from_request_delta_p50_ms"] = round(
            p["first_body_byte_from_request"]["p50_ms"] - d["first_body_byte_from_request"]["p50_ms"], 3)
        result["later_event_lag_delta_p50_ms"] = round(
            p["later_event_lag"]["p50_ms"] - d["later_event_lag"]["p50_ms"], 3)
        return result

    # (c) -------------------------------------------------------------------------------------

    def concurrent(self) -> dict[str, t.Any]:
        self.api.sse_events, self.api.sse_delay = self.mode["sse_events"], self.mode["sse_delay"]
        names = sorted(self.passwords)
        rounds: list[dict[str, t.Any]] = []
        timing: dict[str, dict[str, list[float]]] = {
            kind: {"first_body": [], "complete": [], "wall": []} for kind in ("direct", "proxied")}
        counts = {"started": 0, "completed": 0, "lost": 0, "reached_api": 0, "own_secret": 0, "mixed": 0,
                  "placeholder_upstream": 0, "duplicated": 0}
        errors: list[str] = []
        for round_no in range(self.mode["rounds"]):
            for kind in ("direct", "proxied"):
                self.api.clear()
                targets = [self.direct(n) if kind == "direct" else self.proxied(n) for n in names]
                outcomes = self._burst(targets, round_no)
                timing[kind]["wall"].append(outcomes["wall"])
                for name, outcome in outcomes["per_bottle"].items():
                    if isinstance(outcome, Response):
                        timing[kind]["first_body"].append(outcome.times["first_body"] - outcome.times["start"])
                        timing[kind]["complete"].append(outcome.times["done"] - outcome.times["start"])
                if kind != "proxied":
                    continue
                tally = self._tally(outcomes["per_bottle"], round_no)
                for key in counts:
                    counts[key] += tally[key]
                errors += tally["errors"]
                rounds.append({k: v for k, v in tally.items() if k != "errors"})
        result: dict[str, t.Any] = {"bottles": BOTTLES, "rounds": self.mode["rounds"],
                                    "events_per_stream": self.api.sse_events, "counts": counts,
                                    "per_round": rounds, "errors": errors[:20]}
        for kind, data in timing.items():
            result[kind] = {"first_body_byte": summary(data["first_body"]), "stream_complete": summary(data["complete"]),
                            "burst_wall_ms": [ms(w) for w in data["wall"]]}
        result["complete_ratio_p50"] = round(
            result["proxied"]["stream_complete"]["p50_ms"] / result["direct"]["stream_complete"]["p50_ms"], 3)
        result["first_byte_delta_p50_ms"] = round(
            result["proxied"]["first_body_byte"]["p50_ms"] - result["direct"]["first_body_byte"]["p50_ms"], 3)
        return result

    def _burst(self, targets: list[Target], round_no: int) -> dict[str, t.Any]:
        barrier = threading.Barrier(len(targets))
        per_bottle: dict[str, Response | str] = {}

        def run(bottle: str, target: Target) -> None:
            try:
                barrier.wait(timeout=TIMEOUT)
                per_bottle[bottle] = fresh_request(target, f"/sse?bottle={bottle}&round={round_no}")
            except Exception as exc:  # a lost stream: counted, not raised
                per_bottle[bottle] = f"{type(exc).__name__}: {exc}"

        names = sorted(self.passwords)
        threads = [threading.Thread(target=run, args=(n, tg), daemon=True) for n, tg in zip(names, targets)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=TIMEOUT * 4)
        wall = time.perf_counter() - start
        for name in names:
            per_bottle.setdefault(name, "no outcome (thread still running)")
        return {"per_bottle": per_bottle, "wall": wall}

    def _tally(self, per_bottle: dict[str, Response | str], round_no: int) -> dict[str, t.Any]:
        tally: dict[str, t.Any] = {"started": len(per_bottle), "completed": 0, "lost": 0, "reached_api": 0,
                                   "own_secret": 0, "mixed": 0, "placeholder_upstream": 0, "duplicated": 0,
                                   "errors": []}
        expected = [json.dumps({"index": i}).encode() for i in range(self.api.sse_events)]
        for name, outcome in sorted(per_bottle.items()):
            data = [line[6:] for line in outcome.body.split(b"\n") if line.startswith(b"data: ")] \
                if isinstance(outcome, Response) else []
            if isinstance(outcome, Response) and outcome.status == 200 and data == expected:
                tally["completed"] += 1
            else:
                tally["lost"] += 1
                why = outcome if isinstance(outcome, str) else f"status {outcome.status}, {len(data)} events"
                tally["errors"].append(f"round {round_no} bottle {name}: stream lost: {why}")
        seen: dict[str, int] = {}
        for request in list(self.api.requests):
            match = re.search(r"[?&]bottle=(b\d\d)&round=(\d+)$", request.path)
            if not match or int(match.group(2)) != round_no:
                continue
            name = match.group(1)
            seen[name] = seen.get(name, 0) + 1
            key = request.headers.get(HEADER, "")
            if key == self.secrets[name]:
                tally["own_secret"] += 1
            else:
                tally["mixed"] += 1
                if key == PLACEHOLDER:
                    tally["placeholder_upstream"] += 1
                owner = next((n for n, s in self.secrets.items() if s == key), None)
                tally["errors"].append(f"round {round_no} bottle {name}: the fake API got "
                                       f"{'the placeholder' if key == PLACEHOLDER else f'the secret of {owner}' if owner else 'an unknown key'}")
        tally["reached_api"] = len(seen)
        tally["duplicated"] = sum(n - 1 for n in seen.values())
        for name in sorted(set(per_bottle) - set(seen)):
            tally["errors"].append(f"round {round_no} bottle {name}: never reached the fake API")
        return tally

    # -------------------------------------------------------------------------------------------

    def addon_cost(self, repeat: int = 2000) -> dict[str, float]:
        """The addon's own Python work per proxied request, timed outside mitmproxy: four
        config stamps (one per hook), the proxy-auth check, one secret read."""
        spec = importlib.util.spec_from_file_location("bot_bottle_egress_bench", ADDON)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        config = module.load_all(str(self.config))
        auth = basic("b17", self.passwords["b17"])
        route = config.bottles["b17"].routes[HOST]
        start = time.perf_counter()
        for _round in range(repeat):
            for _hook in range(4):
                module.tree_stamp(str(self.config))
            assert module.authenticate(config, auth) is not None
            module.read_secret(route)
        return {"per_request_us": round((time.perf_counter() - start) / repeat * 1e6, 1)}

    def upstream_peers(self) -> list[str]:
        return sorted(set(re.findall(r"server connection sni=\S+ peer=(\S+)", self.proxy.output())))


def mitmproxy_version() -> str:
    found = sorted(EGRESS_VENV.glob("lib/python*/site-packages/mitmproxy-*.dist-info"))
    return found[0].name.split("-")[1].removesuffix(".dist") if found else "?"


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "bench/egress.py", "roles/egress/files"],
                           cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    return done.stdout.strip() + ("+local changes" if dirty else "")


def targets(results: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    c = results["concurrent"]["counts"]
    overhead = results["latency"]["fresh"]["added_p50_ms"]
    first = results["first_byte"]["first_byte_delta_p50_ms"]
    return {
        "p50_overhead_ms": {"measured": overhead, "limit": TARGETS["p50_overhead_ms"],
                            "met": overhead <= TARGETS["p50_overhead_ms"],
                            "keepalive_measured": results["latency"]["keepalive"]["added_p50_ms"]},
        "first_byte_delta_ms": {"measured": first, "limit": TARGETS["first_byte_delta_ms"],
                                "met": first <= TARGETS["first_byte_delta_ms"]},
        "none_lost_or_mixed": {"measured": {k: c[k] for k in ("started", "completed", "lost", "mixed")},
                               "met": c["lost"] == 0 and c["mixed"] == 0 and c["duplicated"] == 0
                               and c["completed"] == c["started"] == c["reached_api"] == c["own_secret"]
                               == BOTTLES * results["concurrent"]["rounds"]},
    }


def yes(met: bool) -> str:
    return "yes" if met else "**no**"


def markdown(r: dict[str, t.Any]) -> str:
    m, lat, fb, cc, tg = r["meta"], r["latency"], r["first_byte"], r["concurrent"], r["targets"]
    lines = [
        f"Measured {m['date']} on {m['machine']} ({m['cores']} cores, load average {m['load_before']} before / "
        f"{m['load_after']} after), mitmproxy {m['mitmproxy']}, Python {m['python']}, commit {m['commit']}, "
        f"mode {m['mode']}. Reproduce with `.venv/bin/python bench/egress.py{' --quick' if m['mode'] == 'quick' else ''}`.",
        "",
        "| target | measured | limit | met |",
        "|---|---|---|---|",
        f"| added latency p50, fresh connection per request | {tg['p50_overhead_ms']['measured']:.2f} ms "
        f"(keep-alive: {tg['p50_overhead_ms']['keepalive_measured']:.2f} ms) | <= 5 ms | {yes(tg['p50_overhead_ms']['met'])} |",
        f"| first SSE body byte, proxied - direct (p50) | {tg['first_byte_delta_ms']['measured']:.2f} ms | <= 10 ms "
        f"| {yes(tg['first_byte_delta_ms']['met'])} |",
        f"| {cc['bottles']} concurrent streams x {cc['rounds']} round(s), 32 bottles | "
        f"{cc['counts']['completed']}/{cc['counts']['started']} complete, {cc['counts']['lost']} lost, "
        f"{cc['counts']['mixed']} mixed | 0 lost, 0 mixed | {yes(tg['none_lost_or_mixed']['met'])} |",
        "",
        "| measurement (ms) | direct p50 | direct p99 | proxied p50 | proxied p99 | added p50 | added p99 |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(label: str, d: dict[str, t.Any], p: dict[str, t.Any]) -> str:
        return (f"| {label} | {d['p50_ms']:.2f} | {d['p99_ms']:.2f} | {p['p50_ms']:.2f} | {p['p99_ms']:.2f} "
                f"| {p['p50_ms'] - d['p50_ms']:.2f} | {p['p99_ms'] - d['p99_ms']:.2f} |")

    lines += [
        row(f"request, fresh connection (n={lat['fresh']['direct']['n']})", lat["fresh"]["direct"], lat["fresh"]["proxied"]),
        row(f"request, keep-alive (n={lat['keepalive']['direct']['n']})", lat["keepalive"]["direct"], lat["keepalive"]["proxied"]),
        row(f"SSE first body byte, fresh connection (n={fb['direct']['first_body_byte']['n']})",
            fb["direct"]["first_body_byte"], fb["proxied"]["first_body_byte"]),
        row("SSE first body byte, from request sent", fb["direct"]["first_body_byte_from_request"],
            fb["proxied"]["first_body_byte_from_request"]),
        row(f"SSE later event, arrival - written ({fb['event_gap_ms']:.0f} ms apart)",
            fb["direct"]["later_event_lag"], fb["proxied"]["later_event_lag"]),
        row(f"{cc['bottles']} concurrent streams: first body byte", cc["direct"]["first_body_byte"],
            cc["proxied"]["first_body_byte"]),
        row(f"{cc['bottles']} concurrent streams: stream complete ({cc['events_per_stream']} events)",
            cc["direct"]["stream_complete"], cc["proxied"]["stream_complete"]),
        "",
        "Where a proxied fresh request spends its time (p50 per phase, ms):",
        "",
        "| phase | direct | proxied |",
        "|---|---|---|",
    ]
    dp, pp = lat["fresh"]["direct"]["phases_p50_ms"], lat["fresh"]["proxied"]["phases_p50_ms"]
    labels = {"tcp_connect": "TCP connect", "proxy_connect_reply": "CONNECT -> 200 (auth, allow)",
              "tls_handshake": "TLS handshake (client side)",
              "request_to_head": "request -> response head (proxied: + upstream TCP/TLS, hooks)",
              "head_to_body_end": "head -> body end"}
    lines += [f"| {labels[k]} | {dp[k]:.2f} | {pp[k]:.2f} |" for k in labels]
    cpu = lat["proxy_cpu_ms_per_request"]
    lines += ["", f"mitmdump CPU per proxied request: {cpu['fresh']:.2f} ms fresh connection, {cpu['keepalive']:.2f} ms "
              f"keep-alive; the addon's own work (auth, 4 config stamps, secret read) {r['addon']['per_request_us']:.0f} us. "
              f"Upstream connections from the proxy: {', '.join(r['upstream_peers']) or 'none'}."]
    return "\n".join(lines) + "\n"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="small N, for CI (well under 30 s)")
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    parser.add_argument("--markdown", type=Path, help="also write the markdown table here")
    args = parser.parse_args(argv)
    mode_name = "quick" if args.quick else "default"
    mode = MODES[mode_name]

    def terminated(signum: int, frame: t.Any) -> None:
        raise SystemExit(128 + signum)  # runs the finally blocks: mitmdump is stopped

    signal.signal(signal.SIGTERM, terminated)
    started = time.perf_counter()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}", "cores": os.cpu_count(),
            "load_before": load(), "mitmproxy": mitmproxy_version(), "python": platform.python_version(),
            "commit": git_commit(), "mode": mode_name, "settings": mode}
    with tempfile.TemporaryDirectory(prefix="bbench-egress-") as tmp:
        bench = Bench(Path(tmp), mode)
        try:
            bench.start()
            results: dict[str, t.Any] = {"meta": meta}
            results["latency"] = bench.latency()
            results["first_byte"] = bench.first_byte()
            results["concurrent"] = bench.concurrent()
            results["addon"] = bench.addon_cost()
            results["upstream_peers"] = bench.upstream_peers()
        except BaseException:
            tail = bench.proxy.output()[-3000:]
            if tail:
                print(f"--- mitmdump log (tail) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            bench.stop()
    meta["load_after"] = load()
    meta["seconds"] = round(time.perf_counter() - started, 1)
    results["targets"] = targets(results)
    loopback_only = bool(results["upstream_peers"]) and all(
        p.startswith("127.0.0.1:") for p in results["upstream_peers"])
    results["loopback_only"] = loopback_only
    results["ok"] = loopback_only and results["targets"]["none_lost_or_mixed"]["met"]
    table = markdown(results)
    text = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    if args.markdown:
        args.markdown.write_text(table)
    print(table)
    print(text)
    for error in results["concurrent"]["errors"]:
        print(f"bench/egress.py: {error}", file=sys.stderr)
    if not loopback_only:
        print(f"bench/egress.py: the proxy connected to {results['upstream_peers']}, not only 127.0.0.1",
              file=sys.stderr)
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
