"""Console -> dialer commands about phones (on the commands channel); the dial
loops ignore them, dialer.phone_service acts on them."""

from __future__ import annotations

RECONNECT = "agent_leg_reconnect"  # {agent_id}
MONITOR = "monitor"  # {monitor_id, supervisor_id, agent_id, mode}
MONITOR_STOP = "monitor_stop"  # {monitor_id, supervisor_id}
