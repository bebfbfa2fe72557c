"""bot-bottle egress proxy: a mitmproxy (11.0.x) addon that injects real credentials.

A bottle holds only a placeholder credential. Its HTTPS traffic goes through this proxy, which
refuses every host its bottle may not reach and, for the API hosts the bottle has a *route* for,
replaces whatever auth header the client sent with the real one, read from a file on the proxy's
side at request time (a rotated file is used by the next request, no restart).

Run it as (the addon refuses to start otherwise: the first two settings keep mitmproxy from
opening any upstream connection or DNS lookup before this addon has decided; flow_detail=0
keeps mitmdump's own flow lines, which show query strings and at >= 2 headers, out of the log)::

    mitmdump --mode regular --listen-host ADDR --listen-port PORT --set confdir=DIR \\
        --set connection_strategy=lazy --set upstream_cert=false --set flow_detail=0 \\
        -s bot_bottle_egress.py --set bot_bottle_config=/path/config.json \\
        --set bot_bottle_bottles_dir=/path/bottles     # optional: one registration file per bottle

``DIR`` holds the proxy CA (``mitmproxy-ca.pem``); bottles trust ``mitmproxy-ca-cert.pem``.
Make that CA once (mitmproxy's own code; files that exist are kept, never regenerated)::

    python3 bot_bottle_egress.py ca DIR

Validate a config, the registration files and every route's credential file without starting
the proxy::

    python3 bot_bottle_egress.py check /path/config.json [/path/bottles]   # exit 1 + message on error

Config (JSON, re-read whenever its mtime/size changes; an invalid file at startup stops the
proxy, an invalid file later makes it refuse every request until fixed)::

    {"bottles": {
        "<bottle>": {
            "proxy_password_sha256": "<sha256 hex of the bottle's proxy password>",
            "allow": ["registry.npmjs.org", "*.pythonhosted.org"],
            "routes": [{"host": "api.anthropic.com", "header": "x-api-key",
                        "value_prefix": "", "credential_source": "file",
                        "credential_path": "/etc/bot-bottle/anthropic.key",
                        "credential_pointer": "", "tls_passthrough": false}]}},
     "upstream_override": {"api.anthropic.com": "127.0.0.1:8443"}}

- Clients authenticate with ``Proxy-Authorization: Basic base64(<bottle>:<password>)`` (e.g.
  ``HTTPS_PROXY=http://<bottle>:<password>@proxy:port``); a missing or wrong one gets 407. The
  bottle name selects the allowlist and routes.
- ``allow``: host names and ``*.suffix`` patterns. ``*.example.com`` matches every subdomain of
  example.com but not example.com itself (list both if both are needed). No scheme, port, path
  or other ``*``. An allowed host without a route is tunnelled untouched (no TLS interception).
- ``routes`` (the fields of the plan's ``EgressRoute``; ``host``, ``header``, ``value_prefix``
  and ``credential_path`` required): a route host is always reachable and always intercepted. ``credential_source`` is ``file`` (whole file, surrounding
  whitespace stripped) or ``json_file`` (``credential_pointer`` is an RFC 6901 JSON pointer to a
  non-empty string). The header sent is ``header: value_prefix + secret``.
- ``tls_passthrough`` keeps its meaning for a DLP proxy chained *after* this one (pass that
  host's TLS untouched); this proxy ignores it: it must terminate TLS for every host it injects
  into, so every route host is intercepted and injected.
- Registration directory (``bot_bottle_bottles_dir``): every ``<bottle>.json`` in it is one
  more bottle, named by the file stem, holding exactly the per-bottle object above
  (``{"proxy_password_sha256", "allow", "routes"}``). Names starting with ``.`` and names not
  ending in ``.json`` are ignored, so write ``.<bottle>.json.tmp`` and rename it into place
  (atomic). The directory is re-read whenever a file appears, disappears or changes (mtime, size
  or inode). A file that cannot be read or is invalid, or a bottle defined both there and in the
  config's ``bottles``, breaks only that bottle: its requests get 503 and the proxy log names the
  file; every other bottle keeps working. A missing directory holds no bottles.
- ``upstream_override`` (TESTS ONLY): host -> ``ip:port`` where connections for that host really
  go (Host header and SNI keep the real name). When it is non-empty, a connection to any host
  not in it is refused, so a test can never reach outside the machine by mistake.

Rules enforced per request (see DESIGN.md §4 for why):
- CONNECT: 407 without valid proxy auth; 403 (naming the host and ``agent_egress_allow``) for
  a host with neither a route nor an allowlist match; decided before any DNS or connection.
  The port is not restricted: allowing a host allows it on any port.
- Plain-HTTP proxy requests (``GET http://x/``) are refused: they never pass CONNECT.
- Inside a route host's tunnel: the request's Host/``:authority`` and the TLS SNI must equal
  the CONNECT host (matching on the Host header would hand one API's key to another API);
  every client auth header is dropped and the route's header set.
- Responses stream (SSE would otherwise arrive all at once at the end).
- One log line per request: bottle, host, method, path (no query), status, route; never a
  header value.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import pathlib
import re
import sys
import typing as t
import weakref

if t.TYPE_CHECKING:  # the `check` CLI and the unit tests run without mitmproxy installed
    from mitmproxy import connection, http, tls
    from mitmproxy.addonmanager import Loader
    from mitmproxy.proxy import server_hooks

log = logging.getLogger("bot_bottle_egress")

ALLOW_VARIABLE = "agent_egress_allow"
# Client headers that may carry a (placeholder) credential: all of them are dropped on a route
# host, whatever the route's own header is, so the upstream only ever sees the real secret.
CLIENT_AUTH_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization")
CREDENTIAL_SOURCES = ("file", "json_file")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ROUTE_KEYS = {"host", "header", "value_prefix", "credential_source", "credential_path",
               "credential_pointer", "tls_passthrough"}
_BOTTLE_KEYS = {"proxy_password_sha256", "allow", "routes"}
_TOP_KEYS = {"bottles", "upstream_override"}


class ConfigError(ValueError):
    """The config file is unusable; the message names the bottle and the field."""


class CredentialError(Exception):
    """A route's credential cannot be read; the message names the file, never a value."""


