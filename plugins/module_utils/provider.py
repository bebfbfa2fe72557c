# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider plugin layer: the ``AgentProvider`` ABC, a lazy registry and thin helpers.

A provider is one file ``contrib/<template>.py`` that defines ``PROVIDER``. Nothing else
names providers: the registry discovers the files and imports one only when asked for it.
"""

from __future__ import annotations

import abc
import base64
import dataclasses
import importlib
import json
import os
import pkgutil
import typing as t

from ansible_collections.bot_bottle.agents.plugins.module_utils import contrib
from ansible_collections.bot_bottle.agents.plugins.module_utils.fileops import atomic_write, read_bytes
from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import (
    DEFAULT_OWNER,
    PROMPT_APPEND_FILE,
    PROMPT_READ_FILE,
    AgentProviderRuntime,
    AgentProvisionCommand,
    AgentProvisionDir,
    AgentProvisionFile,
    AgentProvisionPlan,
    EgressRoute,
    McpRegistration,
)

DEFAULT_GUEST_HOME = "/home/node"
DEFAULT_MCP_NAME = "supervise"
# The non-secret value a bottle sees wherever a real credential would be.
PLACEHOLDER_TOKEN = "bot-bottle-placeholder-not-a-secret"


class ProvisionError(ValueError):
    """Bad input for a plan; ``option`` names the option the user must fix."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


@t.runtime_checkable
class _HasProvider(t.Protocol):
    PROVIDER: "AgentProvider"


class PlanRequest(t.NamedTuple):
    """The inputs of ``AgentProvider.provision_plan``, validated."""

    dockerfile: str
    state_dir: str
    guest_home: str
    guest_env: dict[str, str]
    auth_token: str
    forward_host_credentials: bool
    host_env: dict[str, str]
    trusted_project_path: str
    credentials_in_guest: bool


class PlanDraft(t.NamedTuple):
    """A plan and the bytes of the host-side files it names, not yet written."""

    plan: AgentProvisionPlan
    host_files: dict[str, bytes]


@dataclasses.dataclass
class PlanParts:
    """What a provider adds to the common plan: files, env, credentials, egress routes."""

    request: PlanRequest
    template: str
    files: list[AgentProvisionFile] = dataclasses.field(default_factory=list)
    host_files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    provisioned_env: dict[str, str] = dataclasses.field(default_factory=dict)
    hidden_env_names: list[str] = dataclasses.field(default_factory=list)
    egress_routes: list[EgressRoute] = dataclasses.field(default_factory=list)
    env_files: list[str] = dataclasses.field(default_factory=list)

    def add_file(self, name: str, guest_path: str, data: bytes, **kwargs: t.Any) -> None:
        """A generated file: kept on the controller as ``<state_dir>/<template>/<name>``."""
        host_path = os.path.join(self.request.state_dir, self.template, name)
        self.host_files[host_path] = data
        self.files.append(AgentProvisionFile(host_path=host_path, guest_path=guest_path, **kwargs))

    def add_controller_secret(self, name: str, secret: str) -> str:
        """A credential the egress proxy reads on the controller (0600); returns its path."""
        path = os.path.join(self.request.state_dir, "secrets", name)
        self.host_files[path] = secret.encode("utf-8")
        return path


