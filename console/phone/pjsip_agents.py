"""Render cobrador-phones/agents.conf: one PJSIP endpoint per agent, from pjsip.conf's
agent-webrtc templates (pure text; no I/O)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping

from console.phone.credentials import endpoint_name

HEADER = """\
; Written by the cobrador console (console/phone): do not edit, it is rewritten
; at every phone login, logout and credential expiry. One endpoint per agent,
; agent-<users.id>; templates in pjsip.conf.
"""


def locked_password(secret: bytes, agent_id: int) -> str:
    """The password of an agent with no live credential: known to nobody outside
    the console, and stable (the file only changes when a credential does)."""
    digest = hmac.new(secret, f"phone-locked:{agent_id}".encode(), hashlib.sha256)
    return "locked-" + digest.hexdigest()


def render(agent_ids: Iterable[int], passwords: Mapping[int, str], secret: bytes) -> str:
    """agents.conf for `agent_ids`; `passwords` holds the live credentials' passwords."""
    parts = [HEADER]
    for agent_id in sorted(set(agent_ids)):
        name = endpoint_name(agent_id)
        password = passwords.get(agent_id) or locked_password(secret, agent_id)
        if not password.replace("-", "").replace("_", "").isalnum():
            raise ValueError("a phone password must be URL-safe base64 or hex")
        parts.append(
            f"\n[{name}](agent-webrtc-endpoint)\n"
            f"aors = {name}\n"
            f"auth = {name}\n"
            f"\n[{name}](agent-webrtc-aor)\n"
            f"\n[{name}](agent-webrtc-auth)\n"
            f"username = {name}\n"
            f"password = {password}\n"
        )
    return "".join(parts)
