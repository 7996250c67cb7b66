"""Context and variable names of asterisk-conf/extensions.conf that pbxsim's
applications use besides dialer/channel_vars.py's."""

from __future__ import annotations

import re

SIM_AGENTS = "sim-agents"
SAFE_HARBOR = "safe-harbor"
CONTEXT_SUPERVISOR = "cobrador-supervisor"
CONTEXT_SPY = "cobrador-spy"
SPY_MODE = "COBRADOR_SPY_MODE"
# ChanSpy options per mode, as in extensions.conf's cobrador-spy.
SPY_OPTIONS = {"listen": "qbSE", "whisper": "qbSEw", "barge": "qbSEB"}
SPY_AGENT_ID = "COBRADOR_SPY_AGENT_ID"
AGENT_BRIDGE = re.compile(r"^agent-[0-9]+$")
