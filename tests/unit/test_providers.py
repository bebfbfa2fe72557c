"""What each provider plugin plans, per auth mode, and the errors for bad input."""

from __future__ import annotations

import base64
import json
import os
import tomllib

import pytest
from agents import PROVIDERS
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import PLACEHOLDER_TOKEN, get_provider
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import (
    McpServer,
    ProvisionError,
    ProvisionRequest,
)

TOKEN = "sk-ant-oat01-REAL-SECRET-VALUE"

KNOWN = ", ".join(PROVIDERS)


def plan_for(provider, tmp_path, **options):
    options.setdefault("state_dir", str(tmp_path / "state"))
    options.setdefault("controller_env", {"HOME": str(tmp_path / "home")})
    return get_provider(provider).build(ProvisionRequest.from_options({"provider": provider, **options}))


def content(plan, guest_suffix):
    return next(f for f in plan.files if f.guest_path.endswith(guest_suffix)).content.decode()


def no_secret_anywhere(plan, secret=TOKEN):
    assert secret not in json.dumps(plan.to_dict())


def test_claude_runtime():
    rt = get_provider("claude").runtime
    assert (rt.command, rt.prompt_mode) == ("claude", "append_file")
    assert rt.bypass_args == ("--dangerously-skip-permissions",)
    assert rt.resume_args == ("--continue",)
    assert rt.remote_control_args == ("--remote-control",)


def test_codex_runtime():
    rt = get_provider("codex").runtime
    assert (rt.command, rt.prompt_mode) == ("codex", "read_prompt_file")
    assert rt.bypass_args == ("--dangerously-bypass-approvals-and-sandbox",)
    assert rt.resume_args == ("resume", "--last")


def test_claude_plan_removes_the_dialogs(tmp_path):
    plan = plan_for("claude", tmp_path, trusted_project_path="/work/repo")
    assert [d.guest_path for d in plan.dirs][:2] == ["/home/node/.claude", "/home/node/.claude/skills"]
    state = json.loads(content(plan, "/.claude.json"))
    assert state == {"hasCompletedOnboarding": True, "projects": {"/work/repo": {"hasTrustDialogAccepted": True}}}
    assert json.loads(content(plan, "/settings.json")) == {"skipDangerousModePermissionPrompt": True}
    assert all(f.merge == "json" for f in plan.files if "json" in f.guest_path), "claude rewrites these: merge"
    assert plan.guest_env["IS_SANDBOX"] == "1"
    assert plan.checks[0].argv == ("claude", "--version") and "@anthropic-ai/claude-code" in plan.checks[0].error
    assert plan.workdir == "/work/repo"
    assert plan.egress_routes == () and plan.hidden_env_names == ()


def test_claude_auth_token_stays_on_the_controller(tmp_path):
    plan = plan_for("claude", tmp_path, auth_token=TOKEN)
    assert plan.guest_env["CLAUDE_CODE_OAUTH_TOKEN"] == PLACEHOLDER_TOKEN
    assert plan.hidden_env_names == ("CLAUDE_CODE_OAUTH_TOKEN",)
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in plan.env_vars
    (route,) = plan.egress_routes
    assert (route.host, route.header, route.credential_source) == ("api.anthropic.com", "Authorization", "file")
    assert plan.controller_files[route.credential_path] == TOKEN.encode()
    assert route.credential_path.startswith(str(tmp_path / "state"))
    no_secret_anywhere(plan)


def test_claude_forwards_host_credentials_by_reference(tmp_path):
    creds = tmp_path / "home" / ".claude" / ".credentials.json"
    creds.parent.mkdir(parents=True)
    creds.write_text(json.dumps({"claudeAiOauth": {"accessToken": TOKEN, "refreshToken": "r"}}))
    plan = plan_for("claude", tmp_path, forward_host_credentials=True)
    (route,) = plan.egress_routes
    assert (route.credential_source, route.credential_path, route.credential_pointer) == (
        "json_file", str(creds), "/claudeAiOauth/accessToken")
    no_secret_anywhere(plan)


def test_claude_credentials_in_guest_is_a_secret_file(tmp_path):
    plan = plan_for("claude", tmp_path, auth_token=TOKEN, credentials_in_guest=True)
    (secret,) = [f for f in plan.files if f.secret]
    assert secret.mode == "600" and secret.content == f"CLAUDE_CODE_OAUTH_TOKEN={TOKEN}\n".encode()
    assert plan.env_files == (secret.guest_path,)
    assert plan.egress_routes == () and plan.controller_files == {}
    no_secret_anywhere(plan)