# NamedTuples, not dataclasses: mitmproxy runs a script without putting it in sys.modules,
# which dataclasses need to resolve string annotations.
class Route(t.NamedTuple):
    host: str
    header: str
    credential_source: str
    credential_path: str
    credential_pointer: str = ""
    value_prefix: str = ""
    tls_passthrough: bool = False


class Bottle(t.NamedTuple):
    name: str
    password_sha256: str
    allow: tuple[str, ...]
    routes: dict[str, Route]

    def route_for(self, host: str) -> Route | None:
        return self.routes.get(host)

    def allows(self, host: str) -> bool:
        return any(pattern_matches(p, host) for p in self.allow)


class Config(t.NamedTuple):
    bottles: dict[str, Bottle]
    upstream_override: dict[str, tuple[str, int]]
    # bottle name -> why its registration is unusable (its requests get 503; others work).
    broken: t.Mapping[str, str] = {}


# --- host names and patterns -------------------------------------------------------------


def normalize_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def host_problem(host: str) -> str | None:
    """Why ``host`` is not a plain host name (None if it is one)."""
    if not host:
        return "is empty"
    if "://" in host:
        return "has a scheme (write the host name only)"
    if "/" in host:
        return "has a path (write the host name only)"
    if ":" in host:
        return "has a port (ports are not part of a host name)"
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
        return "is not a valid host name"
    return None


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid allowlist entry: ``host`` or ``*.suffix``."""
    if not isinstance(pattern, str):
        return "is not a string"
    body = pattern[2:] if pattern.startswith("*.") else pattern
    if "*" in body:
        return "may use '*' only as a leading '*.' (e.g. '*.example.com')"
    problem = host_problem(normalize_host(body) if body else body)
    if problem and pattern.startswith("*.") and not body:
        return "has no suffix after '*.'"
    return problem


def pattern_matches(pattern: str, host: str) -> bool:
    """``*.example.com`` matches ``a.example.com`` and ``a.b.example.com``, not ``example.com``."""
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


# --- config ------------------------------------------------------------------------------


def _route(bottle: str, index: int, raw: t.Any) -> Route:
    where = f"bottle {bottle!r}: routes[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be an object")
    unknown = sorted(set(raw) - _ROUTE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    host = raw.get("host")
    if not isinstance(host, str) or host_problem(normalize_host(host)):
        problem = host_problem(normalize_host(host)) if isinstance(host, str) else "is missing"
        raise ConfigError(f"{where}: field 'host' {problem}")
    where = f"bottle {bottle!r}: route {host!r}"
    header = raw.get("header")
    if not isinstance(header, str) or not _TOKEN.match(header):
        raise ConfigError(f"{where}: field 'header' is missing or not a header name")
    source = raw.get("credential_source", "file")
    if source not in CREDENTIAL_SOURCES:
        raise ConfigError(f"{where}: field 'credential_source' must be one of {', '.join(CREDENTIAL_SOURCES)}")
    path = raw.get("credential_path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ConfigError(f"{where}: field 'credential_path' must be an absolute path")
    pointer = raw.get("credential_pointer") or ""
    if source == "json_file" and (not isinstance(pointer, str) or not pointer.startswith("/")):
        raise ConfigError(f"{where}: field 'credential_pointer' must be a JSON pointer ('/a/b') for json_file")
    # Required: EgressRoute's default ("Bearer ") is wrong for x-api-key, "" for Authorization.
    prefix = raw.get("value_prefix")
    if not isinstance(prefix, str):
        raise ConfigError(f"{where}: field 'value_prefix' is missing or not a string ('' for none)")
    passthrough = raw.get("tls_passthrough", False)
    if not isinstance(passthrough, bool):
        raise ConfigError(f"{where}: field 'tls_passthrough' must be true or false")
    return Route(normalize_host(host), header.lower(), source, path, pointer, prefix, passthrough)


def _bottle(name: str, raw: t.Any) -> Bottle:
    if not name or ":" in name:
        raise ConfigError(f"bottle {name!r}: a bottle name must be non-empty and without ':' (it is the proxy user)")
    if not isinstance(raw, dict):
        raise ConfigError(f"bottle {name!r}: must be an object")
    unknown = sorted(set(raw) - _BOTTLE_KEYS)
    if unknown:
        raise ConfigError(f"bottle {name!r}: unknown field(s) {', '.join(unknown)}")
    digest = raw.get("proxy_password_sha256")
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise ConfigError(f"bottle {name!r}: field 'proxy_password_sha256' must be 64 hex digits")
    allow = raw.get("allow", [])
    if not isinstance(allow, list):
        raise ConfigError(f"bottle {name!r}: field 'allow' must be a list")
    for i, pattern in enumerate(allow):
        problem = pattern_problem(pattern)
        if problem:
            raise ConfigError(f"bottle {name!r}: field 'allow' ({ALLOW_VARIABLE}) entry {i} {pattern!r} {problem}")
    raw_routes = raw.get("routes", [])
    if not isinstance(raw_routes, list):
        raise ConfigError(f"bottle {name!r}: field 'routes' must be a list")
    routes: dict[str, Route] = {}
    for i, raw_route in enumerate(raw_routes):
        route = _route(name, i, raw_route)
        if route.host in routes:
            raise ConfigError(f"bottle {name!r}: route {route.host!r} is listed twice")
        routes[route.host] = route
    return Bottle(name, digest.lower(), tuple(normalize_host(p) for p in allow), routes)


def _address(host: str, raw: t.Any) -> tuple[str, int]:
    where = f"upstream_override {host!r}"
    if not isinstance(raw, str) or ":" not in raw:
        raise ConfigError(f"{where}: must be 'ip:port'")
    addr, port = raw.rsplit(":", 1)
    try:
        ipaddress.ip_address(addr.strip("[]"))
        number = int(port)
    except ValueError:
        raise ConfigError(f"{where}: must be 'ip:port' with an IP address, got {raw!r}") from None
    if not 0 < number < 65536:
        raise ConfigError(f"{where}: port out of range in {raw!r}")
    return addr.strip("[]"), number


def parse_config(raw: t.Any) -> Config:
    if not isinstance(raw, dict):
        raise ConfigError("config: must be a JSON object with 'bottles'")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"config: unknown field(s) {', '.join(unknown)}")
    bottles = raw.get("bottles")
    if not isinstance(bottles, dict):
        raise ConfigError("config: field 'bottles' must be an object (bottle name -> settings)")
    override = raw.get("upstream_override") or {}
    if not isinstance(override, dict):
        raise ConfigError("config: field 'upstream_override' must be an object (host -> 'ip:port')")
    return Config(
        {name: _bottle(name, value) for name, value in bottles.items()},
        {normalize_host(host): _address(host, value) for host, value in override.items()},
    )


def load_config(path: str) -> Config:
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"config {path}: not valid JSON: {exc}") from None
    return parse_config(raw)


REGISTRATION_SUFFIX = ".json"


def load_bottles_dir(directory: str) -> tuple[dict[str, Bottle], dict[str, str]]:
    """The bottles registered as ``<bottle>.json`` files, and why each broken one is unusable."""
    try:
        entries = sorted(os.listdir(directory))
    except FileNotFoundError:
        return {}, {}
    except OSError as exc:
        raise ConfigError(f"bottles directory {directory}: cannot list: {exc.strerror}") from None
    bottles: dict[str, Bottle] = {}
    broken: dict[str, str] = {}
    for entry in entries:
        if entry.startswith(".") or not entry.endswith(REGISTRATION_SUFFIX):
            continue
        name, path = entry[:-len(REGISTRATION_SUFFIX)], os.path.join(directory, entry)
        try:
            with open(path, encoding="utf-8") as handle:
                raw = json.load(handle)
            bottles[name] = _bottle(name, raw)
        except OSError as exc:
            broken[name] = f"registration file {path}: cannot read: {exc.strerror}"
        except ConfigError as exc:
            broken[name] = f"registration file {path}: {exc}"
        except ValueError as exc:
            broken[name] = f"registration file {path}: not valid JSON: {exc}"
    return bottles, broken


def load_all(path: str, bottles_dir: str = "") -> Config:
    """The config file plus the registration directory (ConfigError only for the config file)."""
    config = load_config(path)
    if not bottles_dir:
        return config
    registered, broken = load_bottles_dir(bottles_dir)
    for name in sorted(set(registered) & set(config.bottles)):
        broken[name] = (f"defined both in {path} and in registration file "
                        f"{os.path.join(bottles_dir, name + REGISTRATION_SUFFIX)}")
    bottles = {name: bottle for name, bottle in {**config.bottles, **registered}.items() if name not in broken}
    return Config(bottles, config.upstream_override, broken)


def tree_stamp(path: str, bottles_dir: str = "") -> tuple[t.Any, ...]:
    """Changes whenever the config file or any registration file changes, appears or goes."""
    def one(file: str) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(file)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    stamp: list[t.Any] = [one(path)]
    if bottles_dir:
        try:
            entries = sorted(os.listdir(bottles_dir))
        except OSError:
            entries = []
        stamp += [(entry, one(os.path.join(bottles_dir, entry))) for entry in entries
                  if not entry.startswith(".") and entry.endswith(REGISTRATION_SUFFIX)]
    return tuple(stamp)


# --- credentials -------------------------------------------------------------------------


def resolve_pointer(document: t.Any, pointer: str) -> t.Any:
    """RFC 6901: ``/a/0/b~1c`` -> document["a"][0]["b/c"]; KeyError if it leads nowhere."""
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(document, list) and token.isdigit() and int(token) < len(document):
            document = document[int(token)]
        elif isinstance(document, dict) and token in document:
            document = document[token]
        else:
            raise KeyError(token)
    return document


def read_secret(route: Route) -> str:
    """The route's secret, read now. Errors name the file and pointer, never the contents."""
    try:
        with open(route.credential_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise CredentialError(f"cannot read {route.credential_path}: {exc.strerror}") from None
    if route.credential_source == "file":
        secret: t.Any = text.strip()
    else:
        try:
            secret = resolve_pointer(json.loads(text), route.credential_pointer)
        except ValueError:
            raise CredentialError(f"{route.credential_path} is not valid JSON") from None
        except KeyError:
            raise CredentialError(
                f"{route.credential_path}: JSON pointer {route.credential_pointer} leads nowhere") from None
    if not isinstance(secret, str) or not secret:
        raise CredentialError(f"{route.credential_path}: credential is empty or not a string")
    if "\n" in secret or "\r" in secret:
        raise CredentialError(f"{route.credential_path}: credential spans several lines")
    return secret


def check(path: str, bottles_dir: str = "") -> list[str]:
    """Everything wrong with the config, the registration files and the credential files."""
    try:
        config = load_all(path, bottles_dir)
    except ConfigError as exc:
        return [str(exc)]
    errors = [f"bottle {name!r}: {why}" for name, why in sorted(config.broken.items())]
    for bottle in config.bottles.values():
        for route in bottle.routes.values():
            try:
                read_secret(route)
            except CredentialError as exc:
                errors.append(f"bottle {bottle.name!r}: route {route.host!r}: {exc}")
    return errors


# --- proxy auth --------------------------------------------------------------------------


def proxy_credentials(proxy_authorization: str | None) -> tuple[str, str] | None:
    """(user, password) of a ``Basic`` Proxy-Authorization value, or None."""
    scheme, encoded = ((proxy_authorization or "") + " ").split(" ", 1)
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def authenticate(config: Config, proxy_authorization: str | None) -> Bottle | None:
    """The bottle whose ``Basic`` proxy credentials these are, or None."""
    credentials = proxy_credentials(proxy_authorization)
    bottle = config.bottles.get(credentials[0]) if credentials else None
    if credentials is None or bottle is None:
        return None
    digest = hashlib.sha256(credentials[1].encode()).hexdigest()
    return bottle if hmac.compare_digest(digest, bottle.password_sha256) else None


def split_authority(authority: str) -> tuple[str, int | None]:
    """``host[:port]`` / ``[v6][:port]`` -> (normalized host, port or None)."""
    host, port = authority, None
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]*)(?::(\d+))?", authority)
    if match:
        host = match.group(1) or match.group(3) or ""
        digits = match.group(2) or match.group(4)
        port = int(digits) if digits else None
    return normalize_host(host), port


