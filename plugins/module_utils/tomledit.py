# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moved to configedit (kept until contrib/codex.py imports dumps_table from there)."""

from __future__ import annotations

from ansible_collections.bot_bottle.agents.plugins.module_utils.configedit import dumps_table  # noqa: F401

__all__ = ["dumps_table"]
