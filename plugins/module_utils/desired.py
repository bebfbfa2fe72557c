# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of applying a plan: turn plan + skills + prompt + MCP servers into the
plain desired state that ``agent_guest_state`` makes true in the bottle in one module run.
"""

from __future__ import annotations

import base64
import os
import re
import typing as t
import urllib.parse

from ansible_collections.bot_bottle.agents.plugins.module_utils.configedit import SECRET_ENTRY_KEYS
from ansible_collections.bot_bottle.agents.plugins.module_utils.launcher import launch_variants, render_launcher
from ansible_collections.bot_bottle.agents.plugins.module_utils.plan import AgentProvisionPlan, McpRegistration
from ansible_collections.bot_bottle.agents.plugins.module_utils.provider import ProvisionError, get_provider

BOTTLE_DIR = ".bot-bottle"
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_MCP_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _read_host_file(option: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ProvisionError(option, f"cannot read {path} on the controller ({exc.strerror})") from None


def bottle_paths(plan: AgentProvisionPlan) -> dict[str, str]:
    """Our own files in the bottle, per provider: one bottle may hold several agents."""
    root = f"{plan.guest_home}/{BOTTLE_DIR}"
    base = f"{root}/{plan.template}"
    return {"root": root, "dir": base, "prompt": f"{base}/prompt.md", "launcher": f"{base}/launch"}


def skill_tree(skills_root: str, name: str) -> dict[str, tuple[bytes, str]]:
    """The files of one skill directory, checked to stay inside ``skills_root``."""
    if not _PLAIN_NAME.match(name) or name in (".", ".."):
        raise ProvisionError("skills", f"{name!r} is not a plain skill name (letters, digits, . _ -; no '/' or '..')")
    if not skills_root:
        raise ProvisionError("skills_root", "is required when skills are listed: the host directory holding them")
    root = os.path.realpath(skills_root)
    skill_dir = os.path.realpath(os.path.join(skills_root, name))
    if os.path.dirname(skill_dir) != root:
        raise ProvisionError("skills", f"skill {name!r} resolves outside skills_root {skills_root} (symlink?)")
    if not os.path.isdir(skill_dir):
        raise ProvisionError("skills", f"skill {name!r} not found: {skill_dir} is not a directory under skills_root")
    if not os.path.isfile(os.path.join(skill_dir, "SKILL.md")):
        raise ProvisionError("skills", f"skill {name!r} has no SKILL.md in {skill_dir}")
    files: dict[str, tuple[bytes, str]] = {}
    for dirpath, _dirs, filenames in os.walk(skill_dir, followlinks=False):
        for filename in filenames:
            full = os.path.join(dirpath, filename)
            real = os.path.realpath(full)
            if not real.startswith(skill_dir + os.sep):
                raise ProvisionError("skills", f"{full} in skill {name!r} links outside the skill directory")
            mode = "700" if os.access(real, os.X_OK) else "600"
            files[os.path.relpath(full, skill_dir)] = (_read_host_file("skills", real), mode)
    return files


def check_mcp_servers(servers: t.Sequence[t.Mapping[str, t.Any]]) -> None:
    """Names plain and unique, URLs http(s) for servers that should be present."""
    seen: set[str] = set()
    for server in servers:
        name = server.get("name") or "supervise"
        if not _MCP_NAME.match(name):
            raise ProvisionError("mcp_servers", f"name {name!r} must be letters, digits, '_' or '-'")
        if name in seen:
            raise ProvisionError("mcp_servers", f"name {name!r} is listed twice; give each server its own name")
        seen.add(name)
        if (server.get("state") or "present") == "present":
            check_url(f"mcp_servers[{name}].url", server.get("url") or "")


def check_inputs(
    skills: t.Sequence[str] = (),
    skills_root: str = "",
    prompt_file: str = "",
    mcp_servers: t.Sequence[t.Mapping[str, t.Any]] = (),
) -> None:
    """Every controller-side input of a bottle, checked before anything is written anywhere."""
    if prompt_file and not os.path.isfile(prompt_file):
        raise ProvisionError("prompt_file", f"{prompt_file} does not exist or is not a file on the controller")
    for name in skills:
        skill_tree(skills_root, name)
    check_mcp_servers(mcp_servers)


def mcp_registrations(
    plan: AgentProvisionPlan, servers: t.Sequence[t.Mapping[str, t.Any]]
) -> list[tuple[McpRegistration, str]]:
    check_mcp_servers(servers)
    provider = get_provider(plan.template)
    return [
        (
            provider.supervise_mcp(
                server.get("url") or "",
                guest_home=plan.guest_home,
                name=server.get("name") or "supervise",
                headers=server.get("headers") or {},
                bearer_token_env_var=server.get("bearer_token_env_var") or "",
            ),
            server.get("state") or "present",
        )
        for server in servers
    ]


def check_url(option: str, url: str) -> None:
    parsed = urllib.parse.urlparse(url or "")
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ProvisionError(option, f"{url!r} is not an http(s) URL; use e.g. http://host.docker.internal:8811/mcp")


def config_entry(registration: McpRegistration, state: str) -> dict[str, t.Any]:
    """Module arguments for one entry; header and env values travel in the no_log part."""
    present = state == "present"
    entry = registration.entry
    return {
        "path": registration.config_path,
        "format": registration.format,
        "entry_path": list(registration.key_path),
        "entry": {k: v for k, v in entry.items() if k not in SECRET_ENTRY_KEYS} if present else None,
        "entry_secret": {k: v for k, v in entry.items() if k in SECRET_ENTRY_KEYS} if present else {},
        "mode": registration.mode,
        "owner": registration.owner,
    }


def guest_state(
    plan: AgentProvisionPlan,
    skills: t.Sequence[str] = (),
    skills_root: str = "",
    prompt_file: str = "",
    mcp_servers: t.Sequence[t.Mapping[str, t.Any]] = (),
    owner: str = "node:node",
    check_mode: bool = False,
) -> tuple[dict[str, t.Any], dict[str, t.Any], list[str]]:
    """Module arguments for ``agent_guest_state``, the bottle summary for CI, and changes
    only the controller knows of (secret files not yet generated, in check mode).

    Reading the skills, prompt and MCP servers raises ProvisionError on bad input; callers that
    write anything first run ``check_inputs`` (the apply action does, before the plan's writes).
    """
    paths = bottle_paths(plan)
    prompt = _read_host_file("prompt_file", prompt_file) if prompt_file else b""
    exported_prompt = paths["prompt"] if prompt.strip() else ""

    files = []
    pending_secrets = []
    for f in plan.files:
        content = f.content_b64
        if not content and check_mode and not os.path.exists(f.host_path):
            # A secret not yet written on the controller (check mode): it would be placed.
            pending_secrets.append(f"would place secret file {f.guest_path}")
            continue
        content = content or _b64(_read_host_file("plan", f.host_path))
        files.append(
            {"path": f.guest_path, "content_b64": content, "mode": f.mode, "owner": f.owner,
             "merge": f.merge, "secret": f.secret}
        )
    files.append({"path": paths["prompt"], "content_b64": _b64(prompt), "mode": "600", "owner": owner})
    launcher = render_launcher(plan, exported_prompt).encode("utf-8")
    files.append({"path": paths["launcher"], "content_b64": _b64(launcher), "mode": "700", "owner": owner})

    trees = []
    for name in dict.fromkeys(skills):
        tree = skill_tree(skills_root, name)
        trees.append(
            {
                "path": f"{plan.skills_dir}/{name}",
                "owner": owner,
                "files": [{"relpath": rel, "content_b64": _b64(data), "mode": mode} for rel, (data, mode) in sorted(tree.items())],
            }
        )
    entries = [config_entry(reg, state) for reg, state in mcp_registrations(plan, mcp_servers)]

    module_args = {
        "dirs": [{"path": d.guest_path, "mode": d.mode, "owner": d.owner} for d in plan.dirs]
        + [{"path": paths[key], "mode": "700", "owner": owner} for key in ("root", "dir")],
        "pre_copy": [c.to_dict() for c in plan.pre_copy],
        "files": files,
        "verify": [c.to_dict() for c in plan.verify],
        "trees": trees,
        "config_entries": entries,
    }
    summary = {
        "template": plan.template,
        "launcher": paths["launcher"],
        "launch": launch_variants(plan, exported_prompt),
        "prompt_path": exported_prompt,
        "skills_dir": plan.skills_dir,
        "skills": [f"{plan.skills_dir}/{name}" for name in dict.fromkeys(skills)],
        "mcp_servers": {"/".join(e["entry_path"]): e["path"] for e in entries if e["entry"] is not None},
        "workdir": plan.workdir,
        "env_vars": list(plan.env_vars),
        "hidden_env_names": list(plan.hidden_env_names),
        "egress_routes": [r.to_dict() for r in plan.egress_routes],
    }
    return module_args, summary, pending_secrets
