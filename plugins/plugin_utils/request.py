# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one validated request for a bottle: every option checked once, here, before any write.

``REQUEST_SPEC`` is the argument spec both planning modules share (their docs come from the
``bot_bottle.agents.request`` doc fragment). ``ProvisionRequest.from_options`` turns checked
arguments into the request a provider builds from; a ``ProvisionError`` names the option to fix,
and ``role_variable`` turns that into the role variable a role user set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import tempfile
import typing as t
import urllib.parse

import yaml

from ansible_collections.bot_bottle.agents.plugins.doc_fragments.request import ModuleDocFragment
from ansible_collections.bot_bottle.agents.plugins.module_utils.configedit import BLOCK_BEGIN, BLOCK_END

DEFAULT_GUEST_HOME = "/home/node"
DEFAULT_OWNER = "node:node"
DEFAULT_MCP_NAME = "supervise"

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MCP_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_OWNER = re.compile(r"^[a-z_][a-z0-9_.-]*:[a-z_][a-z0-9_.-]*$", re.IGNORECASE)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ProvisionError(ValueError):
    """Bad input; ``option`` names the option the user must fix (``mcp_servers[x].url`` for parts)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.detail = message


def _spec_from_doc(options: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """An argument spec from documented options: the doc fragment is the one declaration of each option."""
    spec: dict[str, dict[str, t.Any]] = {}
    for name, doc in options.items():
        entry = {key: doc[key] for key in ("type", "required", "default", "choices", "elements") if key in doc}
        if "suboptions" in doc:
            entry["options"] = _spec_from_doc(doc["suboptions"])
        spec[name] = entry
    return spec


REQUEST_SPEC = _spec_from_doc(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
MCP_SERVER_SPEC = REQUEST_SPEC["mcp_servers"]["options"]
# Docs carry no no_log: the secret options are named here (and bearer_token_env_var, a name, is not one).
REQUEST_SPEC["auth_token"]["no_log"] = True
MCP_SERVER_SPEC["headers"]["no_log"] = True
MCP_SERVER_SPEC["env"]["no_log"] = True
MCP_SERVER_SPEC["bearer_token_env_var"]["no_log"] = False

# What a role user set for each option: through the agent role, option ``x`` is variable ``agent_x``.
ROLE_VARIABLES = {name: f"agent_{name}" for name in REQUEST_SPEC}
# The supervise server has role variables of its own (agent_supervise_*), folded into mcp_servers.
SUPERVISE_VARIABLES = {"url": "agent_supervise_url", "headers": "agent_supervise_headers",
                       "bearer_token_env_var": "agent_supervise_bearer_token_env_var"}
ROLE_VARIABLES.update({f"mcp_servers[{DEFAULT_MCP_NAME}].{field}": variable
                       for field, variable in SUPERVISE_VARIABLES.items()})


def role_variable(option: str) -> str:
    """The role variable behind a module option: ``skills`` -> ``agent_skills``."""
    if option in ROLE_VARIABLES:
        return ROLE_VARIABLES[option]
    base = re.split(r"[\[.]", option, maxsplit=1)[0]
    return ROLE_VARIABLES.get(base, base) + option[len(base):]


@dataclasses.dataclass(frozen=True)
class McpServer:
    """An MCP server the agent should (``present``) or should no longer (``absent``) know: HTTP
    (``url``) or stdio (``command``, started by the agent in the bottle)."""

    name: str
    url: str = ""
    headers: t.Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    bearer_token_env_var: str = ""
    state: str = "present"
    command: str = ""
    args: tuple[str, ...] = ()
    env: t.Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def stdio(self) -> bool:
        return bool(self.command)

    @classmethod
    def checked(cls, data: t.Mapping[str, t.Any], option: str = "") -> "McpServer":
        """The server described by ``data``; errors name ``option[name].field`` (``field`` alone without option)."""
        name = data.get("name") or DEFAULT_MCP_NAME

        def label(field: str) -> str:
            return f"{option}[{name}].{field}" if option else field

        if not _MCP_NAME.match(name):
            raise ProvisionError(option or "name", f"name {name!r} must be letters, digits, '_' or '-'")
        server = cls(name, data.get("url") or "", dict(data.get("headers") or {}),
                     data.get("bearer_token_env_var") or "", data.get("state") or "present",
                     data.get("command") or "", tuple(str(a) for a in data.get("args") or ()),
                     {str(k): str(v) for k, v in (data.get("env") or {}).items()})
        if server.state == "present":
            _check_transport(server, label)
        if server.bearer_token_env_var and not _ENV_NAME.match(server.bearer_token_env_var):
            raise ProvisionError(label("bearer_token_env_var"),
                                 f"{server.bearer_token_env_var!r} is not an environment variable name")
        for env_name in server.env:
            if not _ENV_NAME.match(env_name):
                raise ProvisionError(label("env"), f"{env_name!r} is not an environment variable name")
        return server


def _check_transport(server: McpServer, label: t.Callable[[str], str]) -> None:
    """An HTTP server has a URL (and may have headers); a stdio server a command, and no URL."""
    if not server.stdio:
        if server.args or server.env:
            raise ProvisionError(label("command"), "args and env are for a stdio server: give its command too")
        check_url(label("url"), server.url)
        return
    if server.url:
        raise ProvisionError(label("url"), "give url (an HTTP server) or command (a stdio server), not both")
    if server.headers or server.bearer_token_env_var:
        raise ProvisionError(label("headers"), "headers and bearer_token_env_var are for an HTTP server; "
                                               "a stdio server takes env")


_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@dataclasses.dataclass(frozen=True)
class Platform:
    """A cloud platform serving the provider's models (``bedrock``, ``vertex``)."""

    name: str
    region: str
    project: str = ""

    @classmethod
    def checked(cls, data: t.Mapping[str, t.Any]) -> "Platform | None":
        if not any(data.values()):  # unset (argument validation fills in the suboptions)
            return None
        platform = cls(str(data.get("name") or ""), str(data.get("region") or ""), str(data.get("project") or ""))
        if platform.name not in ("bedrock", "vertex"):
            raise ProvisionError("platform.name", f"{platform.name!r} is not a platform; use bedrock or vertex")
        if not _REGION.match(platform.region):
            raise ProvisionError("platform.region", f"{platform.region!r} is not a region name such as us-east-1")
        if platform.name == "vertex" and not platform.project:
            raise ProvisionError("platform.project", "Vertex needs the Google Cloud project that serves the model")
        return platform


