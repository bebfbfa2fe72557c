#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: agent_guest_state
short_description: Make a bottle match a computed desired state in one module run
version_added: "0.1.0"
description:
  - The in-bottle half of M(bot_bottle.agents.agent_provision_apply) and
    M(bot_bottle.agents.agent_mcp_server). Those action plugins compute the desired state on
    the controller and run this module once, so provisioning costs one remote round trip.
  - "A dry pass runs first and writes nothing: it checks that the bottle user I(run_as) exists,
    validates every step (configs parse, owners and parent directories exist, no symlinks) and
    runs the read-only I(checks) as that user. Only then are I(dirs), I(files), I(trees) and I(config_entries) applied,
    in this order, agent configs last. A failed run has written nothing, unless a write itself
    failed (C(changes) then lists what was written)."
  - Every write is atomic (temp file in the same directory, then rename) with its final mode and
    owner set before the content is written. A path that is a symlink is refused, never followed.
  - An agent config (C(merge=json) or C(merge=toml) files and I(config_entries)) is written at most
    once per run, with all its owned keys and entries. JSON configs are rewritten whole with the
    user's keys kept (Claude rewrites its own on every run). An existing TOML config that needs a
    change is edited on the controller with tomlkit, so every byte outside the owned statements
    (comments, layout, CRLF line ends, a UTF-8 BOM) is kept; the module then reports the file in
    C(toml_edits_needed), writes nothing, and the action plugin runs it once more with I(toml_files).
  - You normally do not call this module directly.
author:
  - bot_bottle contributors (@bot-bottle)
options:
  run_as:
    description:
      - The bottle user (C(user) or C(user:group)) that runs the I(checks). It must exist.
      - Defaults to the user of the first owner in I(dirs), I(files), I(trees), I(config_entries),
        or C(node) when there is none.
    type: str
  checks:
    description:
      - Read-only checks, run in the dry pass before anything is written, in check mode too. They
        never report a change.
      - Each runs without a shell as I(run_as), with C(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
        and C(HOME) set to a throwaway directory (created 0700 for that user under C(/tmp), removed
        after); no other variable (no C(CODEX_HOME), no C(CLAUDE_CONFIG_DIR)) is passed, so no real
        home is touched.
      - A command that fails or is not found fails the run with its I(error) text.
    type: list
    elements: dict
    default: []
    suboptions:
      argv: {description: "Command and arguments, run without a shell.", type: list, elements: str, required: true}
      error: {description: What the user is told if the command fails., type: str, required: true}
  dirs:
    description: Directories to create, with their mode and owner.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: "Absolute path in the bottle. Its parent must exist (or be created earlier in I(dirs)).", type: path, required: true}
      mode: {description: Octal mode as a string., type: str, default: "700"}
      owner: {description: "C(user:group) in the bottle.", type: str, default: "node:node"}
      create_only:
        description: Create it with I(mode) and I(owner) if missing; an existing directory is left as it is.
        type: bool
        default: false
  files:
    description: Files to place. C(merge=json) and C(merge=toml) set only the keys of the content in an existing file.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path in the bottle., type: path, required: true}
      content_b64: {description: "The content, base64 encoded. Never logged.", type: str, required: true}
      mode: {description: Octal mode as a string., type: str, default: "600"}
      owner: {description: "C(user:group) in the bottle.", type: str, default: "node:node"}
      merge:
        description:
          - How the content meets an existing file.
          - C(replace) makes the file exactly the content. C(json) and C(toml) set the keys of the
            content in the file and keep the rest. C(block) makes the content the collection's
            marked block in a text file the user may also write (an empty content removes the block;
            text outside it is kept).
        type: str
        default: replace
        choices: [replace, json, toml, block]
      secret: {description: The content is a credential; no diff shows it., type: bool, default: false}
      record:
        description:
          - With C(merge=json) or C(merge=toml), the content is the user's settings and this file (in the
            bottle, written 0600 after the config) records which keys the collection set, by key path
            and a sha256 of the value.
          - A key recorded by an earlier run and no longer in the content is removed from the config if
            it still holds the recorded value; a key that already held the requested value is never
            recorded, so it is never removed.
        type: path
  trees:
    description: Directories mirrored exactly (extra files inside them are removed), such as skills.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path of the directory in the bottle., type: path, required: true}
      owner: {description: "C(user:group) in the bottle.", type: str, default: "node:node"}
      files:
        description: The files of the tree.
        type: list
        elements: dict
        required: true
        suboptions:
          relpath: {description: Path relative to the tree., type: str, required: true}
          content_b64: {description: "The content, base64 encoded. Never logged.", type: str, required: true}
          mode: {description: Octal mode as a string., type: str, default: "600"}
  config_entries:
    description: One entry each in an agent config file (JSON or TOML), everything else kept.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The config file in the bottle., type: path, required: true}
      format: {description: The file format., type: str, required: true, choices: [json, toml]}
      entry_path: {description: Keys (JSON) or table path (TOML) of the entry., type: list, elements: str, required: true}
      entry: {description: The entry; null removes it., type: dict}
      entry_secret:
        description: Keys of the entry whose values may be credentials (headers, env). Never logged.
        type: dict
        default: {}
      mode: {description: Octal mode of the file as a string., type: str, default: "600"}
      owner: {description: "C(user:group) in the bottle.", type: str, default: "node:node"}
  toml_files:
    description:
      - Set by the action plugins on their second run, not by users. The complete new text of TOML
        configs listed in C(toml_edits_needed) by the first run, as edited on the controller.
      - A file whose sha256 is no longer I(expected_sha256) was changed by someone else during the
        run; the module then fails and writes nothing.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: The config file in the bottle., type: path, required: true}
      content_b64: {description: "The new content, base64 encoded. Never logged.", type: str, required: true}
      expected_sha256: {description: "The sha256 of the file the edit was made from (empty: no file).", type: str, required: true}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
  platform: {support: full, platforms: posix}
