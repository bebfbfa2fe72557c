# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired state of one bottle, as frozen dataclasses a provider builds on the controller.

``AgentProvisionPlan`` is everything a bottle needs for one agent: directories, files (their
content in memory), read-only checks, skills, MCP entries, the guest env, launch argv and the
egress routes. ``to_dict`` is its report for users and CI: JSON-safe, and never a secret (secret
file contents and MCP header values are left out; routes carry references only).
"""

from __future__ import annotations

import base64
import dataclasses
import typing as t

# How a provisioned file meets the file already in the bottle.
MERGE_REPLACE = "replace"  # the bottle's file becomes exactly this content
MERGE_JSON = "json"  # the content's keys are deep-merged into the bottle's JSON object
MERGE_TOML = "toml"  # the content's keys are set in the bottle's TOML, table by table
MERGE_BLOCK = "block"  # the content is our marked block in a text file the user writes too

PROMPT_APPEND_FILE = "append_file"
PROMPT_READ_FILE = "read_prompt_file"
# The CLI reads the prompt file by itself from where the provider put it (a context file): no argv.
PROMPT_CONTEXT_FILE = "context_file"
PROMPT_MODES = (PROMPT_APPEND_FILE, PROMPT_READ_FILE, PROMPT_CONTEXT_FILE)

# Where the launcher puts the user's message in a headless argv.
MESSAGE = "{message}"
# Keys of an MCP entry whose values may be credentials: sent to the bottle in a no_log field.
SECRET_ENTRY_KEYS = ("headers", "http_headers", "env", "env_http_headers")


def _plain(value: t.Any) -> t.Any:
    """Tuples become lists, nested dataclasses dicts, bytes are left out: JSON-safe values only."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class _Report:
    """Mixin: ``to_dict`` of the fields shown to users (``repr=False`` fields are never shown)."""

    def to_dict(self) -> dict[str, t.Any]:
        return _plain(self)


@dataclasses.dataclass(frozen=True)
class AgentProviderRuntime(_Report):
    """How to start a provider's agent inside a bottle: its row of the runtime table."""

    provider: str
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
class AgentProvisionDir(_Report):
    guest_path: str
    mode: str
    owner: str
    # Create it if missing, never change it if it exists (a user's project directory).
    create_only: bool = False


@dataclasses.dataclass(frozen=True)
class AgentProvisionFile(_Report):
    """A file placed in the bottle; ``content`` stays in memory and out of every report."""

    guest_path: str
    content: bytes = dataclasses.field(repr=False)
    owner: str
    mode: str = "600"
    merge: str = MERGE_REPLACE
    # Holds a real credential: never logged nor shown in a diff.
    secret: bool = False
    # JSON/TOML merges of the user's settings: the bottle file recording which keys the collection set.
    record: str = ""


@dataclasses.dataclass(frozen=True)
class AgentProvisionCommand(_Report):
    """A read-only check run in the bottle as its user; ``error`` is what the user sees if it fails."""

    argv: tuple[str, ...]
    error: str


@dataclasses.dataclass(frozen=True)
class AgentProvisionTree(_Report):
    """A directory mirrored exactly (a skill): relative path -> (content, mode)."""

    guest_path: str
    owner: str
    files: t.Mapping[str, tuple[bytes, str]] = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class ConfigEntry(_Report):
    """One entry in an agent's own config file (an MCP server); ``entry`` None removes it.

    ``key_path`` names the entry: for JSON the nested keys down to it (``mcpServers``, NAME);
    for TOML its table (``mcp_servers``, NAME). Its last key is the server's name.
    """

    config_path: str
    format: str
    key_path: tuple[str, ...]
    entry: t.Mapping[str, t.Any] | None = dataclasses.field(repr=False)
    owner: str
    mode: str = "600"


@dataclasses.dataclass(frozen=True)
class EgressRoute(_Report):
    """Tells the bottle's egress proxy which header a host gets, by reference only.

    ``credential_source`` is ``file`` (the whole file is the secret) or ``json_file``
    (``credential_pointer`` is a JSON pointer into it). The value never appears here.
    """

    host: str
    header: str
    credential_source: str
    credential_path: str
    # What goes before the secret in the header: "Bearer " for Authorization, "" for key headers.
    value_prefix: str
    credential_pointer: str = ""
    # A DLP proxy chained after ours must pass this host through without TLS interception.
    tls_passthrough: bool = False