@dataclasses.dataclass(frozen=True)
class Marketplace:
    """A plugin marketplace directory on the controller (``.claude-plugin/marketplace.json``) and
    the plugins of it to enable; only plugins inside the directory (installed offline)."""

    name: str
    root: str
    # plugin name -> its directory, relative to root
    plugins: t.Mapping[str, str]
    enabled: tuple[str, ...]

    MANIFEST: t.ClassVar[str] = ".claude-plugin/marketplace.json"

    def files(self) -> dict[str, tuple[bytes, str]]:
        return tree_files("plugins", self.root, f"marketplace {self.name!r}")

    @classmethod
    def checked(cls, data: t.Mapping[str, t.Any], index: int) -> "Marketplace":
        option = f"plugins[{index}]"
        root = os.path.realpath(os.path.expanduser(str(data.get("marketplace") or "")))
        manifest = os.path.join(root, cls.MANIFEST)
        if not os.path.isfile(manifest):
            raise ProvisionError(f"{option}.marketplace", f"{data.get('marketplace')!r} is not a plugin marketplace "
                                                          f"directory on the controller (no {cls.MANIFEST} in it)")
        try:
            listing = json.loads(read_controller_file(f"{option}.marketplace", manifest))
            name = listing["name"]
            entries = listing["plugins"]
        except (ValueError, KeyError, TypeError):
            raise ProvisionError(f"{option}.marketplace", f"{manifest} is not a marketplace manifest (JSON with "
                                                          "name and plugins)") from None
        if not isinstance(name, str) or not _PLAIN_NAME.match(name):
            raise ProvisionError(f"{option}.marketplace", f"{manifest}: name {name!r} is not a plain name")
        plugins = {str(entry.get("name")): _plugin_dir(option, root, entry) for entry in entries
                   if isinstance(entry, dict)}
        enabled = tuple(data.get("enable") or plugins)
        for plugin in enabled:
            if plugin not in plugins:
                raise ProvisionError(f"{option}.enable", f"{plugin!r} is not in marketplace {name!r} "
                                                         f"(it lists {', '.join(sorted(plugins)) or 'no plugin'})")
        return cls(name, root, plugins, enabled)