# --- the addon ---------------------------------------------------------------------------


class Tunnel(t.NamedTuple):
    bottle: str
    host: str
    port: int


Hook = t.Callable[["Egress", "http.HTTPFlow"], None]


def _fail_closed(hook: Hook) -> Hook:
    """mitmproxy logs an exception raised in a hook and lets the flow go on: refuse it instead."""

    @functools.wraps(hook)
    def guarded(self: Egress, flow: http.HTTPFlow) -> None:
        try:
            hook(self, flow)
        except Exception:
            log.exception("egress: %s failed; refusing the flow", hook.__name__)
            _refuse(flow, 500, "bot-bottle egress: internal error; see the proxy log.")

    return guarded


class Egress:
    def __init__(self) -> None:
        self.path = ""
        self.bottles_dir = ""
        self.config: Config | None = None
        self._stamp: tuple[t.Any, ...] | None = None
        # client connection -> the CONNECT it made; weak so closed connections drop out.
        self._tunnels: weakref.WeakKeyDictionary[connection.Client, Tunnel] = weakref.WeakKeyDictionary()

    def load(self, loader: Loader) -> None:
        loader.add_option("bot_bottle_config", str, "", "Path of the bot-bottle egress config (JSON).")
        loader.add_option("bot_bottle_bottles_dir", str, "",
                          "Directory of bottle registration files (<bottle>.json), re-read on change.")

    def configure(self, updated: set[str]) -> None:
        from mitmproxy import ctx, exceptions

        if ctx.options.connection_strategy != "lazy" or ctx.options.upstream_cert:
            raise exceptions.OptionsError(
                "bot_bottle_egress needs --set connection_strategy=lazy --set upstream_cert=false "
                "(no upstream connection before the addon has decided)")
        if ctx.options.flow_detail != 0:
            raise exceptions.OptionsError(
                "bot_bottle_egress needs --set flow_detail=0: mitmdump's own flow lines show query "
                "strings (and headers from 2 up); the addon logs one safe line per request")
        if {"bot_bottle_config", "bot_bottle_bottles_dir"} & updated:
            self.path = ctx.options.bot_bottle_config
            self.bottles_dir = ctx.options.bot_bottle_bottles_dir
            if not self.path:
                raise exceptions.OptionsError("bot_bottle_egress needs --set bot_bottle_config=PATH")
            try:
                # An invalid config file stops the proxy; a broken registration file only its bottle.
                self._stamp = tree_stamp(self.path, self.bottles_dir)
                self.config = load_all(self.path, self.bottles_dir)
            except ConfigError as exc:
                raise exceptions.OptionsError(str(exc)) from None
            # A warning, not an error: mitmdump exits when an error is logged during startup.
            _log_broken(self.config, logging.WARNING)

    def current(self) -> Config | None:
        """The config, re-read if a file changed; None while the config file is invalid (fail closed)."""
        stamp = tree_stamp(self.path, self.bottles_dir)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self.config = load_all(self.path, self.bottles_dir)
                log.info("egress: config reloaded from %s%s", self.path,
                         f" and {self.bottles_dir}" if self.bottles_dir else "")
                _log_broken(self.config)
            except ConfigError as exc:
                self.config = None
                log.error("egress: config invalid, refusing all requests until fixed: %s", exc)
        return self.config

    # CONNECT: authenticate, then allow or refuse the host before anything leaves the proxy.
    @_fail_closed
    def http_connect(self, flow: http.HTTPFlow) -> None:
        host, port = normalize_host(flow.request.host), flow.request.port
        config = self.current()
        header = flow.request.headers.get("proxy-authorization")
        bottle = authenticate(config, header) if config else None
        user = (proxy_credentials(header) or ("-", ""))[0]
        name = bottle.name if bottle else "-"
        if config is None:
            _refuse(flow, 503, "bot-bottle egress: the proxy config is invalid; see the proxy log.")
        elif user in config.broken:
            name = user
            _refuse(flow, 503, _broken(user))
        elif bottle is None:
            _refuse(flow, 407, "bot-bottle egress: proxy authentication required (bottle name and "
                    "password in Proxy-Authorization).")
        elif flow.client_conn in self._tunnels:
            _refuse(flow, 403, "bot-bottle egress: CONNECT inside a tunnel is refused.")
        elif bottle.route_for(host) is None and not bottle.allows(host):
            _refuse(flow, 403, _not_allowed(host))
        else:
            self._tunnels[flow.client_conn] = Tunnel(bottle.name, host, port)
        label = _label(bottle, host) if flow.response is None else "refused"
        _log_line(name, host, "CONNECT", f"{host}:{port}", flow.response.status_code if flow.response else 200, label)

    # Hosts allowed without a route are tunnelled untouched: nothing to inject, nothing to read.
    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        tunnel = self._tunnels.get(data.context.client)
        config = self.current()
        bottle = config.bottles.get(tunnel.bottle) if config and tunnel else None
        if bottle is not None and tunnel is not None and bottle.route_for(tunnel.host) is None:
            data.ignore_connection = True

    @_fail_closed
    def request(self, flow: http.HTTPFlow) -> None:
        tunnel = self._tunnels.get(flow.client_conn)
        config = self.current()
        bottle = config.bottles.get(tunnel.bottle) if config and tunnel else None
        flow.metadata["bot_bottle"] = tunnel.bottle if tunnel else "-"
        if tunnel is None:  # never passed http_connect: an absolute-form `GET http://x/`
            return _refuse(flow, 403, "bot-bottle egress: plain-HTTP proxy requests are refused; "
                           "use https:// (the proxy only carries CONNECT tunnels).")
        if config is None:
            return _refuse(flow, 503, "bot-bottle egress: the proxy config is invalid; see the proxy log.")
        if tunnel.bottle in config.broken:
            return _refuse(flow, 503, _broken(tunnel.bottle))
        if bottle is None:
            return _refuse(flow, 403, f"bot-bottle egress: bottle {tunnel.bottle!r} is no longer configured.")
        host = normalize_host(flow.request.host)
        route = bottle.route_for(host)
        if host != tunnel.host or (route is None and not bottle.allows(host)):
            return _refuse(flow, 403, _not_allowed(host))
        if route is None:
            flow.metadata["bot_bottle_route"] = "allow"
            return None
        problem = _tunnel_mismatch(flow, tunnel)
        if problem:
            return _refuse(flow, 403, f"bot-bottle egress: {problem}; refused.")
        try:
            secret = read_secret(route)
        except CredentialError as exc:
            return _refuse(flow, 502, f"bot-bottle egress: route {route.host!r} of bottle "
                           f"{bottle.name!r}: credential unavailable: {exc}")
        for name in {*CLIENT_AUTH_HEADERS, route.header}:
            flow.request.headers.pop(name, None)
        flow.request.headers[route.header] = route.value_prefix + secret
        flow.metadata["bot_bottle_route"] = route.host
        return None

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        # Stream every response body: buffered, an SSE answer arrives all at once at its end.
        if flow.response is not None:
            flow.response.stream = True

    def response(self, flow: http.HTTPFlow) -> None:
        status = flow.response.status_code if flow.response else 0
        self._log_flow(flow, str(status))

    def error(self, flow: http.HTTPFlow) -> None:
        self._log_flow(flow, "error")

    def _log_flow(self, flow: http.HTTPFlow, status: str) -> None:
        route = flow.metadata.get("bot_bottle_route", "refused")
        path = flow.request.path.split("?", 1)[0]  # a query string may carry a key
        _log_line(flow.metadata.get("bot_bottle", "-"), normalize_host(flow.request.host),
                  flow.request.method, path, status, route)

    # Last gate before a socket is opened: in override (test) mode, only overridden hosts.
    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        try:
            self._server_connect(data)
        except Exception:
            log.exception("egress: server_connect failed; refusing the connection")
            data.server.error = "bot-bottle egress: internal error"

    def _server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        config = self.current()
        if data.server.address is None:
            return
        host = normalize_host(str(data.server.address[0]))
        if config is None:
            data.server.error = "bot-bottle egress: config invalid"
        elif config.upstream_override:
            target = config.upstream_override.get(host)
            if target is None:
                data.server.error = f"bot-bottle egress: {host} has no upstream_override (override mode)"
                log.warning("egress: refused server connection to %s: not in upstream_override", host)
            else:
                data.server.address = target

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        peer = data.server.peername
        log.info("egress: server connection sni=%s peer=%s", data.server.sni,
                 f"{peer[0]}:{peer[1]}" if peer else "?")


