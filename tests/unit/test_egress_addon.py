"""Pure logic of the egress addon (roles/egress/files/bot_bottle_egress.py): allowlist patterns,
config validation, credential reading, proxy auth and the ``check`` CLI. The addon imports
mitmproxy only inside its hooks, so this runs in the controller venv; the hooks themselves are
exercised by a real mitmdump in tests/integration/test_egress_proxy.py.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest

ADDON = Path(__file__).resolve().parents[2] / "roles" / "egress" / "files" / "bot_bottle_egress.py"
_spec = importlib.util.spec_from_file_location("bot_bottle_egress", ADDON)
assert _spec and _spec.loader
egress = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(egress)

SHA = hashlib.sha256(b"pw").hexdigest()


def _config(**bottle: t.Any) -> dict[str, t.Any]:
    return {"bottles": {"dev": {"proxy_password_sha256": SHA, **bottle}}}


def _route(path: Path, **fields: t.Any) -> dict[str, t.Any]:
    return {"host": "api.anthropic.com", "header": "x-api-key", "value_prefix": "", "credential_source": "file",
            "credential_path": str(path), **fields}


@pytest.mark.parametrize("pattern", ["example.com", "*.npmjs.org", "Registry.NPMJS.org", "127.0.0.1", "localhost"])
def test_valid_patterns(pattern: str) -> None:
    assert egress.pattern_problem(pattern) is None


@pytest.mark.parametrize("pattern, problem", [
    ("*foo", "leading '*.'"),
    ("a*.b", "leading '*.'"),
    ("*.*.example.com", "leading '*.'"),
    ("*", "leading '*.'"),
    ("", "is empty"),
    ("*.", "no suffix"),
    ("https://example.com", "scheme"),
    ("example.com:443", "port"),
    ("example.com/path", "path"),
    ("exa mple.com", "not a valid host name"),
    ("-bad.example.com", "not a valid host name"),
])
def test_malformed_patterns(pattern: str, problem: str) -> None:
    assert problem in (egress.pattern_problem(pattern) or "")


@pytest.mark.parametrize("pattern, host, matches", [
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "a.b.example.com", True),
    ("*.example.com", "example.com", False),  # a wildcard covers subdomains only
    ("*.example.com", "badexample.com", False),
    ("*.example.com", "example.com.evil.org", False),
    ("example.com", "example.com", True),
    ("example.com", "a.example.com", False),
])
def test_pattern_matching(pattern: str, host: str, matches: bool) -> None:
    assert egress.pattern_matches(pattern, host) is matches


def test_bottle_allows_and_routes(tmp_path: Path) -> None:
    config = egress.parse_config(_config(allow=["*.NPMJS.org"], routes=[_route(tmp_path / "k")]))
    bottle = config.bottles["dev"]
    assert bottle.allows("registry.npmjs.org") and not bottle.allows("npmjs.org")
    assert bottle.route_for("api.anthropic.com").header == "x-api-key"
    assert bottle.route_for("api.openai.com") is None


@pytest.mark.parametrize("config, message", [
    (_config(allowed=[]), "bottle 'dev': unknown field(s) allowed"),
    (_config(allow=["ok.com", "*foo"]), "bottle 'dev': field 'allow' (agent_egress_allow) entry 1 '*foo'"),
    (_config(allow="a.com"), "bottle 'dev': field 'allow' must be a list"),
    (_config(routes=[{"header": "x-api-key", "credential_path": "/k"}]), "bottle 'dev': routes[0]: field 'host' is missing"),
    (_config(routes=[_route(Path("/k"), host="https://x.com")]), "bottle 'dev': routes[0]: field 'host' has a scheme"),
    (_config(routes=[_route(Path("/k"), header="")]), "bottle 'dev': route 'api.anthropic.com': field 'header'"),
    (_config(routes=[_route(Path("/k"), credential_source="env")]), "field 'credential_source' must be one of"),
    (_config(routes=[{"host": "a.com", "header": "x-api-key", "credential_path": "/k"}]),
     "route 'a.com': field 'value_prefix' is missing"),
    (_config(routes=[_route(Path("k"))]), "field 'credential_path' must be an absolute path"),
    (_config(routes=[_route(Path("/k"), credential_source="json_file")]), "field 'credential_pointer' must be a JSON pointer"),
    (_config(routes=[_route(Path("/k"), tls_passthrough="yes")]), "field 'tls_passthrough' must be true or false"),
    (_config(routes=[_route(Path("/k"), extra=1)]), "routes[0]: unknown field(s) extra"),
    (_config(routes=[_route(Path("/k")), _route(Path("/j"))]), "route 'api.anthropic.com' is listed twice"),
    ({"bottles": {"dev": {"proxy_password_sha256": "abc"}}}, "bottle 'dev': field 'proxy_password_sha256'"),
    ({"bottles": {"a:b": {"proxy_password_sha256": SHA}}}, "without ':'"),
    ({"bottles": {}, "proxies": 1}, "config: unknown field(s) proxies"),
    ({"bottles": {}, "upstream_override": {"api.x.com": "localhost:1"}}, "upstream_override 'api.x.com'"),
    ([], "must be a JSON object"),
])
def test_config_errors_name_bottle_and_field(config: t.Any, message: str) -> None:
    with pytest.raises(egress.ConfigError) as error:
        egress.parse_config(config)
    assert message in str(error.value)


def test_upstream_override_parsed() -> None:
    config = egress.parse_config({"bottles": {}, "upstream_override": {"API.x.com": "127.0.0.1:8443", "b": "[::1]:1"}})
    assert config.upstream_override == {"api.x.com": ("127.0.0.1", 8443), "b": ("::1", 1)}


def test_load_config_errors(tmp_path: Path) -> None:
    with pytest.raises(egress.ConfigError, match="cannot read"):
        egress.load_config(str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(egress.ConfigError, match="not valid JSON"):
        egress.load_config(str(tmp_path / "bad.json"))


def test_read_secret_from_file_and_json_pointer(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("  sk-file \n")
    route = egress.parse_config(_config(routes=[_route(tmp_path / "k")])).bottles["dev"].route_for("api.anthropic.com")
    assert egress.read_secret(route) == "sk-file"
    (tmp_path / "j").write_text(json.dumps({"a/b": [{"t~k": "sk-json"}]}))
    pointed = route._replace(credential_source="json_file", credential_path=str(tmp_path / "j"),
                             credential_pointer="/a~1b/0/t~0k")
    assert egress.read_secret(pointed) == "sk-json"


@pytest.mark.parametrize("content, pointer, message", [
    (None, "", "cannot read"),
    ("{not json", "/a", "is not valid JSON"),
    (json.dumps({"a": {"b": "SECRET-VALUE"}}), "/a/c", "JSON pointer /a/c leads nowhere"),
    (json.dumps({"a": "SECRET-VALUE"}), "/a/0", "leads nowhere"),
    (json.dumps({"a": ""}), "/a", "empty or not a string"),
    (json.dumps({"a": {"SECRET-VALUE": 1}}), "/a", "empty or not a string"),
    (json.dumps({"a": "SECRET\nVALUE"}), "/a", "several lines"),
])
def test_credential_errors_name_the_file_never_the_value(tmp_path: Path, content: str | None, pointer: str,
                                                         message: str) -> None:
    path = tmp_path / "cred.json"
    if content is not None:
        path.write_text(content)
    route = egress.Route("api.x.com", "authorization", "json_file", str(path), pointer)
    with pytest.raises(egress.CredentialError) as error:
        egress.read_secret(route)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "SECRET" not in str(error.value)


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("header, bottle", [
    (_basic("dev:pw"), "dev"),
    ("basic " + base64.b64encode(b"dev:pw").decode(), "dev"),
    (_basic("dev:pw2"), None),
    (_basic("dev"), None),
    (_basic("nobody:pw"), None),
    ("Bearer pw", None),
    ("Basic !!!", None),
    ("", None),
    (None, None),
])
def test_authenticate(header: str | None, bottle: str | None) -> None:
    config = egress.parse_config(_config())
    found = egress.authenticate(config, header)
    assert (found.name if found else None) == bottle


@pytest.mark.parametrize("authority, expected", [
    ("api.x.com", ("api.x.com", None)),
    ("API.X.com.:443", ("api.x.com", 443)),
    ("[::1]:8443", ("::1", 8443)),
    ("api.x.com:abc", ("api.x.com:abc", None)),
])
def test_split_authority(authority: str, expected: tuple[str, int | None]) -> None:
    assert egress.split_authority(authority) == expected


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ADDON), "check", str(path)], capture_output=True, text=True, check=False)


def test_check_cli_accepts_a_good_config(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("sk-1\n")
    (tmp_path / "j").write_text(json.dumps({"tokens": {"access_token": "tok"}}))
    routes = [_route(tmp_path / "k"), _route(tmp_path / "j", host="api.openai.com", header="authorization",
                                             credential_source="json_file", credential_pointer="/tokens/access_token")]
    (tmp_path / "c.json").write_text(json.dumps(_config(routes=routes, allow=["*.npmjs.org"])))
    done = _check(tmp_path / "c.json")
    assert done.returncode == 0, done.stderr
    assert "is valid" in done.stdout


def test_check_cli_names_bottle_route_and_file(tmp_path: Path) -> None:
    (tmp_path / "j").write_text(json.dumps({"tokens": {"other": "SECRET-VALUE"}}))
    routes = [_route(tmp_path / "missing.key"),
              _route(tmp_path / "j", host="api.openai.com", credential_source="json_file",
                     credential_pointer="/tokens/access_token")]
    (tmp_path / "c.json").write_text(json.dumps(_config(routes=routes)))
    done = _check(tmp_path / "c.json")
    assert done.returncode == 1
    assert f"bottle 'dev': route 'api.anthropic.com': cannot read {tmp_path / 'missing.key'}" in done.stderr
    assert f"bottle 'dev': route 'api.openai.com': {tmp_path / 'j'}: JSON pointer /tokens/access_token" in done.stderr
    assert "SECRET" not in done.stderr + done.stdout


def test_check_cli_reports_config_errors(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(_config(allow=["a*.b"])))
    done = _check(tmp_path / "c.json")
    assert done.returncode == 1 and "bottle 'dev': field 'allow'" in done.stderr