def _plugin_dir(option: str, root: str, entry: t.Mapping[str, t.Any]) -> str:
    """A listed plugin's directory inside the marketplace (a remote source cannot be installed offline)."""
    source = entry.get("source")
    name = entry.get("name")
    if not isinstance(name, str) or not _PLAIN_NAME.match(name):
        raise ProvisionError(f"{option}.marketplace", f"plugin name {name!r} is not a plain name")
    relative = os.path.normpath(source) if isinstance(source, str) else ""
    if not relative or os.path.isabs(relative) or relative.startswith("..") or \
            not os.path.isdir(os.path.join(root, relative)):
        raise ProvisionError(f"{option}.marketplace", f"plugin {name!r} has source {source!r}: only a directory "
                                                      "inside the marketplace ('./plugins/x') installs offline")
    return relative


@dataclasses.dataclass(frozen=True)
class Egress:
    """The bottle's way out: the proxy as the bottle reaches it, and its directory on the controller."""

    bottle: str  # the name the proxy knows the bottle by (its inventory name)
    url: str  # http://HOST:PORT, as the bottle reaches the proxy
    dir: str  # the egress role's directory: bottle-key, confdir/ (CA), bottles/ (registrations)
    password: str = dataclasses.field(repr=False)
    ca_pem: bytes = dataclasses.field(repr=False)
    allow: tuple[str, ...] = ()
    # The controller directories the proxy can read credential files from (empty: unknown).
    credential_dirs: tuple[str, ...] = ()

    def check_readable(self, path: str) -> None:
        """A route's credential file must be where the proxy container can read it."""
        if self.credential_dirs and not any(os.path.commonpath([path, d]) == d for d in self.credential_dirs):
            raise ProvisionError("egress", f"the egress proxy cannot read {path}: it reads credential files only under "
                                           f"{', '.join(self.credential_dirs)} (egress_credential_dirs of the egress role); "
                                           "put agent_state_dir there or add its directory to egress_credential_dirs")

    @property
    def host_port(self) -> tuple[str, int]:
        parsed = urllib.parse.urlparse(self.url)
        return parsed.hostname or "", parsed.port or 3128

    @property
    def proxy_url(self) -> str:
        """The URL with the bottle's proxy credentials, for HTTPS_PROXY in the bottle."""
        host, port = self.host_port
        return f"http://{self.bottle}:{self.password}@{host}:{port}"

    @property
    def registration_path(self) -> str:
        return os.path.join(self.dir, "bottles", f"{self.bottle}.json")

    @classmethod
    def checked(cls, data: t.Mapping[str, t.Any], allow: t.Sequence[str], bottle: str, docker: bool) -> "Egress":
        """``data``: ``dir`` and optionally ``url``; without it the URL the egress role published in
        ``dir``/proxy.json for this kind of bottle (``docker_url`` on its network, else ``published_url``)."""
        directory = os.path.expanduser(data.get("dir") or "")
        url = data.get("url") or _published(directory, data).get("docker_url" if docker else "published_url") or ""
        parsed = urllib.parse.urlparse(url)
        if parsed.scheme != "http" or not parsed.hostname or parsed.username or parsed.path not in ("", "/"):
            raise ProvisionError("egress", f"url {url!r} is not http://HOST:PORT of the egress proxy "
                                           "(set it from the bot_bottle.agents.egress role's egress_proxy fact)")
        key_path = os.path.join(directory, "bottle-key")
        ca_path = data.get("ca_cert_path") or os.path.join(directory, "confdir", "mitmproxy-ca-cert.pem")
        if not directory or not os.path.isfile(key_path) or not os.path.isfile(ca_path):
            raise ProvisionError("egress", f"dir {directory!r} holds no egress proxy (bottle-key and its CA); "
                                           "run the bot_bottle.agents.egress role first and pass its egress_proxy fact")
        if not bottle or ":" in bottle or "/" in bottle:
            raise ProvisionError("egress", f"the bottle name {bottle!r} cannot name a proxy user (no ':' or '/')")
        for pattern in allow:
            if not _ALLOW_PATTERN.match(pattern):
                raise ProvisionError("egress_allow", f"{pattern!r} is not a host name or '*.suffix' pattern "
                                                     "(no scheme, port, path or other '*')")
        key = read_controller_file("egress", key_path).decode("ascii", "replace").strip()
        try:
            password = hmac.new(bytes.fromhex(key), bottle.encode(), hashlib.sha256).hexdigest()
        except ValueError:
            raise ProvisionError("egress", f"{key_path} is not a hex key; remove it and rerun the egress role") from None
        return cls(bottle, url.rstrip("/"), directory, password, read_controller_file("egress", ca_path),
                   tuple(dict.fromkeys(allow)), tuple(_published(directory, data).get("credential_dirs") or ()))