def test_codex_plan(tmp_path):
    plan = plan_for("codex", tmp_path, trusted_project_path="/work/repo")
    assert [d.guest_path for d in plan.dirs][:2] == ["/home/node/.codex", "/home/node/.codex/skills"]
    config = tomllib.loads(content(plan, "/config.toml"))
    assert config == {"projects": {"/work/repo": {"trust_level": "trusted"}}, "features": {"daemon_auto_start": False}}
    assert json.loads(content(plan, "/auth.json")) == {"auth_mode": "apikey", "OPENAI_API_KEY": PLACEHOLDER_TOKEN}
    assert plan.guest_env["CODEX_HOME"] == "/home/node/.codex"
    assert plan.checks[0].argv == ("codex", "--version")


def test_codex_forward_host_credentials_routes_both_hosts(tmp_path):
    header = base64.urlsafe_b64encode(b'{"alg":"RS256"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(json.dumps({"email": "me@example.com", "secret_claim": "x"}).encode()).rstrip(b"=").decode()
    auth = tmp_path / "home" / ".codex" / "auth.json"
    auth.parent.mkdir(parents=True)
    auth.write_text(json.dumps({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": {
        "id_token": f"{header}.{claims}.SIG-SECRET", "access_token": TOKEN, "refresh_token": "REFRESH-SECRET",
        "account_id": "acct-1"}, "last_refresh": "2026-11-01T00:00:00Z"}))
    plan = plan_for("codex", tmp_path, forward_host_credentials=True)
    assert [(r.host, r.tls_passthrough, r.credential_pointer) for r in plan.egress_routes] == [
        ("api.openai.com", True, "/tokens/access_token"), ("chatgpt.com", True, "/tokens/access_token")]
    guest_auth = json.loads(content(plan, "/auth.json"))
    assert guest_auth["auth_mode"] == "chatgpt"
    assert guest_auth["tokens"]["access_token"] == PLACEHOLDER_TOKEN
    assert guest_auth["tokens"]["account_id"] == "acct-1"
    for secret in (TOKEN, "REFRESH-SECRET", "SIG-SECRET", "secret_claim"):
        no_secret_anywhere(plan, secret)


@pytest.mark.parametrize("template, path", [("claude", ".claude/.credentials.json"), ("codex", ".codex/auth.json")])
def test_forward_host_credentials_missing_file(template, path, tmp_path):
    with pytest.raises(ProvisionError, match=f"forward_host_credentials: controller credential file .*{path} does not exist"):
        plan_for(template, tmp_path, forward_host_credentials=True)
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("template, path", [("claude", ".claude/.credentials.json"), ("codex", ".codex/auth.json")])
def test_forward_host_credentials_unparseable(template, path, tmp_path):
    creds = tmp_path / "home" / path
    creds.parent.mkdir(parents=True)
    creds.write_text("{not json")
    with pytest.raises(ProvisionError, match="forward_host_credentials: .* cannot be read as JSON"):
        plan_for(template, tmp_path, forward_host_credentials=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"state_dir": "relative/dir"}, "state_dir: must be an absolute path"),
        ({"state_dir": ""}, "state_dir: is required"),
        ({"state_dir": "/etc/hostname/state"}, "state_dir: /etc/hostname is not a directory"),
        ({"trusted_project_path": "work"}, "trusted_project_path: must be an absolute path"),
        ({"guest_home": "home/node"}, "guest_home: must be an absolute path"),
        ({"credentials_in_guest": True}, "credentials_in_guest: needs auth_token or forward_host_credentials"),
        ({"owner": "agent"}, "owner: 'agent' is not 'user:group'"),
        ({"guest_env": {"BAD NAME": "x"}}, "guest_env: 'BAD NAME' is not an environment variable name"),
        ({"skills": ["review"]}, "skills_root: is required when skills are listed"),
        ({"prompt_file": "/nonexistent/p.md"}, "prompt_file: /nonexistent/p.md does not exist"),
        ({"mcp_servers": [{"name": "s", "url": "ftp://x/mcp"}]}, r"mcp_servers\[s\].url: 'ftp://x/mcp' is not an http\(s\) URL"),
        ({"mcp_servers": [{"url": "http://a/"}, {"url": "http://b/"}]}, "mcp_servers: name 'supervise' is listed twice"),
        ({"mcp_servers": [{"name": "s", "url": "http://a/", "command": "srv"}]},
         r"mcp_servers\[s\].url: give url \(an HTTP server\) or command \(a stdio server\), not both"),
        ({"mcp_servers": [{"name": "s", "command": "srv", "headers": {"A": "b"}}]},
         r"mcp_servers\[s\].headers: headers and bearer_token_env_var are for an HTTP server"),
        ({"mcp_servers": [{"name": "s", "args": ["--x"]}]}, r"mcp_servers\[s\].command: args and env are for a stdio server"),
        ({"mcp_servers": [{"name": "s", "command": "srv", "env": {"A B": "1"}}]},
         r"mcp_servers\[s\].env: 'A B' is not an environment variable name"),
        ({"mcp_servers": [{"name": "s"}]}, r"mcp_servers\[s\].url: '' is not an http\(s\) URL.*or give command"),
        ({"provider": "nosuch"}, f"provider: unknown provider 'nosuch'; known providers: {KNOWN}"),
    ],
)
def test_bad_input_names_the_option(kwargs, message, tmp_path):
    with pytest.raises(ProvisionError, match=message):
        plan_for(kwargs.pop("provider", "claude"), tmp_path, **kwargs)