notes:
  - Needs Python 3.11 or newer in the bottle when a TOML file is edited (C(tomllib)).
  - Runs as root in the bottle (to set owners and switch to I(run_as) for the checks). As another
    user it runs the checks as itself.
  - "Test hook: when C(/run/bot-bottle-test-slow-writes) exists in the bottle, each write logs to
    C(/run/bot-bottle-test-writes.log) and pauses the seconds the file holds before its rename
    (C(SECONDS N): only in the N-th write). Test use only."
"""

EXAMPLES = r"""
- name: Create the agent directory and a file in one round trip
  bot_bottle.agents.agent_guest_state:
    run_as: node
    checks:
      - argv: [codex, --version]
        error: the codex CLI does not run in the bottle
    dirs:
      - path: /home/node/.codex
    files:
      - path: /home/node/.codex/AGENTS.md
        content_b64: "{{ 'Be brief.' | b64encode }}"
"""

RETURN = r"""
changes:
  description: What was changed (in check mode, what would change), one line each. On failure, what was written before it.
  returned: always
  type: list
  elements: str
  sample: ["created directory /home/node/.codex", "created /home/node/.codex/auth.json"]
would_change:
  description: What the run would have changed (the dry pass), one line each.
  returned: failure, or when C(toml_edits_needed) is returned
  type: list
  elements: str
toml_edits_needed:
  description:
    - Existing TOML configs that need an edit, with their current content and its sha256. Nothing was
      written. The action plugins edit them and run the module again; they never return this key.
  returned: when an existing TOML config needs a change and I(toml_files) does not hold it (not in check mode)
  type: list
  elements: dict
  contains:
    path: {description: The config file., type: str}
    content_b64: {description: "Its current content, base64 encoded.", type: str}
    sha256: {description: The sha256 of that content., type: str}
    remove: {description: "Key paths of settings to remove (see I(files[].record)), in order.", type: list, elements: list}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.agents.plugins.module_utils.bottle import (
    ApplyError,
    Bottle,
    check_user,
    decode_content,
    user_runner,
)

_MODE = dict(type="str", default="600")
_OWNER = dict(type="str", default="node:node")
_COMMAND = dict(argv=dict(type="list", elements="str", required=True), error=dict(type="str", required=True))
_CONTENT = dict(type="str", required=True, no_log=True)

