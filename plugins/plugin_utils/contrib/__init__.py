# -*- coding: utf-8 -*-
# Copyright (c) bot_bottle contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Provider plugins: one file per agent, each defining ``PROVIDER`` (an ``AgentProvider``)."""