def _published(directory: str, data: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """The egress role's fact as given, else as it left it in ``dir``/proxy.json."""
    if data.get("docker_url") or data.get("published_url") or data.get("credential_dirs"):
        return data
    try:
        with open(os.path.join(directory, "proxy.json"), encoding="utf-8") as handle:
            published = json.load(handle)
    except (OSError, ValueError):
        return {}
    return published if isinstance(published, dict) else {}


_ALLOW_PATTERN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]*[a-z0-9])?$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class ProvisionRequest:
    """What the user asked for one agent in one bottle, checked."""

    provider: str
    state_dir: str
    dockerfile: str = ""
    guest_home: str = DEFAULT_GUEST_HOME
    owner: str = DEFAULT_OWNER
    guest_env: t.Mapping[str, str] = dataclasses.field(default_factory=dict)
    auth_token: str = dataclasses.field(default="", repr=False)
    # What auth_token is: ``auto`` lets the provider tell by its prefix.
    auth_kind: str = "auto"
    forward_host_credentials: bool = False
    credentials_in_guest: bool = False
    # Where the controller user's own logins are found (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME).
    controller_env: t.Mapping[str, str] = dataclasses.field(default_factory=dict, repr=False)
    trusted_project_path: str = ""
    skills: tuple[str, ...] = ()
    skills_root: str = ""
    prompt_file: str = ""
    mcp_servers: tuple[McpServer, ...] = ()
    egress: Egress | None = None
    # The model API instead of the provider's own (a gateway); the credential's route follows its host.
    base_url: str = ""
    # Merged into the agent's user settings / its root-owned managed settings.
    settings: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    managed_settings: t.Mapping[str, t.Any] = dataclasses.field(default_factory=dict)
    # The standing instructions (context or the text of context_file); empty removes them.
    context: str = ""
    plugins: tuple[Marketplace, ...] = ()
    platform: Platform | None = None

    @property
    def user(self) -> str:
        return self.owner.partition(":")[0]

    @property
    def workdir(self) -> str:
        """Where the agent starts: the trusted project, else the bottle user's home."""
        return self.trusted_project_path or self.guest_home

    @classmethod
    def from_options(cls, options: t.Mapping[str, t.Any], bottle: str = "", docker: bool = True) -> "ProvisionRequest":
        """Check every option (module argument types already applied) and build the request.

        ``bottle`` is the name the egress proxy knows the bottle by (its inventory name); ``docker``
        says whether it is a docker container (it reaches the proxy on the proxy's network).
        """
        from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import known_providers

        provider = options["provider"]
        if provider not in known_providers():
            raise ProvisionError(
                "provider", f"unknown provider {provider!r}; known providers: {', '.join(known_providers())}"
            )
        owner = checked_owner(options.get("owner") or DEFAULT_OWNER)
        controller_env = options.get("controller_env")
        request = cls(
            provider=provider,
            state_dir=_checked_state_dir(options.get("state_dir") or ""),
            dockerfile=options.get("dockerfile") or "",
            guest_home=_checked_abs("guest_home", options.get("guest_home") or DEFAULT_GUEST_HOME),
            owner=owner,
            guest_env=_checked_env(options.get("guest_env") or {}),
            auth_token=options.get("auth_token") or "",
            auth_kind=options.get("auth_kind") or "auto",
            forward_host_credentials=bool(options.get("forward_host_credentials")),
            credentials_in_guest=bool(options.get("credentials_in_guest")),
            controller_env=dict(os.environ if controller_env is None else controller_env),
            trusted_project_path=(
                _checked_abs("trusted_project_path", options["trusted_project_path"])
                if options.get("trusted_project_path") else ""
            ),
            skills=tuple(dict.fromkeys(options.get("skills") or ())),
            skills_root=options.get("skills_root") or "",
            prompt_file=options.get("prompt_file") or "",
            mcp_servers=_checked_mcp_servers(options.get("mcp_servers") or ()),
            egress=Egress.checked(options["egress"], options.get("egress_allow") or (), bottle, docker)
            if options.get("egress") else None,
            base_url=_checked_base_url(options.get("base_url") or "", bool(options.get("egress"))),
            settings=_checked_settings("settings", options.get("settings") or {}),
            managed_settings=_checked_settings("managed_settings", options.get("managed_settings") or {}),
            context=_checked_context(options.get("context") or "", options.get("context_file") or ""),
            plugins=_checked_marketplaces(options.get("plugins") or ()),
            platform=Platform.checked(options.get("platform") or {}),
        )
        if request.credentials_in_guest and not (request.auth_token or request.forward_host_credentials):
            raise ProvisionError(
                "credentials_in_guest", "needs auth_token or forward_host_credentials: there is no credential to place"
            )
        if request.prompt_file and not os.path.isfile(request.prompt_file):
            raise ProvisionError("prompt_file", f"{request.prompt_file} does not exist or is not a file on the controller")
        for name in request.skills:
            skill_files(request.skills_root, name)
        return request


