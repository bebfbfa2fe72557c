"""The baseline: provision one bottle imperatively, one `docker exec`/`docker cp` (or `ssh`/`scp`)
per step, the way the original imperative backends did.

It does the same work as the role and reaches the same end state (bench/run.py checks that):
it computes the same desired content with the collection's pure-Python plan engine (so the
comparison is about the apply path, not about who renders the launcher), then
  id -u <owner>  ->  <agent> --version  ->  mkdir/chown/chmod dirs  ->  copy prompt + launcher
  ->  merge the JSON/TOML config keys with python in the guest  ->  copy each skill
  ->  chown/chmod what was copied  ->  register each MCP entry with python in the guest.
No sleeps, no retries. Prints a JSON summary (calls made) on stdout.

  baseline.py --kind docker --target NAME --provider claude --state-dir DIR [--skill lint ...]
  baseline.py --kind ssh --target 127.0.0.1 --port 2222 --key KEY --provider codex ...
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# BENCH_COLLECTIONS: the collections path under test (bench/run.py --ref exports a snapshot).
sys.path.insert(0, os.environ.get("BENCH_COLLECTIONS") or str(ROOT / ".cache" / "collections"))

from ansible_collections.bot_bottle.agents.plugins.module_utils import configedit  # noqa: E402
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.provider import (  # noqa: E402
    get_provider,
    write_controller_files,
)
from ansible_collections.bot_bottle.agents.plugins.plugin_utils.request import ProvisionRequest  # noqa: E402

# Runs in the guest (python3, stdlib only): merge owned keys into a JSON/TOML config, or set
# one entry (key path -> value), then write it atomically with mode and owner.
GUEST_PY = r'''
import json, os, shutil, sys, tomllib
op, fmt, path, mode, owner, key_path = sys.argv[1:7]
data_in = sys.stdin.buffer.read().decode()
def load(text):
    if not text.strip():
        return {}
    return json.loads(text) if fmt == "json" else tomllib.loads(text)
def merge(base, owned):
    for k, v in owned.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base
def key(k):
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)
def value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return json.dumps(v)
def dump_toml(data, prefix=()):
    scalars = [f"{key(k)} = {value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    out = []
    if scalars or not prefix:
        out.append(("[" + ".".join(key(p) for p in prefix) + "]\n" if prefix else "") + "".join(s + "\n" for s in scalars))
    for k, v in data.items():
        if isinstance(v, dict):
            out.append(dump_toml(v, prefix + (k,)))
    return "\n".join(o for o in out if o)
try:
    with open(path) as f:
        data = load(f.read())
except FileNotFoundError:
    data = {}
if op == "merge":
    merge(data, load(data_in))
else:
    node = data
    keys = json.loads(key_path)
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = json.loads(data_in)
text = json.dumps(data, indent=2, ensure_ascii=False) + "\n" if fmt == "json" else dump_toml(data)
tmp = path + ".tmp"
with open(tmp, "w") as f:
    f.write(text)
os.chmod(tmp, int(mode, 8))
user, _, group = owner.partition(":")
shutil.chown(tmp, user, group)
os.replace(tmp, path)
'''


class Target:
    """One bottle reached by subprocess calls; counts them."""

    def __init__(self) -> None:
        self.calls = {"exec": 0, "copy": 0}

    def _call(self, kind: str, argv: list[str], stdin: bytes | None = None) -> str:
        self.calls[kind] += 1
        proc = subprocess.run(argv, input=stdin, capture_output=True, check=False)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise SystemExit(f"baseline: {' '.join(argv[:6])} ... failed ({proc.returncode}): {err}")
        return proc.stdout.decode(errors="replace")

    def run(self, argv: list[str], stdin: bytes | None = None) -> str:
        raise NotImplementedError

    def copy(self, local: str, remote_dir: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class DockerTarget(Target):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def run(self, argv, stdin=None):
        return self._call("exec", ["docker", "exec", "-i", self.name, *argv], stdin)

    def copy(self, local, remote_dir):
        self._call("copy", ["docker", "cp", local, f"{self.name}:{remote_dir}/"])


class SshTarget(Target):
    """ssh/scp with a connection master for this run (as Ansible's ControlPersist gives it)."""

    def __init__(self, host: str, port: int, key: str) -> None:
        super().__init__()
        self.host = host
        self.control = tempfile.mkdtemp(prefix="bb-base-cp-")
        self.opts = ["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ControlMaster=auto",
                     "-o", f"ControlPath={self.control}/cm", "-o", "ControlPersist=60s"]
        self.port = str(port)

    def run(self, argv, stdin=None):
        return self._call("exec", ["ssh", "-p", self.port, *self.opts, f"root@{self.host}", shlex.join(argv)], stdin)

    def copy(self, local, remote_dir):
        self._call("copy", ["scp", "-q", "-r", "-P", self.port, *self.opts, local, f"root@{self.host}:{remote_dir}/"])

    def close(self):
        subprocess.run(["ssh", "-p", self.port, *self.opts, "-O", "exit", f"root@{self.host}"], capture_output=True, check=False)
        shutil.rmtree(self.control, ignore_errors=True)


def desired(args: argparse.Namespace) -> dict[str, t.Any]:
    """The same desired state the role computes (and its controller files written)."""
    servers = [{"name": "supervise", "url": args.mcp_url}] if args.mcp_url else []
    request = ProvisionRequest.from_options(dict(
        provider=args.provider, state_dir=args.state_dir, guest_home=args.guest_home, owner=args.owner,
        trusted_project_path=args.trusted, skills=args.skill, skills_root=args.skills_root,
        prompt_file=args.prompt, mcp_servers=servers,
    ))
    plan = get_provider(args.provider).build(request)
    write_controller_files(plan.controller_files)
    return plan.guest_module_args()


def provision(target: Target, state: dict[str, t.Any], stage: Path) -> None:
    for command in state["checks"]:
        target.run(list(command["argv"]))
    trees = [tree["path"] for tree in state["trees"]]
    dirs = " && ".join(
        ("{ [ -d %s ] || " % shlex.quote(d["path"]) if d.get("create_only") else "{ ")
        + f"install -d -o {shlex.quote(d['owner'].split(':')[0])} -g {shlex.quote(d['owner'].split(':')[1])} "
        f"-m {d['mode']} {shlex.quote(d['path'])}; }}" for d in state["dirs"]
    )
    target.run(["sh", "-c", f"{dirs} && rm -rf {' '.join(map(shlex.quote, trees)) or '/nonexistent'}"])

    attrs: list[tuple[str, str, str]] = []  # path, mode, owner: fixed in one call at the end
    for i, f in enumerate(state["files"]):
        content = base64.b64decode(f["content_b64"])
        if f.get("merge") == "block" or f.get("record"):
            # The user's settings (recorded) and the context block: nothing to write when empty.
            if content.strip() in (b"", b"{}"):
                continue
            if f["merge"] == "block":
                f = dict(f, merge="replace")
                content = configedit.with_block("", content.decode("utf-8")).encode("utf-8")
        if f.get("merge", "replace") != "replace":
            fmt = f["merge"]
            target.run(["python3", "-c", GUEST_PY, "merge", fmt, f["path"], f["mode"], f["owner"], "[]"], content)
            continue
        local = stage / f"file{i}" / os.path.basename(f["path"])
        local.parent.mkdir()
        local.write_bytes(content)
        target.copy(str(local), os.path.dirname(f["path"]))
        attrs.append((f["path"], f["mode"], f["owner"]))

    for i, tree in enumerate(state["trees"]):
        local = stage / f"tree{i}" / os.path.basename(tree["path"])
        for entry in tree["files"]:
            path = local / entry["relpath"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(base64.b64decode(entry["content_b64"]))
            attrs.append((f"{tree['path']}/{entry['relpath']}", entry["mode"], tree["owner"]))
        target.copy(str(local), os.path.dirname(tree["path"]))
        subdirs = {str(parent) for e in tree["files"] for parent in Path(e["relpath"]).parents}
        for sub in sorted(subdirs):  # "." is the skill directory itself
            attrs.append((tree["path"] if sub == "." else f"{tree['path']}/{sub}", "700", tree["owner"]))
    fix = " && ".join(f"chown {shlex.quote(o)} {shlex.quote(p)} && chmod {m} {shlex.quote(p)}" for p, m, o in attrs)
    if fix:
        target.run(["sh", "-c", fix])

    for entry in state["config_entries"]:
        target.run(
            ["python3", "-c", GUEST_PY, "entry", entry["format"], entry["path"], entry["mode"], entry["owner"],
             json.dumps(entry["entry_path"])],
            json.dumps(entry["entry"]).encode(),
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=("docker", "ssh"), required=True)
    p.add_argument("--target", required=True, help="container name, or SSH host")
    p.add_argument("--port", type=int, default=22)
    p.add_argument("--key", default="")
    p.add_argument("--provider", required=True)
    p.add_argument("--state-dir", required=True)
    p.add_argument("--guest-home", default="/home/node")
    p.add_argument("--owner", default="node:node")
    p.add_argument("--trusted", default="")
    p.add_argument("--skill", action="append", default=[])
    p.add_argument("--skills-root", default="")
    p.add_argument("--prompt", default="")
    p.add_argument("--mcp-url", default="")
    args = p.parse_args(argv)

    state = desired(args)
    target: Target = DockerTarget(args.target) if args.kind == "docker" else SshTarget(args.target, args.port, args.key)
    try:
        with tempfile.TemporaryDirectory(prefix="bb-base-") as stage:
            provision(target, state, Path(stage))
    finally:
        target.close()
    print(json.dumps({"calls": target.calls}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