def test_state_dir_not_writable(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root may write anywhere
    with pytest.raises(ProvisionError, match="state_dir: .* is not writable; choose a directory you own"):
        plan_for("codex", tmp_path)


@pytest.mark.parametrize("template, config, key", [("claude", "/home/node/.claude.json", ("mcpServers", "supervise")),
                                                   ("codex", "/home/node/.codex/config.toml", ("mcp_servers", "supervise"))])
def test_mcp_entry_description(template, config, key):
    server = McpServer.checked({"url": "http://h:1/mcp", "bearer_token_env_var": "SUP_TOKEN"})
    reg = get_provider(template).mcp_entry(server, "/home/node", "node:node")
    assert (reg.config_path, reg.key_path) == (config, key)
    if template == "claude":
        assert reg.entry == {"type": "http", "url": "http://h:1/mcp", "headers": {"Authorization": "Bearer ${SUP_TOKEN}"}}
    else:
        assert reg.entry == {"url": "http://h:1/mcp", "bearer_token_env_var": "SUP_TOKEN"}


STDIO = {"name": "probe", "command": "python3", "args": ["/opt/probe.py", "--log", "/tmp/p.log"],
         "env": {"PROBE_TOKEN": "stdio-secret-2f7c"}}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_stdio_server_is_written_in_the_agents_own_format_and_its_env_is_never_reported(provider, tmp_path):
    plan = plan_for(provider, tmp_path, mcp_servers=[STDIO])
    (entry,) = plan.config_entries
    assert entry.key_path[-1] == "probe" and plan.summary()["mcp_servers"] == {"probe": entry.config_path}
    assert {k: entry.entry[k] for k in ("command", "args", "env")} == {k: STDIO[k] for k in ("command", "args", "env")}
    assert "url" not in entry.entry and "headers" not in entry.entry
    assert "stdio-secret-2f7c" not in json.dumps(plan.to_dict())
    # The env travels to the bottle in the no_log part of the module arguments only.
    (args,) = plan.guest_module_args()["config_entries"]
    assert "stdio-secret-2f7c" not in json.dumps(args["entry"]) and args["entry_secret"]["env"] == STDIO["env"]


# -- settings, managed policy and standing instructions -------------------------------------------


@pytest.mark.parametrize("provider, settings, option, message", [
    ("codex", {"features": {"daemon_auto_start": True}}, "settings.features.daemon_auto_start",
     "features.daemon_auto_start in /home/node/.codex/config.toml is set by the collection"),
    ("codex", {"mcp_servers": {"mine": {"url": "http://h"}}}, "settings.mcp_servers.mine.url",
     "mcp_servers in /home/node/.codex/config.toml is set by the collection (see SECURITY.md; MCP servers go in "
     "the mcp_servers option)"),
    ("gemini", {"security": {"auth": {"selectedType": "oauth-personal"}}}, "settings.security.auth.selectedType",
     "security.auth.selectedType in /home/node/.gemini/settings.json is set by the collection"),
    ("gemini", {"security": {}}, "settings.security", "security.auth.selectedType in"),
    ("codex", {"model": None}, "settings.model", "null has no TOML form"),
])
def test_settings_the_collection_owns_or_cannot_write_are_refused(provider, settings, option, message, tmp_path):
    with pytest.raises(ProvisionError) as caught:
        plan_for(provider, tmp_path, settings=settings)
    assert caught.value.option == option and message in caught.value.detail


@pytest.mark.parametrize("provider", PROVIDERS)
def test_settings_sit_beside_the_owned_keys_in_the_agents_settings_file(provider, tmp_path):
    plugin = get_provider(provider)
    path, fmt = plugin.settings_file("/home/node")
    plan = plan_for(provider, tmp_path, settings={"model": "m", "env": {"A": "1"}}, managed_settings={"p": [1]},
                    context="Be brief.")
    (settings,) = [f for f in plan.files if f.guest_path == path and f.record]
    parsed = tomllib.loads(settings.content.decode()) if fmt == "toml" else json.loads(settings.content)
    assert parsed == {"model": "m", "env": {"A": "1"}} and settings.merge == fmt
    assert settings.record == f"/home/node/.bot-bottle/{provider}/owned-settings.json"
    # Owned keys first: the settings merge comes after them (the bottle applies files in order).
    assert [f.guest_path for f in plan.files].index(path) < plan.files.index(settings)
    managed_path = plugin.managed_settings_file()[0]
    (managed,) = [f for f in plan.files if f.guest_path == managed_path]
    assert (managed.owner, managed.mode, managed.record) == (
        "root:root", "644", f"/var/lib/bot-bottle/{provider}/owned-managed-settings.json")
    assert {d.guest_path for d in plan.dirs} >= {os.path.dirname(managed_path), "/var/lib/bot-bottle"}
    (context,) = [f for f in plan.files if f.guest_path == plugin.context_path("/home/node")]
    assert (context.content, context.merge) == (b"Be brief.", "block")


def test_no_managed_settings_no_root_directories(tmp_path):
    plan = plan_for("claude", tmp_path)
    assert not [d for d in plan.dirs if d.owner == "root:root"]


@pytest.mark.parametrize("options, option, message", [
    ({"context": "a", "context_file": "/x"}, "context_file", "give the instructions as context or as context_file"),
    ({"context": "x\n<!-- END bot_bottle.agents -->\n"}, "context", "holds the collection's block marker lines"),
    ({"settings": {1: "x"}}, "settings", "key 1 is not a non-empty string"),
    ({"managed_settings": {"a": {"": 1}}}, "managed_settings.a", "key '' is not a non-empty string"),
])
def test_bad_settings_and_context_name_the_option(options, option, message, tmp_path):
    with pytest.raises(ProvisionError) as caught:
        plan_for("claude", tmp_path, **options)
    assert caught.value.option == option and message in caught.value.detail


def test_context_file_must_be_utf8_text(tmp_path):
    binary = tmp_path / "ctx.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProvisionError, match="context_file: .* is not UTF-8 text"):
        plan_for("claude", tmp_path, context_file=str(binary))
    text = tmp_path / "ctx.md"
    text.write_text("Always be kind.\n")
    plan = plan_for("claude", tmp_path, context_file=str(text))
    assert content(plan, "/.claude/CLAUDE.md") == "Always be kind.\n"


# -- another model API (a gateway): base_url --------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_credential_route_follows_the_base_url_host(provider, tmp_path):
    plugin = get_provider(provider)
    token = f"{'sk-ant-api03-' if provider == 'claude' else ''}real-key"
    default = plan_for(provider, tmp_path, auth_token=token)
    assert [r.host for r in default.egress_routes] == [plugin.api_host]
    gateway = plan_for(provider, tmp_path, auth_token=token, base_url="https://llm-gateway.example.com:8443/v1/")
    assert [r.host for r in gateway.egress_routes] == ["llm-gateway.example.com"]
    if plugin.base_url_env:
        assert gateway.guest_env[plugin.base_url_env] == "https://llm-gateway.example.com:8443/v1"
        assert plugin.base_url_env not in default.guest_env


def test_codex_reaches_a_base_url_through_a_model_provider_of_its_config(tmp_path):
    plan = plan_for("codex", tmp_path, auth_token="key", base_url="https://gw.example.com/v1")
    owned = [tomllib.loads(f.content.decode()) for f in plan.files if f.guest_path.endswith("/config.toml")
             and not f.record]
    provider = next(o for o in owned if "model_provider" in o)
    assert provider == {"model_provider": "bot-bottle", "model_providers": {"bot-bottle": {
        "name": "bot_bottle.agents base_url", "base_url": "https://gw.example.com/v1", "wire_api": "responses",
        "requires_openai_auth": True}}}
    # The user's settings may not pick another provider behind the collection's back.
    with pytest.raises(ProvisionError, match="model_provider in /home/node/.codex/config.toml is set by the collection"):
        plan_for("codex", tmp_path, auth_token="key", base_url="https://gw.example.com/v1",
                 settings={"model_provider": "openai"})


@pytest.mark.parametrize("options, message", [
    ({"base_url": "ftp://gw"}, "'ftp://gw' is not an http(s) URL"),
    ({"base_url": "https://user:pw@gw.example.com"}, "must not hold credentials"),
])
def test_bad_base_url_names_the_option(options, message, tmp_path):
    with pytest.raises(ProvisionError) as caught:
        plan_for("claude", tmp_path, **options)
    assert caught.value.option == "base_url" and message in caught.value.detail


def test_codex_base_url_with_a_forwarded_chatgpt_login_is_refused(tmp_path):
    auth = tmp_path / "home" / ".codex" / "auth.json"
    auth.parent.mkdir(parents=True)
    auth.write_text(json.dumps({"auth_mode": "chatgpt", "tokens": {"access_token": TOKEN}}))
    with pytest.raises(ProvisionError, match="base_url: a forwarded ChatGPT login talks to chatgpt.com"):
        plan_for("codex", tmp_path, forward_host_credentials=True, base_url="https://gw.example.com/v1")


# -- plugins from a marketplace directory ---------------------------------------------------------

MARKETPLACE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "marketplace")


