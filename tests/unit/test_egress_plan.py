"""What a bottle behind the egress proxy gets: proxy env, the CA, its registration, the TLS check."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (
    PLACEHOLDER_TOKEN,
    get_provider,
    known_providers,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import ProvisionError, ProvisionRequest

KEY = "11" * 32
CA = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture
def egress_dir(tmp_path):
    directory = tmp_path / "egress"
    (directory / "confdir").mkdir(parents=True)
    (directory / "bottle-key").write_text(KEY + "\n")
    (directory / "confdir" / "mitmproxy-ca-cert.pem").write_bytes(CA)
    return directory


def build(provider, tmp_path, egress_dir, bottle="bottle-1", **options):
    options.setdefault("state_dir", str(tmp_path / "state"))
    options.setdefault("controller_env", {"HOME": str(tmp_path / "home")})
    options.setdefault("egress", {"dir": str(egress_dir), "docker_url": "http://bot-bottle-egress:3128"})
    request = ProvisionRequest.from_options({"provider": provider, **options}, bottle=bottle)
    return get_provider(provider).build(request)


def password(bottle="bottle-1"):
    return hmac.new(bytes.fromhex(KEY), bottle.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("provider", known_providers())
def test_the_bottle_goes_out_through_the_proxy_with_its_own_credentials(provider, tmp_path, egress_dir):
    plan = build(provider, tmp_path, egress_dir, auth_token="sk-real", egress_allow=["*.npmjs.org"],
                 mcp_servers=[{"url": "http://host.docker.internal:8811/mcp"}])
    url = f"http://bottle-1:{password()}@bot-bottle-egress:3128"
    assert {plan.guest_env[k] for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")} == {url}
    assert plan.guest_env["NO_PROXY"] == "localhost,127.0.0.1,::1,host.docker.internal"
    (ca,) = [f for f in plan.files if f.guest_path.endswith("/egress-ca.pem")]
    assert ca.content == CA and ca.owner == "node:node"
    ca_envs = [k for k, v in plan.guest_env.items() if v == ca.guest_path]
    assert ca_envs == list(get_provider(provider).ca_env_names) and ca_envs
    path, content = plan.egress_registration
    assert path == str(egress_dir / "bottles" / "bottle-1.json")
    registration = json.loads(content)
    assert registration["proxy_password_sha256"] == hashlib.sha256(password().encode()).hexdigest()
    assert registration["allow"] == ["*.npmjs.org"]
    assert registration["routes"] == [r.to_dict() for r in plan.egress_routes] and registration["routes"]
    assert "sk-real" not in content.decode()


@pytest.mark.parametrize("provider", known_providers())
def test_the_tls_check_names_each_route_host_and_no_report_shows_the_password(provider, tmp_path, egress_dir):
    plan = build(provider, tmp_path, egress_dir, auth_token="sk-real")
    check = plan.checks[-1]
    hosts = [r.host for r in plan.egress_routes]
    assert check.argv[-len(hosts):] == tuple(hosts) and "bot-bottle-egress" in check.argv
    assert "through the egress proxy http://bot-bottle-egress:3128" in check.error
    report = json.dumps([plan.to_dict(), plan.summary()])
    assert password() not in report and "********" in report


def test_no_egress_no_proxy(tmp_path, egress_dir):
    plan = build("codex", tmp_path, egress_dir, egress={})
    assert "HTTPS_PROXY" not in plan.guest_env and plan.egress_registration is None
    assert len(plan.checks) == 1


def test_codex_keeps_the_proxy_env_for_the_commands_it_runs(tmp_path, egress_dir):
    import tomllib
    plan = build("codex", tmp_path, egress_dir)
    (config,) = [f for f in plan.files if f.guest_path.endswith("/config.toml") and not f.record]
    assert tomllib.loads(config.content.decode())["shell_environment_policy"] == {"inherit": "all"}


@pytest.mark.parametrize("token, kind, env, header, prefix", [
    ("sk-ant-api03-REAL", "auto", "ANTHROPIC_API_KEY", "x-api-key", ""),
    ("sk-ant-oat01-REAL", "auto", "CLAUDE_CODE_OAUTH_TOKEN", "Authorization", "Bearer "),
    ("opaque-key", "api_key", "ANTHROPIC_API_KEY", "x-api-key", ""),
    ("sk-ant-api03-REAL", "oauth", "CLAUDE_CODE_OAUTH_TOKEN", "Authorization", "Bearer "),
])
def test_claude_credential_kinds(token, kind, env, header, prefix, tmp_path, egress_dir):
    plan = build("claude", tmp_path, egress_dir, auth_token=token, auth_kind=kind)
    assert plan.guest_env[env] == PLACEHOLDER_TOKEN and plan.hidden_env_names == (env,)
    (route,) = plan.egress_routes
    assert (route.header, route.value_prefix) == (header, prefix)
    state = json.loads(next(f for f in plan.files if f.guest_path.endswith("/.claude.json")).content)
    if env == "ANTHROPIC_API_KEY":  # no "use this API key?" dialog for the placeholder it holds
        assert state["customApiKeyResponses"]["approved"] == [PLACEHOLDER_TOKEN[-20:]]
    else:
        assert "customApiKeyResponses" not in state


def test_claude_api_key_in_guest_is_approved_by_its_own_tail(tmp_path, egress_dir):
    plan = build("claude", tmp_path, egress_dir, auth_token="sk-ant-api03-0123456789abcdefghijKLMN",
                 credentials_in_guest=True, egress={})
    (secret,) = [f for f in plan.files if f.secret]
    assert secret.content == b"ANTHROPIC_API_KEY=sk-ant-api03-0123456789abcdefghijKLMN\n"
    state = json.loads(next(f for f in plan.files if f.guest_path.endswith("/.claude.json")).content)
    assert state["customApiKeyResponses"]["approved"] == ["3456789abcdefghijKLMN"[-20:]]


@pytest.mark.parametrize("options, message", [
    ({"egress": {"dir": "/nonexistent", "url": "http://p:3128"}}, "egress: dir '/nonexistent' holds no egress proxy"),
    ({"egress": {"url": "https://p:3128"}}, "egress: url 'https://p:3128' is not http://HOST:PORT"),
    ({"egress": {"url": "http://u:pw@p:3128"}}, "is not http://HOST:PORT"),
    ({"egress_allow": ["https://example.com"]}, "egress_allow: 'https://example.com' is not a host name"),
    ({"egress_allow": ["a*.example.com"]}, "egress_allow: 'a\\*.example.com' is not a host name"),
])
def test_bad_egress_input_names_the_option(options, message, tmp_path, egress_dir):
    if "egress" in options and "dir" not in options["egress"]:
        options["egress"]["dir"] = str(egress_dir)
    with pytest.raises(ProvisionError, match=message):
        build("claude", tmp_path, egress_dir, **options)


@pytest.mark.parametrize("docker, expected", [(True, "http://bot-bottle-egress:3128"), (False, "http://169.254.9.1:3129")])
def test_the_dir_alone_finds_the_url_for_the_kind_of_bottle(docker, expected, tmp_path, egress_dir):
    (egress_dir / "proxy.json").write_text(json.dumps(
        {"dir": str(egress_dir), "docker_url": "http://bot-bottle-egress:3128", "published_url": "http://169.254.9.1:3129"}))
    request = ProvisionRequest.from_options({"provider": "codex", "state_dir": str(tmp_path / "s"),
                                             "egress": {"dir": str(egress_dir)}}, bottle="b", docker=docker)
    assert request.egress.url == expected


def test_a_credential_the_proxy_cannot_read_fails_naming_where_it_reads(tmp_path, egress_dir):
    egress = {"dir": str(egress_dir), "docker_url": "http://p:3128", "credential_dirs": ["/srv/creds"]}
    with pytest.raises(ProvisionError, match=r"egress: the egress proxy cannot read .*/state/secrets/codex-api-key: "
                                             r"it reads credential files only under /srv/creds"):
        build("codex", tmp_path, egress_dir, auth_token="sk-x", egress=egress)
    egress["credential_dirs"] = [str(tmp_path)]
    assert build("codex", tmp_path, egress_dir, auth_token="sk-x", egress=egress).egress_routes


def test_a_plain_http_base_url_behind_the_proxy_is_refused(tmp_path, egress_dir):
    # The proxy would put the real credential on a clear-text request.
    with pytest.raises(ProvisionError, match="base_url: 'http://gw:4000' is plain http"):
        build("claude", tmp_path, egress_dir, auth_token="sk-real", base_url="http://gw:4000")
    plan = build("claude", tmp_path, egress_dir, auth_token="sk-real", base_url="https://gw")
    assert [r.host for r in plan.egress_routes] == ["gw"]
    # The gateway is reached through the proxy (which adds the credential), not around it.
    assert "gw" not in plan.guest_env["NO_PROXY"].split(",")