def _tunnel_mismatch(flow: http.HTTPFlow, tunnel: Tunnel) -> str | None:
    """Why this request may not get the CONNECT host's credential (None: it may)."""
    if flow.request.scheme != "https":
        return f"plain HTTP inside the tunnel to {tunnel.host}"
    sni = flow.client_conn.sni
    if sni and normalize_host(sni) != tunnel.host:
        return f"TLS server name {sni!r} differs from the CONNECT host {tunnel.host!r}"
    authority = flow.request.host_header
    if authority:
        host, port = split_authority(authority)
        if host != tunnel.host or port not in (None, tunnel.port):
            return f"Host {authority!r} differs from the CONNECT host {tunnel.host}:{tunnel.port}"
    return None


def _not_allowed(host: str) -> str:
    return (f"bot-bottle egress: {host} is not allowed for this bottle. To allow it, add it to "
            f"{ALLOW_VARIABLE} (host names, or '*.suffix' patterns: '*.example.com' matches "
            f"subdomains of example.com, not example.com itself).")


def _broken(name: str) -> str:
    return (f"bot-bottle egress: the registration of bottle {name!r} is invalid; its requests are "
            f"refused until it is fixed (the proxy log names the file).")


def _log_broken(config: Config | None, level: int = logging.ERROR) -> None:
    for name, why in sorted((config.broken if config else {}).items()):
        log.log(level, "egress: refusing bottle %s until fixed: %s", name, why)