def test_claude_knows_the_copied_marketplace_and_enables_its_plugins(tmp_path):
    plan = plan_for("claude", tmp_path, plugins=[{"marketplace": MARKETPLACE}], settings={"model": "m"})
    (tree,) = plan.trees
    assert tree.guest_path == "/home/node/.bot-bottle/claude/marketplaces/team-tools"
    assert "plugins/house-style/skills/commit-message/SKILL.md" in tree.files
    (settings,) = [f for f in plan.files if f.record.endswith("/owned-settings.json")]
    assert json.loads(settings.content) == {"model": "m", "enabledPlugins": {"house-style@team-tools": True},
                                            "extraKnownMarketplaces": {"team-tools": {"source": {
                                                "source": "directory", "path": tree.guest_path}}}}


def test_codex_gets_each_plugin_in_its_cache_and_enabled_in_config(tmp_path):
    plan = plan_for("codex", tmp_path, plugins=[{"marketplace": MARKETPLACE, "enable": ["house-style"]}])
    cache = next(t for t in plan.trees if "/plugins/cache/" in t.guest_path)
    assert cache.guest_path == "/home/node/.codex/plugins/cache/team-tools/house-style/local"
    assert sorted(cache.files) == [".claude-plugin/plugin.json", "skills/commit-message/SKILL.md"]
    (settings,) = [f for f in plan.files if f.record.endswith("/owned-settings.json")]
    assert tomllib.loads(settings.content.decode())["plugins"] == {"house-style@team-tools": {"enabled": True}}


