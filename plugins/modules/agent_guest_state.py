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
  - Steps run in this order, and stop at the first failure. I(dirs), I(pre_copy), I(files),
    I(verify), I(trees), I(config_entries).
  - Every write is atomic (temp file in the same directory, then rename) with its final mode and
    owner set before the content is written. A path that is a symlink is refused, never followed.
  - You normally do not call this module directly.
author:
  - bot_bottle contributors (@bot-bottle)
options:
  dirs:
    description: Directories to create, with their mode and owner.
    type: list
    elements: dict
    default: []
    suboptions:
      path: {description: Absolute path in the bottle., type: path, required: true}
      mode: {description: Octal mode as a string., type: str, default: "700"}
      owner: {description: "C(user:group) in the bottle.", type: str, default: "node:node"}
  pre_copy:
    description: Read-only checks run before files are written. They never report a change.
    type: list
    elements: dict
    default: []
    suboptions:
      argv: {description: "Command and arguments, run without a shell.", type: list, elements: str, required: true}
      error: {description: What the user is told if the command fails., type: str, required: true}
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
        description: How the content meets an existing file.
        type: str
        default: replace
        choices: [replace, json, toml]
      secret: {description: The content is a credential; no diff shows it., type: bool, default: false}
  verify:
    description: Read-only checks run after the files are in place. They never report a change.
    type: list
    elements: dict
    default: []
    suboptions:
      argv: {description: "Command and arguments, run without a shell.", type: list, elements: str, required: true}
      error: {description: What the user is told if the command fails., type: str, required: true}
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
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode: {support: full}
  diff_mode: {support: full}
  platform: {support: full, platforms: posix}
notes:
  - Needs Python 3.11 or newer in the bottle when a TOML file is edited (C(tomllib)).
"""

EXAMPLES = r"""
- name: Create the agent directory and a file in one round trip
  bot_bottle.agents.agent_guest_state:
    dirs:
      - path: /home/node/.codex
    files:
      - path: /home/node/.codex/AGENTS.md
        content_b64: "{{ 'Be brief.' | b64encode }}"
"""

RETURN = r"""
changes:
  description: What changed (or would change in check mode), one line each.
  returned: always
  type: list
  elements: str
  sample: ["created directory /home/node/.codex", "created /home/node/.codex/auth.json"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bot_bottle.agents.plugins.module_utils.bottle import ApplyError, Bottle, decode_content

_MODE = dict(type="str", default="600")
_OWNER = dict(type="str", default="node:node")
_COMMAND = dict(argv=dict(type="list", elements="str", required=True), error=dict(type="str", required=True))
_CONTENT = dict(type="str", required=True, no_log=True)

ARGUMENT_SPEC = dict(
    dirs=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), mode=dict(type="str", default="700"), owner=_OWNER)),
    pre_copy=dict(type="list", elements="dict", default=[], options=_COMMAND),
    files=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), content_b64=_CONTENT, mode=_MODE, owner=_OWNER,
        merge=dict(type="str", default="replace", choices=["replace", "json", "toml"]),
        secret=dict(type="bool", default=False, no_log=False))),
    verify=dict(type="list", elements="dict", default=[], options=_COMMAND),
    trees=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), owner=_OWNER,
        files=dict(type="list", elements="dict", required=True, options=dict(
            relpath=dict(type="str", required=True), content_b64=_CONTENT, mode=_MODE)))),
    config_entries=dict(type="list", elements="dict", default=[], options=dict(
        path=dict(type="path", required=True), format=dict(type="str", required=True, choices=["json", "toml"]),
        entry_path=dict(type="list", elements="str", required=True), entry=dict(type="dict"),
        entry_secret=dict(type="dict", default={}, no_log=True),
        mode=_MODE, owner=_OWNER)),
)


def apply(bottle: Bottle, params: dict) -> None:
    for d in params["dirs"]:
        bottle.ensure_dir("dirs", d["path"], d["mode"], d["owner"])
    bottle.check_commands("pre_copy", params["pre_copy"])
    for f in params["files"]:
        content = decode_content("files", f["content_b64"])
        bottle.ensure_file("files", f["path"], content, f["mode"], f["owner"], f["merge"], f["secret"])
    bottle.check_commands("verify", params["verify"])
    for tree in params["trees"]:
        files = {f["relpath"]: (decode_content("trees", f["content_b64"]), f["mode"]) for f in tree["files"]}
        bottle.mirror_tree("trees", tree["path"], files, tree["owner"])
    for e in params["config_entries"]:
        entry = None if e["entry"] is None else {**e["entry"], **e["entry_secret"]}
        bottle.ensure_config_entry("config_entries", e["path"], e["format"], e["entry_path"], entry, e["mode"], e["owner"])


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)

    def run(argv):
        return module.run_command(argv, check_rc=False)

    # A dry pass first: any bad input (unparseable config, missing owner, symlink) fails
    # before the first byte is written, so a failed run leaves the bottle as it was.
    bottle = Bottle(check_mode=True, run=None)
    try:
        apply(bottle, module.params)
        if not module.check_mode:
            bottle = Bottle(check_mode=False, run=run)
            apply(bottle, module.params)
        else:
            bottle.run = run
            bottle.check_commands("pre_copy", module.params["pre_copy"])
            bottle.check_commands("verify", module.params["verify"])
    except ApplyError as exc:
        module.fail_json(msg=str(exc), field=exc.field, changes=bottle.changes)
    result = dict(changed=bool(bottle.changes), changes=bottle.changes)
    if module._diff:
        result["diff"] = bottle.diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