def _label(bottle: Bottle | None, host: str) -> str:
    if bottle is None:
        return "refused"
    return host if bottle.route_for(host) else "allow"


def _refuse(flow: http.HTTPFlow, status: int, message: str) -> None:
    from mitmproxy import http

    headers = {"content-type": "text/plain; charset=utf-8"}
    if status == 407:
        headers["proxy-authenticate"] = 'Basic realm="bot-bottle egress"'
    flow.metadata["bot_bottle_route"] = "refused"
    flow.response = http.Response.make(status, message + "\n", headers)


def _log_line(bottle: str, host: str, method: str, path: str, status: int | str, route: str) -> None:
    log.info("egress bottle=%s host=%s method=%s path=%s status=%s route=%s",
             bottle, host, method, path, status, route)


addons = [Egress()]


def make_ca(confdir: str) -> bool:
    """mitmproxy's CA in ``confdir`` (key 0600), made only if missing; True if it was made."""
    from mitmproxy import certs  # only the proxy image has mitmproxy

    if os.path.exists(os.path.join(confdir, "mitmproxy-ca.pem")):
        return False
    os.makedirs(confdir, mode=0o700, exist_ok=True)
    certs.CertStore.create_store(pathlib.Path(confdir), "mitmproxy", 2048)
    return True


USAGE = "usage: bot_bottle_egress.py check CONFIG.json [BOTTLES_DIR] | ca CONFDIR"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "ca":
        made = make_ca(argv[1])
        print(f"bot-bottle egress: CA {'created' if made else 'kept'} in {argv[1]}")
        return 0
    if len(argv) not in (2, 3) or argv[0] != "check":
        print(USAGE, file=sys.stderr)
        return 2
    errors = check(*argv[1:])
    for error in errors:
        print(f"bot-bottle egress: {error}", file=sys.stderr)
    if not errors:
        print(f"bot-bottle egress: {' and '.join(argv[1:])} {'is' if len(argv) == 2 else 'are'} valid")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