def task_request(action: t.Any, task_vars: t.Mapping[str, t.Any]) -> ProvisionRequest:
    """The request a planning action's task makes: its arguments, checked against ``REQUEST_SPEC``.

    Through the agent role every option the task does not set comes from its role variable
    (``agent_<option>``), so a new option is declared in the doc fragment and the role's argument
    spec, not threaded through the role's task as well.
    """
    from ansible.errors import AnsibleActionFail
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    task = action._task
    arguments = dict(task.args)
    if _through_agent_role(task):
        arguments = dict(role_arguments(task_vars, action._templar.template), **arguments)
    validated = ArgumentSpecValidator(REQUEST_SPEC).validate(arguments)
    if validated.error_messages:
        raise AnsibleActionFail(validated.errors.msg)
    return ProvisionRequest.from_options(validated.validated_parameters, bottle=task_vars.get("inventory_hostname", ""),
                                         docker="docker" in action._connection.transport)


def role_arguments(role_vars: t.Mapping[str, t.Any], template: t.Callable[[t.Any], t.Any]) -> dict[str, t.Any]:
    """Module options from the agent role's variables: each ``agent_<option>`` that is defined.

    Refuses a string where a list or mapping is expected: role argument validation would have let
    ``agent_skills: review`` through as ``["review"]``.
    """
    def value(variable: str, option: str, kind: str) -> t.Any:
        found = template(role_vars[variable])
        if kind in ("list", "dict") and isinstance(found, str):
            raise ProvisionError(option, f"must be a YAML {'list' if kind == 'list' else 'mapping'}, not a string")
        return found

    arguments = {option: value(ROLE_VARIABLES[option], option, spec["type"])
                 for option, spec in REQUEST_SPEC.items() if ROLE_VARIABLES[option] in role_vars}
    supervise = {field: value(variable, f"mcp_servers[{DEFAULT_MCP_NAME}].{field}", MCP_SERVER_SPEC[field]["type"])
                 for field, variable in SUPERVISE_VARIABLES.items() if variable in role_vars}
    if supervise.get("url"):
        arguments["mcp_servers"] = [dict(supervise, name=DEFAULT_MCP_NAME), *arguments.get("mcp_servers", [])]
    return arguments


