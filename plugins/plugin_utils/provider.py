# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider plugins: the ``AgentProvider`` base, a lazy registry and the seed's three helpers.

A provider is one file ``contrib/<name>.py`` defining ``PROVIDER``. ``AgentProvider.build``
turns a checked request into the complete desired state of a bottle; a provider file fills in
only what differs between agents (its runtime row, its config files and credentials, where an
MCP entry lives) and may override the defaults here (how the prompt and a headless message
reach the agent, which checks prove the CLI runs). Nothing outside ``contrib`` names a provider.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import hashlib
import importlib
import json
import os
import pkgutil
import shlex
import typing as t
import urllib.parse

try:
    import tomlkit
except ImportError:  # reported when TOML settings are rendered, naming what to install
    tomlkit = None

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit
from ansible_collections.bot_bottle.agents.plugins.module_utils.fileops import atomic_write, read_bytes
from ansible_collections.bot_bottle.agents.plugins.plugin_utils import contrib
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.plan import (
    MERGE_BLOCK,
    MERGE_REPLACE,
    MESSAGE,
    PROMPT_APPEND_FILE,
    PROMPT_CONTEXT_FILE,
    PROMPT_MODES,
    PROMPT_READ_FILE,
    AgentProviderRuntime,
    AgentProvisionCommand,
    AgentProvisionDir,
    AgentProvisionFile,
    AgentProvisionPlan,
    AgentProvisionTree,
    ConfigEntry,
    EgressRoute,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import (
    Egress,
    McpServer,
    ProvisionError,
    ProvisionRequest,
    read_controller_file,
    skill_files,
)

# Our own files in the bottle live under ~/.bot-bottle/<provider>/ (a bottle may hold several agents).
BOTTLE_DIR = ".bot-bottle"
# Root's records of the managed settings keys the collection set, one directory per provider.
MANAGED_RECORD_DIR = "/var/lib/bot-bottle"
# The non-secret value a bottle sees wherever a real credential would be.
PLACEHOLDER_TOKEN = "bot-bottle-placeholder-not-a-secret"
VARIANTS = {"interactive": (False, False), "resume": (True, False), "headless": (False, True),
            "headless_resume": (True, True)}


@dataclasses.dataclass
class ProviderParts:
    """What a provider adds to the shared state: its files, env, credentials and egress routes."""

    request: ProvisionRequest
    files: list[AgentProvisionFile] = dataclasses.field(default_factory=list)
    # Directories of the provider's own beyond the agent, skills and launcher dirs (made before any file).
    dirs: list[AgentProvisionDir] = dataclasses.field(default_factory=list)
    env: dict[str, str] = dataclasses.field(default_factory=dict)
    hidden_env_names: list[str] = dataclasses.field(default_factory=list)
    egress_routes: list[EgressRoute] = dataclasses.field(default_factory=list)
    env_files: list[str] = dataclasses.field(default_factory=list)
    controller_files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    # Directories mirrored exactly (plugins), besides the skills.
    trees: list[AgentProvisionTree] = dataclasses.field(default_factory=list)

    def add_file(self, guest_path: str, content: bytes, merge: str = MERGE_REPLACE, secret: bool = False,
                 record: str = "") -> None:
        """A file for the bottle user (0600), merged into what is there unless ``replace``."""
        self.files.append(AgentProvisionFile(guest_path, content, self.request.owner, merge=merge, secret=secret,
                                             record=record))

    def add_dir(self, guest_path: str) -> None:
        """A directory for the bottle user (0700), made after the base directories."""
        self.dirs.append(AgentProvisionDir(guest_path, "700", self.request.owner))

    def add_tree(self, guest_path: str, files: t.Mapping[str, tuple[bytes, str]]) -> None:
        """A directory of the bottle user holding exactly ``files`` (its parent must be in the plan or exist)."""
        self.trees.append(AgentProvisionTree(guest_path, self.request.owner, dict(files)))

    def add_env_credential(self, env_name: str, secret: str, guest_env_file: str,
                           route: t.Callable[[], EgressRoute]) -> None:
        """A credential the agent reads from ``env_name``.

        With ``credentials_in_guest`` the real value goes in ``guest_env_file`` (a secret file the
        launcher sources); otherwise the bottle holds a placeholder and the egress proxy applies
        ``route()`` (called only then, so no controller secret is kept for an in-guest credential).
        """
        if self.request.credentials_in_guest:
            # Shell-quoted: the launcher sources the file with sh.
            self.add_file(guest_env_file, f"{env_name}={shlex.quote(secret)}\n".encode("utf-8"), secret=True)
            self.env_files.append(guest_env_file)
            return
        self.add_placeholder(env_name)
        self.egress_routes.append(route())

    def add_placeholder(self, env_name: str) -> None:
        """The guest sees a placeholder where the real credential would be (hidden from summaries)."""
        self.env[env_name] = PLACEHOLDER_TOKEN
        self.hidden_env_names.append(env_name)

    def add_controller_secret(self, name: str, secret: str) -> str:
        """A credential the egress proxy reads on the controller (0600); returns its path."""
        path = os.path.join(self.request.state_dir, "secrets", name)
        self.controller_files[path] = secret.encode("utf-8")
        return path


class AgentProvider(abc.ABC):
    """One agent CLI: its runtime row and what a bottle needs to run it."""

    runtime: t.ClassVar[AgentProviderRuntime]
    # The npm package that provides the CLI, named when the bottle cannot run it.
    package: t.ClassVar[str]
    # Env names through which the CLI trusts an extra CA file (the egress proxy's): each is set to
    # the CA's path in the bottle. Only the proxy's route hosts are intercepted, so tools the
    # agent runs against other allowed hosts keep the system store.
    ca_env_names: t.ClassVar[tuple[str, ...]] = ()
    # Where users of this CLI keep its credential on their own machine (the demo takes the first set).
    credential_env_names: t.ClassVar[tuple[str, ...]] = ()
    # The user's context file in config_dir, read in every session (standing instructions).
    context_file_name: t.ClassVar[str]
    # The provider's own model API host, where its credential goes unless base_url names another.
    api_host: t.ClassVar[str]
    # The env variable through which the CLI takes another model API's base URL ("": the provider
    # overrides add_base_url).
    base_url_env: t.ClassVar[str] = ""

    # -- what every provider defines ---------------------------------------------------

    @abc.abstractmethod
    def config_dir(self, guest_home: str) -> str:
        """The agent's own directory in the bottle (``~/.claude``, ``~/.codex``)."""

    @abc.abstractmethod
    def add_parts(self, parts: ProviderParts) -> None:
        """Add this agent's config files, env, credentials and routes (reads, never writes)."""

    @abc.abstractmethod
    def mcp_entry(self, server: McpServer, guest_home: str, owner: str) -> ConfigEntry:
        """Where and how an MCP server entry lives in this agent's own config (its key path ends with the name)."""

    @abc.abstractmethod
    def settings_file(self, guest_home: str) -> tuple[str, str]:
        """The user settings file ``settings`` merges into, and its format (``json`` or ``toml``)."""

    # -- defaults a provider may override ------------------------------------------------

    def skills_dir(self, guest_home: str) -> str:
        return f"{self.config_dir(guest_home)}/skills"

    def own_dir(self, guest_home: str) -> str:
        """Our files for this agent: the launcher (and by default the prompt and the proxy CA)."""
        return f"{guest_home}/{BOTTLE_DIR}/{self.runtime.provider}"

    def prompt_path(self, guest_home: str) -> str:
        """Where the prompt file goes (a provider whose CLI reads it from a place of its own moves it)."""
        return f"{self.own_dir(guest_home)}/prompt.md"

    def managed_settings_file(self) -> tuple[str, str] | None:
        """The CLI's system-wide settings file that wins over the user's, and its format (None: it has none)."""
        return None

    def default_api_host(self, request: ProvisionRequest) -> str:
        """The model API host without a base URL (a platform's endpoint for a provider that has platforms)."""
        return self.api_host

    def api_route_host(self, request: ProvisionRequest) -> str:
        """The host the credential's egress route is for: the base URL's, else the default API host."""
        return urllib.parse.urlparse(request.base_url).hostname or "" if request.base_url else self.default_api_host(request)

    def add_base_url(self, parts: ProviderParts) -> None:
        """Point the CLI at ``base_url`` (by default through ``base_url_env``)."""
        if parts.request.base_url:
            parts.env[self.base_url_env] = parts.request.base_url

    def add_platform(self, parts: ProviderParts) -> None:
        """Serve the models from ``request.platform`` (a cloud platform); a CLI without platforms refuses it."""
        if parts.request.platform is not None:
            raise ProvisionError("platform", f"the {self.runtime.provider} CLI has no cloud platform here; "
                                             "point it at another model API with base_url")

    def add_plugins(self, parts: ProviderParts) -> dict[str, t.Any]:
        """Place the plugins of ``request.plugins`` (trees) and return the settings keys enabling them.

        The keys are merged with the user's ``settings`` and recorded with them, so a plugin dropped
        from the list is disabled on the next run. A CLI without plugins refuses them.
        """
        if parts.request.plugins:
            raise ProvisionError("plugins", f"the {self.runtime.provider} CLI takes no plugins from a marketplace; "
                                            "give it skills and MCP servers instead")
        return {}

    def marketplaces_dir(self, guest_home: str) -> str:
        """Where marketplace directories are copied in the bottle."""
        return f"{self.own_dir(guest_home)}/marketplaces"

    def context_path(self, guest_home: str) -> str:
        return f"{self.config_dir(guest_home)}/{self.context_file_name}"

    def checks(self) -> tuple[AgentProvisionCommand, ...]:
        """Read-only commands run as the bottle user before anything is written."""
        command = self.runtime.command
        return (AgentProvisionCommand(
            argv=(command, "--version"),
            error=f"the {command} CLI does not run in the bottle: build it from the {command} image "
                  f"(runtime dockerfile {self.runtime.dockerfile}) or install {self.package} on its PATH",
        ),)

    def prompt_args(self, prompt_path: str, resume: bool = False) -> list[str]:
        """Arguments that hand the prompt file to the agent (none when there is no prompt)."""
        return prompt_args(self.runtime.prompt_mode, prompt_path, list(self.runtime.resume_args) if resume else None)

    def launch_argv(self, prompt_path: str, resume: bool = False, headless: bool = False) -> list[str]:
        """The agent's argv; with ``headless`` the message slot ``{message}`` is in it.

        A CLI whose headless flag takes the message as its value names the slot in its
        ``headless_args`` (``("-p", MESSAGE)``); otherwise the message comes last.
        """
        rt = self.runtime
        argv = [rt.command, *(rt.headless_args if headless else ()), *(rt.resume_args if resume else ()),
                *rt.bypass_args]
        prompt = self.prompt_args(prompt_path, resume)
        if not headless:
            return argv + prompt
        if MESSAGE in rt.headless_args:
            return argv + prompt
        if rt.prompt_mode == PROMPT_READ_FILE and prompt:
            # One positional message: the prompt instruction, then the user's text.
            return argv + [f"{prompt[0]}\n\n{MESSAGE}"]
        return argv + prompt + [MESSAGE]

    # -- the complete desired state --------------------------------------------------------

    def build(self, request: ProvisionRequest) -> AgentProvisionPlan:
        """Everything the bottle needs for this agent; reads controller files, writes nothing."""
        home, owner, name = request.guest_home, request.owner, self.runtime.provider
        parts = ProviderParts(request)
        self.add_parts(parts)
        self.add_platform(parts)
        self.add_base_url(parts)
        self.add_settings(parts)
        self.add_managed_settings(parts)
        parts.add_file(self.context_path(home), request.context.encode("utf-8"), merge=MERGE_BLOCK)
        own_dir = self.own_dir(home)
        prompt = read_controller_file("prompt_file", request.prompt_file) if request.prompt_file else b""
        prompt_path = self.prompt_path(home) if prompt.strip() else ""
        launch = {v: tuple(self.launch_argv(prompt_path, *flags)) for v, flags in VARIANTS.items()}
        egress = request.egress
        egress_files, registration, checks = (), None, self.checks()
        if egress is not None:
            ca_path = f"{own_dir}/egress-ca.pem"
            parts.env.update(egress_env(egress, ca_path, self.ca_env_names, request.mcp_servers))
            egress_files = (AgentProvisionFile(ca_path, egress.ca_pem, owner),)
            for route in parts.egress_routes:
                egress.check_readable(route.credential_path)
            registration = (egress.registration_path, egress_registration(egress, parts.egress_routes))
            checks += egress_checks(egress, parts.egress_routes)
        guest_env = {"HOME": home, **parts.env, **request.guest_env}
        workdir = request.workdir
        launcher = render_launcher(name, guest_env, parts.env_files, workdir, launch)
        dirs = [AgentProvisionDir(p, "700", owner) for p in (
            self.config_dir(home), self.skills_dir(home), f"{home}/{BOTTLE_DIR}", own_dir)]
        dirs += parts.dirs
        if request.trusted_project_path:
            dirs.append(AgentProvisionDir(request.trusted_project_path, "700", owner, create_only=True))
        return AgentProvisionPlan(
            provider=name,
            runtime=self.runtime,
            dockerfile=request.dockerfile or self.runtime.dockerfile,
            guest_home=home,
            owner=owner,
            skills_dir=self.skills_dir(home),
            workdir=workdir,
            launcher=f"{own_dir}/launch",
            prompt_path=prompt_path,
            guest_env=guest_env,
            hidden_env_names=tuple(parts.hidden_env_names),
            env_files=tuple(parts.env_files),
            launch=launch,
            dirs=tuple(dirs),
            files=(*parts.files, *egress_files,
                   # Always placed, so its path exists; the launch argv names it only when not empty.
                   AgentProvisionFile(self.prompt_path(home), prompt, owner),
                   AgentProvisionFile(f"{own_dir}/launch", launcher.encode("utf-8"), owner, mode="700")),
            checks=checks,
            trees=(*(AgentProvisionTree(f"{self.skills_dir(home)}/{skill}", owner,
                                        skill_files(request.skills_root, skill)) for skill in request.skills),
                   *parts.trees),
            config_entries=tuple(self.mcp_entry(s, home, owner) if s.state == "present"
                                 else dataclasses.replace(self.mcp_entry(s, home, owner), entry=None)
                                 for s in request.mcp_servers),
            egress_routes=tuple(parts.egress_routes),
            controller_files=dict(parts.controller_files),
            egress_registration=registration,
            redactions=(egress.password,) if egress else (),
        )

    # -- the user's settings and the managed policy ------------------------------------------

    def add_settings(self, parts: ProviderParts) -> None:
        """``settings`` and the keys enabling ``plugins``, merged into the user settings file after the
        keys the collection owns there, and recorded."""
        request = parts.request
        path, fmt = self.settings_file(request.guest_home)
        plugin_keys = self.add_plugins(parts)
        owned = self.owned_keys(parts, path)
        refuse_owned_keys("settings", request.settings, path, owned)
        refuse_owned_keys("settings", request.settings, path, list(configedit.leaves(plugin_keys)), by="plugins")
        settings = configedit.set_owned(copy.deepcopy(dict(request.settings)), plugin_keys)
        parts.add_file(path, settings_bytes("settings", fmt, settings), merge=fmt,
                       record=f"{self.own_dir(request.guest_home)}/owned-settings.json")

    def owned_keys(self, parts: ProviderParts, path: str) -> list[tuple[str, ...]]:
        """Key paths the collection sets in the config ``path``: its owned keys and the MCP server table."""
        owned: list[tuple[str, ...]] = []
        for item in parts.files:
            if item.guest_path == path and item.merge in configedit.FORMATS:
                owned += configedit.leaves(configedit.loads(item.merge, item.content.decode("utf-8")))
        probe = self.mcp_entry(McpServer("x", url="http://x"), parts.request.guest_home, parts.request.owner)
        if probe.config_path == path:
            owned.append(probe.key_path[:-1])
        return owned

    def add_managed_settings(self, parts: ProviderParts) -> None:
        """``managed_settings`` merged into the root-owned file that wins over the user's settings.

        Always in the plan (with nothing to set, keys an earlier run set are removed); its
        directories are made only when there is something to set.
        """
        request, provider = parts.request, self.runtime.provider
        managed = self.managed_settings_file()
        if managed is None:
            if request.managed_settings:
                raise ProvisionError("managed_settings", f"the {provider} CLI has no managed settings file; "
                                                         "use settings, or an image with the policy built in")
            return
        path, fmt = managed
        records = f"{MANAGED_RECORD_DIR}/{provider}"
        if request.managed_settings:
            parts.dirs += [AgentProvisionDir(os.path.dirname(path), "755", "root:root", create_only=True),
                           AgentProvisionDir(MANAGED_RECORD_DIR, "700", "root:root", create_only=True),
                           AgentProvisionDir(records, "700", "root:root")]
        parts.files.append(AgentProvisionFile(path, settings_bytes("managed_settings", fmt, request.managed_settings),
                                              "root:root", mode="644", merge=fmt,
                                              record=f"{records}/owned-managed-settings.json"))


def refuse_owned_keys(option: str, settings: t.Mapping[str, t.Any], path: str,
                      owned: t.Sequence[tuple[str, ...]], by: str = "") -> None:
    """A settings key on (or above, or below) a key the collection sets is refused, naming both."""
    why = f"the {by} option" if by else "the collection (see SECURITY.md; MCP servers go in the mcp_servers option)"
    for key in configedit.leaves(settings):
        for mine in owned:
            depth = min(len(key), len(mine))
            if key[:depth] == mine[:depth]:
                raise ProvisionError(f"{option}.{'.'.join(key)}",
                                     f"{'.'.join(mine)} in {path} is set by {why}; remove this key from {option}")


def settings_bytes(option: str, fmt: str, settings: t.Mapping[str, t.Any]) -> bytes:
    """Settings as the content of a JSON or TOML merge (TOML has no null: such a key is refused)."""
    if fmt == "json":
        return json_bytes(settings)
    for key, value in configedit.leaves(settings).items():
        if value is None:
            raise ProvisionError(f"{option}.{'.'.join(key)}", "null has no TOML form; remove the key or give a value")
    if tomlkit is None:
        raise ProvisionError(option, "TOML configs need the Python package tomlkit on the controller (pip install tomlkit)")
    return tomlkit.dumps(settings).encode("utf-8")


def egress_env(egress: Egress, ca_path: str, ca_env_names: t.Sequence[str],
               mcp_servers: t.Sequence[McpServer]) -> dict[str, str]:
    """Proxy variables (both spellings: tools read one or the other) and the CA for the CLI."""
    hosts = ["localhost", "127.0.0.1", "::1"]
    # MCP servers are the operator's own services next to the bottle, not the outside.
    hosts += [urllib.parse.urlparse(s.url).hostname or "" for s in mcp_servers if s.state == "present"]
    no_proxy = ",".join(h for h in dict.fromkeys(hosts) if h)
    env = {name: egress.proxy_url for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy")}
    env.update(NO_PROXY=no_proxy, no_proxy=no_proxy)
    env.update({name: ca_path for name in ca_env_names})
    return env


def egress_registration(egress: Egress, routes: t.Sequence[EgressRoute]) -> bytes:
    """The bottle's file in the proxy's ``bottles/``: who it is, where it may go, what gets injected."""
    return json_bytes({
        "proxy_password_sha256": hashlib.sha256(egress.password.encode()).hexdigest(),
        "allow": list(egress.allow),
        "routes": [route.to_dict() for route in routes],
    })


# Run in the bottle as its user: CONNECT through the proxy to each route host and verify the
# TLS handshake against the proxy's CA alone. The proxy answers it itself (it connects upstream
# only for a request), so this proves reachability, the proxy credentials and CA trust before
# anything is written; without it the CLIs hang retrying instead of failing.
_TLS_CHECK = """
import base64, socket, ssl, sys
host, port, user, password, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
auth = base64.b64encode(f"{user}:{password}".encode()).decode()
for target in sys.argv[6:]:
    sock = socket.create_connection((host, port), timeout=15)
    sock.sendall(f"CONNECT {target}:443 HTTP/1.1\\r\\nHost: {target}:443\\r\\n"
                 f"Proxy-Authorization: Basic {auth}\\r\\n\\r\\n".encode())
    reply = b""
    while b"\\r\\n\\r\\n" not in reply:
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    status = reply.split(b"\\r\\n", 1)[0].decode("latin-1")
    if " 200" not in status:
        sys.exit(f"{target}: the proxy answered {status!r}")
    try:
        ssl.create_default_context(cadata=ca).wrap_socket(sock, server_hostname=target).close()
    except ssl.SSLError as exc:
        sys.exit(f"{target}: TLS through the proxy does not verify with its CA ({exc.reason})")
"""


def egress_checks(egress: Egress, routes: t.Sequence[EgressRoute]) -> tuple[AgentProvisionCommand, ...]:
    hosts = list(dict.fromkeys(route.host for route in routes))
    if not hosts:
        return ()
    host, port = egress.host_port
    return (AgentProvisionCommand(
        argv=("python3", "-c", _TLS_CHECK, host, str(port), egress.bottle, egress.password,
              egress.ca_pem.decode("ascii"), *hosts),
        error=f"the bottle cannot reach {', '.join(hosts)} through the egress proxy {egress.url} with the "
              f"proxy's CA: check that the proxy runs (bot_bottle.agents.egress) and that the bottle "
              f"reaches {host}:{port}",
    ),)


def render_launcher(provider: str, guest_env: t.Mapping[str, str], env_files: t.Sequence[str], workdir: str,
                    launch: t.Mapping[str, t.Sequence[str]]) -> str:
    """A POSIX sh script that starts the agent with its guest env and arguments."""
    exports = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(guest_env.items()))
    sources = "\n".join(
        f"if [ -r {shlex.quote(path)} ]; then set -a; . {shlex.quote(path)}; set +a; fi" for path in env_files
    )
    return f"""#!/bin/sh
# Generated by bot_bottle.agents for the {provider} agent. Do not edit: reprovision.
# Usage: launch [--resume] [--headless MESSAGE] [AGENT ARGS...]
set -eu
{exports}
{sources}
resume=0
headless=0
message=
while [ $# -gt 0 ]; do
  case "$1" in
    --resume) resume=1; shift ;;
    --headless) headless=1; message=${{2:?--headless needs a message}}; shift 2 ;;
    *) break ;;
  esac
done
cd {shlex.quote(workdir)}
case "$resume$headless" in
  00) exec {_shell_words(launch["interactive"])} "$@" ;;
  10) exec {_shell_words(launch["resume"])} "$@" ;;
  01) exec {_shell_words(launch["headless"])} "$@" ;;
  11) exec {_shell_words(launch["headless_resume"])} "$@" ;;
esac
"""


def _shell_words(argv: t.Sequence[str]) -> str:
    words = []
    for arg in argv:
        if MESSAGE in arg:
            before, after = arg.partition(MESSAGE)[::2]
            words.append(f'{shlex.quote(before) if before else ""}"$message"{shlex.quote(after) if after else ""}')
        else:
            words.append(shlex.quote(arg))
    return " ".join(words)


# -- registry ---------------------------------------------------------------------------------


def known_providers() -> list[str]:
    """Providers available, one per ``contrib`` file (nothing is imported)."""
    return sorted(m.name for m in pkgutil.iter_modules(contrib.__path__) if not m.name.startswith("_"))


_cache: dict[str, AgentProvider] = {}


def get_provider(template: str) -> AgentProvider:
    """The provider named ``template``, importing its plugin file on first use."""
    if template in _cache:
        return _cache[template]
    known = known_providers()
    if template not in known:
        raise ProvisionError("provider", f"unknown provider {template!r}; known providers: {', '.join(known)}")
    plugin = importlib.import_module(f"{contrib.__name__}.{template}")
    provider = getattr(plugin, "PROVIDER", None)
    if not isinstance(provider, AgentProvider):
        raise ProvisionError("provider", f"plugin {template!r} defines no PROVIDER")
    _cache[template] = provider
    return provider


def write_controller_files(files: t.Mapping[str, bytes], check_mode: bool = False) -> list[str]:
    """Write each changed controller file atomically (0600, dirs 0700); return the changed paths."""
    try:
        changed = [path for path, data in sorted(files.items()) if read_bytes(path) != data]
        if not check_mode:
            for path in changed:
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                atomic_write(path, files[path], 0o600)
    except OSError as exc:
        raise ProvisionError("state_dir", f"cannot write {exc.filename}: {exc.strerror}") from None
    return changed


class Registration:
    """A controller file written now and put back as it was on ``restore`` (a refused run)."""

    def __init__(self, path: str = "", previous: bytes | None = None, written: bool = False) -> None:
        self.path, self.previous, self.written = path, previous, written

    def changed(self) -> list[str]:
        return [self.path] if self.written else []

    def restore(self) -> None:
        if not self.written:
            return
        if self.previous is None:
            os.unlink(self.path)
        else:
            write_controller_files({self.path: self.previous})
        self.written = False


def register_with_egress(registration: tuple[str, bytes] | None) -> Registration:
    """Put the bottle's registration in its egress proxy's ``bottles/`` (atomic; the proxy reloads)."""
    if registration is None:
        return Registration()
    path, content = registration
    previous = read_bytes(path)
    if previous == content:
        return Registration(path, previous)
    try:
        write_controller_files({path: content})
    except ProvisionError as exc:
        raise ProvisionError("egress", exc.detail) from None
    return Registration(path, previous, written=True)


# -- the seed's helpers -------------------------------------------------------------------------


def runtime_for(template: str) -> AgentProviderRuntime:
    return get_provider(template).runtime


def agent_provision_plan(template: str, **options: t.Any) -> AgentProvisionPlan:
    """The plan of ``template`` for the request ``options``; writes its controller-held secrets."""
    plan = get_provider(template).build(ProvisionRequest.from_options({**options, "provider": template}))
    write_controller_files(plan.controller_files)
    return plan


def prompt_args(prompt_mode: str, prompt_path: str, argv: t.Sequence[str] | None = None) -> list[str]:
    """Arguments that hand the prompt file at ``prompt_path`` to the agent."""
    if prompt_mode not in PROMPT_MODES:
        raise ValueError(f"prompt_mode: unknown mode {prompt_mode!r}; use one of {', '.join(PROMPT_MODES)}")
    if not prompt_path or prompt_mode == PROMPT_CONTEXT_FILE:
        return []
    if prompt_mode == PROMPT_APPEND_FILE:
        return ["--append-system-prompt-file", prompt_path]
    # A resumed session already read the prompt; a new positional message would be taken
    # as the resume target or a fresh turn.
    if argv is not None and "resume" in argv:
        return []
    return [f"Read and follow the instructions in {prompt_path}."]


# -- helpers for provider files ------------------------------------------------------------------


def read_json_file(option: str, path: str) -> dict[str, t.Any]:
    """A controller credential file as a JSON object, or a ProvisionError saying what to fix."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ProvisionError(option, f"controller credential file {path} does not exist; log in on the controller first") from None
    except (OSError, ValueError) as exc:
        raise ProvisionError(option, f"controller credential file {path} cannot be read as JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise ProvisionError(option, f"controller credential file {path} is not a JSON object")
    return data


def json_pointer(data: t.Any, pointer: str) -> t.Any:
    for part in pointer.strip("/").split("/"):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def stdio_mcp_entry(server: McpServer) -> dict[str, t.Any]:
    """A stdio MCP entry as the JSON-configured CLIs take it: ``command``, ``args``, ``env``."""
    entry: dict[str, t.Any] = {"command": server.command, "args": list(server.args)}
    if server.env:
        entry["env"] = dict(server.env)
    return entry


def http_mcp_entry(server: McpServer) -> dict[str, t.Any]:
    """An HTTP MCP entry for a CLI that expands ``${VAR}`` in its config's header values.

    ``bearer_token_env_var`` becomes ``Authorization: Bearer ${VAR}``: the token stays in the
    agent's environment and never lands in the file.
    """
    headers = dict(server.headers)
    if server.bearer_token_env_var:
        headers["Authorization"] = f"Bearer ${{{server.bearer_token_env_var}}}"
    entry: dict[str, t.Any] = {"type": "http", "url": server.url}
    if headers:
        entry["headers"] = headers
    return entry


def json_bytes(data: t.Any) -> bytes:
    """Stable JSON for generated files: same data, same bytes (so 'changed' is honest)."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def controller_home(controller_env: t.Mapping[str, str]) -> str:
    return controller_env.get("HOME") or os.path.expanduser("~")