ARGUMENT_SPEC = dict(
    run_as=dict(type="str"),
    checks=dict(type="list", elements="dict", default=[], options=_COMMAND),
    dirs=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), mode=dict(type="str", default="700"), owner=_OWNER,
        create_only=dict(type="bool", default=False))),
    files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), content_b64=_CONTENT, mode=_MODE, owner=_OWNER,
        merge=dict(type="str", default="replace", choices=["replace", "json", "toml", "block"]),
        secret=dict(type="bool", default=False, no_log=False), record=dict(type="path"))),
    trees=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), owner=_OWNER,
        files=dict(type="list", elements="dict", required=True, options=dict(
            relpath=dict(type="str", required=True), content_b64=_CONTENT, mode=_MODE)))),
    config_entries=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), format=dict(type="str", required=True, choices=["json", "toml"]),
        entry_path=dict(type="list", elements="str", required=True), entry=dict(type="dict"),
        entry_secret=dict(type="dict", default={}, no_log=True),
        mode=_MODE, owner=_OWNER)),
    toml_files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), content_b64=_CONTENT,
        expected_sha256=dict(type="str", required=True))),
)


def bottle_user(params: dict) -> str:
    """run_as, or the user of the first owner in the request, or node."""
    if params.get("run_as"):
        return params["run_as"].partition(":")[0]
    for key in ("dirs", "files", "trees", "config_entries"):
        for item in params.get(key) or []:
            if item.get("owner"):
                return item["owner"].partition(":")[0]
    return "node"


def apply(bottle: Bottle, params: dict) -> None:
    for d in params["dirs"]:
        bottle.ensure_dir("dirs", d["path"], d["mode"], d["owner"], d.get("create_only", False))
    for f in params["files"]:
        content = decode_content("files", f["content_b64"])
        bottle.ensure_file("files", f["path"], content, f["mode"], f["owner"], f["merge"], f["secret"],
                           f.get("record") or "")
    for tree in params["trees"]:
        files = {f["relpath"]: (decode_content("trees", f["content_b64"]), f["mode"]) for f in tree["files"]}
        bottle.mirror_tree("trees", tree["path"], files, tree["owner"])
    for e in params["config_entries"]:
        entry = None if e["entry"] is None else {**e["entry"], **e["entry_secret"]}
        bottle.ensure_config_entry("config_entries", e["path"], e["format"], e["entry_path"], entry, e["mode"], e["owner"])
    bottle.finish()


def run(params: dict, check_mode: bool) -> tuple[Bottle, Bottle | None]:
    """The dry pass (every step without writing, then the checks as the bottle user), then the writes.

    Returns (dry pass, write pass); the write pass is None in check mode and when TOML edits are
    needed first. ApplyError carries the passes as ``dry`` and ``written``.
    """
    toml_files = {f["path"]: (decode_content("toml_files", f["content_b64"]), f["expected_sha256"])
                  for f in params.get("toml_files") or []}
    dry = Bottle(check_mode=True, toml_files=toml_files)
    writer: Bottle | None = None
    try:
        user = check_user("run_as", bottle_user(params))
        dry.run = user_runner(user)
        apply(dry, params)  # validates every step and lists what it would change (would_change on failure)
        dry.check_commands("checks", params["checks"])
        if check_mode or dry.toml_edits_needed:
            return dry, None
        writer = Bottle(check_mode=False, toml_files=toml_files)
        apply(writer, params)
    except ApplyError as exc:
        exc.dry, exc.written = dry, writer  # type: ignore[attr-defined]
        raise
    return dry, writer


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        dry, writer = run(module.params, module.check_mode)
    except ApplyError as exc:
        written = exc.written  # type: ignore[attr-defined]
        module.fail_json(msg=str(exc), field=exc.field, changes=written.changes if written else [],
                         would_change=exc.dry.changes)  # type: ignore[attr-defined]
    if writer is None and dry.toml_edits_needed and not module.check_mode:
        module.exit_json(changed=False, changes=[], would_change=dry.changes, toml_edits_needed=dry.toml_edits_needed)
    done = dry if writer is None else writer
    result = dict(changed=bool(done.changes), changes=done.changes)
    if module._diff:
        result["diff"] = done.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