@pytest.mark.parametrize("provider, options, option, message", [
    ("gemini", {"plugins": [{"marketplace": MARKETPLACE}]}, "plugins", "the gemini CLI takes no plugins"),
    ("claude", {"plugins": [{"marketplace": "/nonexistent"}]}, "plugins[0].marketplace", "is not a plugin marketplace"),
    ("claude", {"plugins": [{"marketplace": MARKETPLACE, "enable": ["nope"]}]}, "plugins[0].enable",
     "'nope' is not in marketplace 'team-tools' (it lists house-style)"),
    ("claude", {"plugins": [{"marketplace": MARKETPLACE}, {"marketplace": MARKETPLACE}]}, "plugins[1].marketplace",
     "listed twice"),
    ("claude", {"plugins": [{"marketplace": MARKETPLACE}],
                "settings": {"enabledPlugins": {"house-style@team-tools": False}}},
     "settings.enabledPlugins.house-style@team-tools", "is set by the plugins option"),
])
def test_bad_plugins_name_the_option(provider, options, option, message, tmp_path):
    with pytest.raises(ProvisionError) as caught:
        plan_for(provider, tmp_path, **options)
    assert caught.value.option == option and message in caught.value.detail


def test_a_plugin_outside_the_marketplace_is_refused(tmp_path):
    market = tmp_path / "m"
    (market / ".claude-plugin").mkdir(parents=True)
    (market / ".claude-plugin" / "marketplace.json").write_text(json.dumps(
        {"name": "m", "plugins": [{"name": "p", "source": {"source": "github", "repo": "o/r"}}]}))
    with pytest.raises(ProvisionError, match="only a directory inside the marketplace"):
        plan_for("claude", tmp_path, plugins=[{"marketplace": str(market)}])