def checked_owner(owner: str) -> str:
    if not _OWNER.match(owner or ""):
        raise ProvisionError("owner", f"{owner!r} is not 'user:group' (e.g. node:node)")
    return owner


def error_result(task: t.Any, exc: ProvisionError) -> dict[str, t.Any]:
    """A failed task result naming what the user set: the role variable when the agent role ran it."""
    option = role_variable(exc.option) if _through_agent_role(task) else exc.option
    return {"failed": True, "msg": f"{option}: {exc.detail}", "option": option}


_COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _through_agent_role(task: t.Any) -> bool:
    role_path = getattr(getattr(task, "_role", None), "_role_path", "") or ""
    return bool(role_path) and os.path.realpath(role_path) == os.path.realpath(
        os.path.join(_COLLECTION_ROOT, "roles", "agent"))


def check_url(option: str, url: str) -> None:
    parsed = urllib.parse.urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ProvisionError(option, f"{url!r} is not an http(s) URL; use e.g. http://host.docker.internal:8811/mcp "
                                     "(or give command for a stdio server)")


def _checked_mcp_servers(servers: t.Iterable[t.Mapping[str, t.Any]]) -> tuple[McpServer, ...]:
    checked: dict[str, McpServer] = {}
    for data in servers:
        server = McpServer.checked(data, "mcp_servers")
        if server.name in checked:
            raise ProvisionError("mcp_servers", f"name {server.name!r} is listed twice; give each server its own name")
        checked[server.name] = server
    return tuple(checked.values())


def _checked_marketplaces(entries: t.Sequence[t.Mapping[str, t.Any]]) -> tuple[Marketplace, ...]:
    marketplaces: dict[str, Marketplace] = {}
    for index, data in enumerate(entries):
        marketplace = Marketplace.checked(data, index)
        if marketplace.name in marketplaces:
            raise ProvisionError(f"plugins[{index}].marketplace", f"marketplace {marketplace.name!r} is listed twice")
        marketplaces[marketplace.name] = marketplace
    return tuple(marketplaces.values())


def _checked_base_url(url: str, egress: bool) -> str:
    if not url:
        return ""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ProvisionError("base_url", f"{url!r} is not an http(s) URL; use e.g. https://llm-gateway.example.com")
    if parsed.username or parsed.password:
        raise ProvisionError("base_url", "must not hold credentials; give the credential as auth_token "
                                         "(the egress proxy adds it)")
    if egress and parsed.scheme != "https":
        raise ProvisionError("base_url", f"{url!r} is plain http: the egress proxy would send the real credential "
                                         "in clear text; use https")
    return url.rstrip("/")


def _checked_settings(option: str, settings: t.Mapping[str, t.Any], path: str = "") -> dict[str, t.Any]:
    """A settings mapping with string keys all the way down (YAML allows others; agent configs do not)."""
    if not isinstance(settings, t.Mapping):
        raise ProvisionError(option + path, "must be a mapping of settings keys to values")
    checked: dict[str, t.Any] = {}
    for key, value in settings.items():
        if not isinstance(key, str) or not key:
            raise ProvisionError(option + path, f"key {key!r} is not a non-empty string; quote it in YAML")
        checked[key] = _checked_settings(option, value, f"{path}.{key}") if isinstance(value, t.Mapping) else value
    return checked