class AgentProvider(abc.ABC):
    """One agent CLI: its runtime table entry and what a bottle needs to run it."""

    # The npm package that provides the CLI, named when the bottle cannot run it.
    package: t.ClassVar[str] = ""

    @property
    @abc.abstractmethod
    def runtime(self) -> AgentProviderRuntime:
        """Command, image and argument conventions of this provider."""

    @abc.abstractmethod
    def config_dir(self, guest_home: str) -> str:
        """The agent's own directory in the bottle (``~/.claude``, ``~/.codex``)."""

    @abc.abstractmethod
    def add_parts(self, parts: PlanParts) -> None:
        """Add this provider's files, env, credentials and routes (no I/O but reads)."""

    @abc.abstractmethod
    def supervise_mcp(
        self,
        url: str,
        guest_home: str = DEFAULT_GUEST_HOME,
        name: str = DEFAULT_MCP_NAME,
        headers: t.Mapping[str, str] | None = None,
        bearer_token_env_var: str = "",
    ) -> McpRegistration:
        """Describe the MCP server entry in this agent's own config (no I/O)."""

    def skills_dir(self, guest_home: str = DEFAULT_GUEST_HOME) -> str:
        return f"{self.config_dir(guest_home)}/skills"

    def build_plan(self, request: PlanRequest) -> PlanDraft:
        """The plan every provider shares, completed by ``add_parts``."""
        home = request.guest_home
        parts = PlanParts(request, self.runtime.template, provisioned_env={"HOME": home})
        self.add_parts(parts)
        guest_env = {**parts.provisioned_env, **request.guest_env}
        command = self.runtime.command
        plan = AgentProvisionPlan(
            template=self.runtime.template,
            command=command,
            prompt_mode=self.runtime.prompt_mode,
            image=self.runtime.image,
            dockerfile=request.dockerfile,
            guest_home=home,
            skills_dir=self.skills_dir(home),
            workdir=request.trusted_project_path or home,
            guest_env=guest_env,
            env_vars=tuple(sorted(k for k in guest_env if k not in parts.hidden_env_names)),
            env_files=tuple(parts.env_files),
            dirs=(AgentProvisionDir(self.config_dir(home)), AgentProvisionDir(self.skills_dir(home))),
            files=tuple(parts.files),
            pre_copy=(owner_check(DEFAULT_OWNER),),
            verify=(
                AgentProvisionCommand(
                    argv=(command, "--version"),
                    error=f"the {command} CLI does not run in the bottle: build it from the {command} "
                    f"image (runtime dockerfile) or install {self.package} on its PATH",
                ),
            ),
            egress_routes=tuple(parts.egress_routes),
            hidden_env_names=tuple(parts.hidden_env_names),
            provisioned_env=parts.provisioned_env,
            runtime=self.runtime,
        )
        return PlanDraft(plan, parts.host_files)

    def provision_plan(self, **kwargs: t.Any) -> AgentProvisionPlan:
        """Compute the plan and write its host-side files under ``state_dir``."""
        draft = self.draft_plan(**kwargs)
        write_host_files(draft.host_files)
        return draft.plan

    def draft_plan(
        self,
        dockerfile: str = "",
        state_dir: str = "",
        guest_home: str = DEFAULT_GUEST_HOME,
        guest_env: t.Mapping[str, str] | None = None,
        auth_token: str = "",
        forward_host_credentials: bool = False,
        host_env: t.Mapping[str, str] | None = None,
        trusted_project_path: str = "",
        credentials_in_guest: bool = False,
    ) -> PlanDraft:
        """Validate the inputs and compute the plan; writes nothing."""
        request = PlanRequest(
            dockerfile=dockerfile or self.runtime.dockerfile,
            state_dir=_checked_state_dir(state_dir),
            guest_home=_checked_abs("guest_home", guest_home or DEFAULT_GUEST_HOME),
            guest_env={str(k): str(v) for k, v in (guest_env or {}).items()},
            auth_token=auth_token or "",
            forward_host_credentials=bool(forward_host_credentials),
            host_env=dict(host_env if host_env is not None else os.environ),
            trusted_project_path=(
                _checked_abs("trusted_project_path", trusted_project_path)
                if trusted_project_path
                else ""
            ),
            credentials_in_guest=bool(credentials_in_guest),
        )
        if request.credentials_in_guest and not (request.auth_token or request.forward_host_credentials):
            raise ProvisionError(
                "credentials_in_guest",
                "needs auth_token or forward_host_credentials: there is no credential to place",
            )
        draft = self.build_plan(request)
        files = tuple(
            f if f.secret else dataclasses.replace(f, content_b64=base64.b64encode(draft.host_files[f.host_path]).decode())
            for f in draft.plan.files
        )
        return draft._replace(plan=dataclasses.replace(draft.plan, files=files))


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
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ProvisionError(
            "state_dir", f"{existing} is not writable; choose a directory you own"
        )
    return path


# -- registry -------------------------------------------------------------------------