# -- Claude on a cloud platform -------------------------------------------------------------------


@pytest.mark.parametrize("platform, env, host, secret", [
    ({"name": "bedrock", "region": "eu-west-1"}, {"CLAUDE_CODE_USE_BEDROCK": "1", "AWS_REGION": "eu-west-1"},
     "bedrock-runtime.eu-west-1.amazonaws.com", "claude-bedrock-api-key"),
    ({"name": "vertex", "region": "us-east5", "project": "p"},
     {"CLAUDE_CODE_USE_VERTEX": "1", "CLOUD_ML_REGION": "us-east5", "ANTHROPIC_VERTEX_PROJECT_ID": "p",
      "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1"}, "us-east5-aiplatform.googleapis.com", "claude-vertex-token"),
    ({"name": "vertex", "region": "global", "project": "p"}, {"CLOUD_ML_REGION": "global"},
     "aiplatform.googleapis.com", "claude-vertex-token"),
])
def test_claude_on_a_platform_routes_its_credential_to_the_platform(platform, env, host, secret, tmp_path):
    plan = plan_for("claude", tmp_path, auth_token=TOKEN, platform=platform)
    assert env.items() <= plan.guest_env.items()
    (route,) = plan.egress_routes
    assert (route.host, route.header, route.value_prefix) == (host, "Authorization", "Bearer ")
    assert route.credential_path.endswith(f"/secrets/{secret}")
    # Bedrock: the CLI sends the placeholder key itself; Vertex: no credential variable at all.
    hidden = ["AWS_BEARER_TOKEN_BEDROCK"] if platform["name"] == "bedrock" else []
    assert list(plan.hidden_env_names) == hidden and "ANTHROPIC_API_KEY" not in plan.guest_env
    no_secret_anywhere(plan)


def test_a_gateway_in_front_of_a_platform_takes_the_platform_base_url_variable(tmp_path):
    plan = plan_for("claude", tmp_path, auth_token=TOKEN, platform={"name": "bedrock", "region": "us-east-1"},
                    base_url="https://bedrock-gw.example.com")
    assert plan.guest_env["ANTHROPIC_BEDROCK_BASE_URL"] == "https://bedrock-gw.example.com"
    assert "ANTHROPIC_BASE_URL" not in plan.guest_env
    assert [r.host for r in plan.egress_routes] == ["bedrock-gw.example.com"]


@pytest.mark.parametrize("provider, options, option, message", [
    ("codex", {"platform": {"name": "bedrock", "region": "us-east-1"}}, "platform", "the codex CLI has no cloud platform"),
    ("claude", {"platform": {"name": "vertex", "region": "us-east5"}}, "platform.project", "needs the Google Cloud project"),
    ("claude", {"platform": {"name": "bedrock", "region": "US East"}}, "platform.region", "is not a region name"),
    ("claude", {"platform": {"region": "us-east-1"}}, "platform.name", "is not a platform"),
    ("claude", {"platform": {"name": "vertex", "region": "us-east5", "project": "p"}, "auth_token": "t",
                "credentials_in_guest": True}, "credentials_in_guest", "GOOGLE_APPLICATION_CREDENTIALS"),
])
def test_bad_platform_names_the_option(provider, options, option, message, tmp_path):
    with pytest.raises(ProvisionError) as caught:
        plan_for(provider, tmp_path, **options)
    assert caught.value.option == option and message in caught.value.detail