def _checked_context(text: str, path: str) -> str:
    """The standing instructions: ``text``, or the content of the controller file ``path``."""
    if text and path:
        raise ProvisionError("context_file", "give the instructions as context or as context_file, not both")
    option = "context"
    if path:
        option = "context_file"
        if not os.path.isfile(path):
            raise ProvisionError(option, f"{path} does not exist or is not a file on the controller")
        try:
            text = read_controller_file(option, path).decode("utf-8")
        except UnicodeDecodeError:
            raise ProvisionError(option, f"{path} is not UTF-8 text") from None
    if BLOCK_BEGIN in text or BLOCK_END in text:
        raise ProvisionError(option, "holds the collection's block marker lines; remove them")
    return text


def _checked_env(env: t.Mapping[str, t.Any]) -> dict[str, str]:
    for name in env:
        if not _ENV_NAME.match(str(name)):
            raise ProvisionError("guest_env", f"{name!r} is not an environment variable name")
    return {str(k): str(v) for k, v in env.items()}


def _checked_abs(option: str, path: str) -> str:
    if not path or not os.path.isabs(path):
        raise ProvisionError(option, f"must be an absolute path, got {path!r}")
    return os.path.normpath(path)


def _checked_state_dir(state_dir: str) -> str:
    if not state_dir:
        raise ProvisionError("state_dir", "is required: a per-bottle directory on the controller")
    path = _checked_abs("state_dir", state_dir)
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ProvisionError("state_dir", f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK) or not _can_create_in(existing):
        raise ProvisionError("state_dir", f"{existing} is not writable; choose a directory you own")
    return path


def _can_create_in(directory: str) -> bool:
    """Whether a directory can really be created there (root passes os.access on /proc too)."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".bot-bottle-probe-", dir=directory))
    except OSError:
        return False
    return True


# -- controller files the request names -----------------------------------------------------


def read_controller_file(option: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ProvisionError(option, f"cannot read {path} on the controller ({exc.strerror})") from None


def skill_files(skills_root: str, name: str) -> dict[str, tuple[bytes, str]]:
    """The files of one skill directory (relative path -> content, mode), kept inside ``skills_root``."""
    if not _PLAIN_NAME.match(name) or name in (".", ".."):
        raise ProvisionError("skills", f"{name!r} is not a plain skill name (letters, digits, . _ -; no '/' or '..')")
    if not skills_root:
        raise ProvisionError("skills_root", "is required when skills are listed: the controller directory holding them")
    root = os.path.realpath(skills_root)
    skill_dir = os.path.realpath(os.path.join(skills_root, name))
    if os.path.dirname(skill_dir) != root:
        raise ProvisionError("skills", f"skill {name!r} resolves outside skills_root {skills_root} (symlink?)")
    if not os.path.isdir(skill_dir):
        raise ProvisionError("skills", f"skill {name!r} not found: {skill_dir} is not a directory under skills_root")
    if not os.path.isfile(os.path.join(skill_dir, "SKILL.md")):
        raise ProvisionError("skills", f"skill {name!r} has no SKILL.md in {skill_dir}")
    return tree_files("skills", skill_dir, f"skill {name!r}")


def tree_files(option: str, directory: str, what: str) -> dict[str, tuple[bytes, str]]:
    """Every file under the controller ``directory`` (relative path -> content, mode); none may link out."""
    directory = os.path.realpath(directory)
    files: dict[str, tuple[bytes, str]] = {}
    for dirpath, _dirs, filenames in os.walk(directory, followlinks=False):
        for filename in filenames:
            full = os.path.join(dirpath, filename)
            real = os.path.realpath(full)
            if not real.startswith(directory + os.sep):
                raise ProvisionError(option, f"{full} in {what} links outside its directory")
            mode = "700" if os.access(real, os.X_OK) else "600"
            files[os.path.relpath(full, directory)] = (read_controller_file(option, real), mode)
    return files
