# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative provisioning data: what a bottle needs, as plain frozen dataclasses.

Every class converts to a JSON-safe dict (``to_dict``) and back (``from_dict``) without
loss, so a plan can travel from the controller to the guest as module arguments and
back to the operator as a registered result.
"""

from __future__ import annotations

import dataclasses
import typing as t

DEFAULT_OWNER = "node:node"

# How a provisioned file meets the file already in the bottle.
MERGE_REPLACE = "replace"  # the bottle's file becomes exactly the host file
MERGE_JSON = "json"  # the host file's keys are deep-merged into the bottle's JSON object
MERGE_TOML = "toml"  # the host file's keys are set in the bottle's TOML, table by table
MERGE_MODES = (MERGE_REPLACE, MERGE_JSON, MERGE_TOML)

PROMPT_APPEND_FILE = "append_file"
PROMPT_READ_FILE = "read_prompt_file"
PROMPT_MODES = (PROMPT_APPEND_FILE, PROMPT_READ_FILE)


def _plain(value: t.Any) -> t.Any:
    """Tuples become lists, nested dataclasses become dicts: JSON-safe values only."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class _PlainData:
    """Mixin: ``to_dict`` / ``from_dict`` for frozen dataclasses of plain values."""

    # Fields holding nested dataclasses (single or sequence) and their class.
    _nested: t.ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict[str, t.Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: t.Mapping[str, t.Any]):
        known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, t.Any] = {}
        for name, value in data.items():
            nested = cls._nested.get(name)
            if nested is not None and isinstance(value, (list, tuple)):
                value = tuple(nested.from_dict(v) for v in value)  # type: ignore[attr-defined]
            elif nested is not None and isinstance(value, dict):
                value = nested.from_dict(value)  # type: ignore[attr-defined]
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)


@dataclasses.dataclass(frozen=True)
class AgentProviderRuntime(_PlainData):
    """How to start a provider's agent inside a bottle."""

    template: str
    command: str
    image: str
    dockerfile: str
    prompt_mode: str
    bypass_args: tuple[str, ...] = ()
    resume_args: tuple[str, ...] = ()
    remote_control_args: tuple[str, ...] = ()
    # Arguments that turn an interactive start into a one-shot run of a message.
    headless_args: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class AgentProvisionDir(_PlainData):
    guest_path: str
    mode: str = "700"
    owner: str = DEFAULT_OWNER


@dataclasses.dataclass(frozen=True)
class AgentProvisionFile(_PlainData):
    """A file generated on the controller (``host_path``) and placed in the bottle."""

    host_path: str
    guest_path: str
    mode: str = "600"
    owner: str = DEFAULT_OWNER
    merge: str = MERGE_REPLACE
    # Holds a real credential: its content is never logged nor shown in a diff.
    secret: bool = False
    # The generated content, inline, for files that are not secret: check mode can compare
    # it with the bottle before anything is written on the controller.
    content_b64: str = ""


@dataclasses.dataclass(frozen=True)
class AgentProvisionCommand(_PlainData):
    """A read-only check run in the bottle; ``error`` is what the user sees if it fails."""

    argv: tuple[str, ...]
    error: str


@dataclasses.dataclass(frozen=True)
class EgressRoute(_PlainData):
    """Tells the bottle's egress proxy which header a host gets, by reference only.

    ``credential_source`` is ``file`` (the whole file is the secret) or ``json_file``
    (``credential_pointer`` is a JSON pointer into it). The value never appears here.
    """

    host: str
    header: str
    credential_source: str
    credential_path: str
    credential_pointer: str = ""
    value_prefix: str = "Bearer "
    # The DLP proxy must pass this host through without TLS interception.
    tls_passthrough: bool = False


@dataclasses.dataclass(frozen=True)
class McpRegistration(_PlainData):
    """Where and how an MCP server entry lives in an agent's own config file.

    ``key_path`` names the entry: for JSON, the nested keys down to it (``mcpServers``,
    NAME); for TOML, its table (``mcp_servers``, NAME).
    """

    config_path: str
    format: str
    key_path: tuple[str, ...]
    entry: dict[str, t.Any]
    mode: str = "600"
    owner: str = DEFAULT_OWNER


@dataclasses.dataclass(frozen=True)
class AgentProvisionPlan(_PlainData):
    """Everything a bottle needs for one provider, as data the apply step executes."""

    template: str
    command: str
    prompt_mode: str
    image: str
    dockerfile: str
    guest_home: str
    skills_dir: str
    # Where the agent starts: the trusted project, else the bottle user's home.
    workdir: str = ""
    guest_env: dict[str, str] = dataclasses.field(default_factory=dict)
    env_vars: tuple[str, ...] = ()
    # Guest files of NAME=value lines the launcher sources (opt-in real credentials).
    env_files: tuple[str, ...] = ()
    dirs: tuple[AgentProvisionDir, ...] = ()
    files: tuple[AgentProvisionFile, ...] = ()
    pre_copy: tuple[AgentProvisionCommand, ...] = ()
    verify: tuple[AgentProvisionCommand, ...] = ()
    egress_routes: tuple[EgressRoute, ...] = ()
    hidden_env_names: tuple[str, ...] = ()
    provisioned_env: dict[str, str] = dataclasses.field(default_factory=dict)
    runtime: AgentProviderRuntime | None = None

    _nested: t.ClassVar[dict[str, type]] = {
        "dirs": AgentProvisionDir,
        "files": AgentProvisionFile,
        "pre_copy": AgentProvisionCommand,
        "verify": AgentProvisionCommand,
        "egress_routes": EgressRoute,
        "runtime": AgentProviderRuntime,
    }

    def visible_env(self) -> dict[str, str]:
        """The guest env without placeholders, for operator summaries."""
        return {k: v for k, v in self.guest_env.items() if k not in self.hidden_env_names}