@dataclasses.dataclass(frozen=True)
class AgentProvisionPlan(_Report):
    """The complete desired state of one agent in one bottle."""

    provider: str
    runtime: AgentProviderRuntime
    dockerfile: str
    guest_home: str
    owner: str
    skills_dir: str
    # Where the agent starts: the trusted project, else the bottle user's home.
    workdir: str
    launcher: str
    prompt_path: str  # empty when there is no prompt
    guest_env: t.Mapping[str, str]
    hidden_env_names: tuple[str, ...]
    # Guest files of NAME=value lines the launcher sources (opt-in real credentials).
    env_files: tuple[str, ...]
    launch: t.Mapping[str, tuple[str, ...]]
    dirs: tuple[AgentProvisionDir, ...]
    files: tuple[AgentProvisionFile, ...]
    checks: tuple[AgentProvisionCommand, ...]
    trees: tuple[AgentProvisionTree, ...]
    config_entries: tuple[ConfigEntry, ...]
    egress_routes: tuple[EgressRoute, ...]
    # Credentials the egress proxy reads on the controller: path -> content, written only after
    # the bottle took the run (never in a report).
    controller_files: t.Mapping[str, bytes] = dataclasses.field(repr=False, default_factory=dict)
    # The bottle's registration with its egress proxy (path, content): in place before the bottle's
    # checks go through the proxy, put back as it was if the bottle refuses the run.
    egress_registration: tuple[str, bytes] | None = dataclasses.field(repr=False, default=None)
    # Strings no report may show (the bottle's proxy password, in its proxy URL and checks).
    redactions: tuple[str, ...] = dataclasses.field(repr=False, default=())

    def to_dict(self) -> dict[str, t.Any]:
        return _redacted(super().to_dict(), self.redactions)

    @property
    def env_vars(self) -> tuple[str, ...]:
        """Guest env names without the placeholders, for operator summaries."""
        return tuple(sorted(k for k in self.guest_env if k not in self.hidden_env_names))

    def summary(self) -> dict[str, t.Any]:
        """The machine-readable facts CI reads (the role's ``agent_bottle``): no secret values."""
        return {
            "provider": self.provider,
            "launcher": self.launcher,
            "launch": {k: list(v) for k, v in self.launch.items()},
            "prompt_path": self.prompt_path,
            "skills_dir": self.skills_dir,
            "skills": [tree.guest_path for tree in self.trees],
            "mcp_servers": {e.key_path[-1]: e.config_path for e in self.config_entries if e.entry is not None},
            "workdir": self.workdir,
            "env_vars": list(self.env_vars),
            "hidden_env_names": list(self.hidden_env_names),
            "egress_routes": [r.to_dict() for r in self.egress_routes],
        }

    def guest_module_args(self) -> dict[str, t.Any]:
        """The arguments of ``agent_guest_state``: one module run makes the bottle match."""
        return {
            "run_as": self.owner.partition(":")[0],
            "dirs": [{"path": d.guest_path, "mode": d.mode, "owner": d.owner, "create_only": d.create_only}
                     for d in self.dirs],
            "checks": [c.to_dict() for c in self.checks],
            "files": [{"path": f.guest_path, "content_b64": _b64(f.content), "mode": f.mode, "owner": f.owner,
                       "merge": f.merge, "secret": f.secret, **({"record": f.record} if f.record else {})}
                      for f in self.files],
            "trees": [{"path": tree.guest_path, "owner": tree.owner,
                       "files": [{"relpath": rel, "content_b64": _b64(data), "mode": mode}
                                 for rel, (data, mode) in sorted(tree.files.items())]} for tree in self.trees],
            "config_entries": [config_entry_args(e) for e in self.config_entries],
        }


def _redacted(value: t.Any, secrets: t.Sequence[str]) -> t.Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "********")
        return value
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    return value


def config_entry_args(entry: ConfigEntry) -> dict[str, t.Any]:
    """Module arguments for one config entry; header and env values travel in the no_log part."""
    values = entry.entry
    return {
        "path": entry.config_path,
        "format": entry.format,
        "entry_path": list(entry.key_path),
        "entry": None if values is None else {k: v for k, v in values.items() if k not in SECRET_ENTRY_KEYS},
        "entry_secret": {} if values is None else {k: v for k, v in values.items() if k in SECRET_ENTRY_KEYS},
        "mode": entry.mode,
        "owner": entry.owner,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