def known_templates() -> list[str]:
    """Provider templates available, one per ``contrib`` file (nothing is imported)."""
    return sorted(
        m.name for m in pkgutil.iter_modules(contrib.__path__) if not m.name.startswith("_")
    )


_cache: dict[str, AgentProvider] = {}


def get_provider(template: str) -> AgentProvider:
    """The provider for ``template``, importing its plugin file on first use."""
    if template in _cache:
        return _cache[template]
    known = known_templates()
    if template not in known:
        raise ProvisionError(
            "template", f"unknown provider {template!r}; known providers: {', '.join(known)}"
        )
    plugin = importlib.import_module(f"{contrib.__name__}.{template}")
    if not isinstance(plugin, _HasProvider) or not isinstance(plugin.PROVIDER, AgentProvider):
        raise ProvisionError("template", f"plugin {template!r} defines no PROVIDER")
    _cache[template] = plugin.PROVIDER
    return plugin.PROVIDER


# -- back-compat helpers --------------------------------------------------------------


def write_host_files(host_files: t.Mapping[str, bytes], check_mode: bool = False) -> list[str]:
    """Write each changed host file atomically (0600, dirs 0700); return the changed paths."""
    changed = [path for path, data in sorted(host_files.items()) if read_bytes(path) != data]
    if not check_mode:
        for path in changed:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            atomic_write(path, host_files[path], 0o600)
    return changed


def plan_and_write(template: str, check_mode: bool = False, **options: t.Any) -> tuple[AgentProvisionPlan, list[str]]:
    """The plan of ``template`` and the host files it changed (would change, in check mode)."""
    draft = get_provider(template).draft_plan(**options)
    try:
        written = write_host_files(draft.host_files, check_mode=check_mode)
    except OSError as exc:
        raise ProvisionError("state_dir", f"cannot write {exc.filename}: {exc.strerror}") from None
    return draft.plan, written


def runtime_for(template: str) -> AgentProviderRuntime:
    return get_provider(template).runtime


def agent_provision_plan(template: str, **kwargs: t.Any) -> AgentProvisionPlan:
    return get_provider(template).provision_plan(**kwargs)


def prompt_args(prompt_mode: str, prompt_path: str, argv: t.Sequence[str] | None = None) -> list[str]:
    """Arguments that hand the prompt file at ``prompt_path`` to the agent."""
    if prompt_mode not in (PROMPT_APPEND_FILE, PROMPT_READ_FILE):
        raise ValueError(
            f"prompt_mode: unknown mode {prompt_mode!r}; use {PROMPT_APPEND_FILE} or {PROMPT_READ_FILE}"
        )
    if not prompt_path:
        return []
    if prompt_mode == PROMPT_APPEND_FILE:
        return ["--append-system-prompt-file", prompt_path]
    # A resumed session already read the prompt; a new positional message would be taken
    # as the resume target or a fresh turn.
    if argv is not None and "resume" in argv:
        return []
    return [f"Read and follow the instructions in {prompt_path}."]


# -- helpers shared by provider plugins -----------------------------------------------


def read_json_file(option: str, path: str) -> dict[str, t.Any]:
    """A host credential file as a JSON object, or a ProvisionError saying what to fix."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ProvisionError(
            option, f"host credential file {path} does not exist; log in on the host first"
        ) from None
    except (OSError, ValueError) as exc:
        raise ProvisionError(
            option, f"host credential file {path} cannot be read as JSON ({type(exc).__name__})"
        ) from None
    if not isinstance(data, dict):
        raise ProvisionError(option, f"host credential file {path} is not a JSON object")
    return data


def json_pointer(data: t.Any, pointer: str) -> t.Any:
    for part in pointer.strip("/").split("/"):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def json_bytes(data: t.Any) -> bytes:
    """Stable JSON for generated files: same data, same bytes (so 'changed' is honest)."""
    return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")


def owner_check(owner: str) -> AgentProvisionCommand:
    user = owner.partition(":")[0]
    return AgentProvisionCommand(
        argv=("id", "-u", user),
        error=f"bottle user {user!r} does not exist: build the bottle image with that user",
    )


def host_home(host_env: t.Mapping[str, str]) -> str:
    return host_env.get("HOME") or os.path.expanduser("~")
