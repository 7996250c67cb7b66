"""Whether an agent's contact is still going on, for the disposition and Disponible.

A phone call ends only when the dialer sees it end: it moves the agent from talking to
wrap-up then (dialer/loop/finishing.py, dialer/inbound/calls.py). A disposition saved
while the debtor is still on the line records the result and leaves the agent talking:
moved to wrap-up at the save, the page's timer (or Disponible) made them ready with the
debtor still in their bridge, and the dialer could bridge a second debtor into it. A
chat ends with its disposition (console/chat_queue.py closes it): its agent goes to
wrap-up at the save. Disponible is refused while the agent's call is up, whatever the
state says (a wrap-up left by an older console, a pause after a lost phone leg).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Engine

from console.agent_service import CHAT_LEDGER_SOURCE
from console.i18n import N_
from dialer.agent_state import AgentSnapshot, AgentState, AgentStates
from store.db import transaction
from store.models import CallAttempt

CALL_STILL_UP = N_("La llamada sigue en curso: cuelgue con «Colgar» antes de quedar disponible.")
CHAT_STILL_OPEN = N_("La conversación sigue abierta: ciérrela antes de quedar disponible.")
SAVED_IN_CALL = N_("Tipificación guardada. La llamada sigue en curso: al colgar empieza el cierre.")

ON_A_CONTACT = (AgentState.reserved, AgentState.talking)


class Going(StrEnum):
    call = "call"
    chat = "chat"


def going_on(engine: Engine, agent_id: int, snap: AgentSnapshot) -> Going | None:
    """The agent's contact still going on, or None. Reserved or talking: theirs, a call
    unless its row is a chat's. Any other state with an attempt (a wrap-up, a pause,
    no audio): a phone call whose row is still open (no result, no end) and names this
    agent or nobody yet (a transfer's row names the agent who took it)."""
    in_one = snap.state in ON_A_CONTACT
    if snap.attempt_id is None:
        return Going.call if in_one else None
    with transaction(engine) as session:
        row = session.get(CallAttempt, snap.attempt_id)
        if row is None:
            return Going.call if in_one else None
        if row.source == CHAT_LEDGER_SOURCE:
            return Going.chat if in_one else None
        if in_one:
            return Going.call
        still_open = row.result is None and row.ended_at is None
        return Going.call if still_open and row.agent_id in (None, agent_id) else None


async def after_disposition(states: AgentStates, agent_id: int, attempt_id: int,
                            chat: bool) -> bool:  # fmt: skip
    """The agent's state after the disposition of `attempt_id` is saved; True when the
    agent is still on that call (the debtor on the line: talking until the dialer ends
    it). A chat's agent goes to wrap-up; an agent on another contact stays on it."""
    snap = await states.get(agent_id)
    on_it = snap.state in ON_A_CONTACT and snap.attempt_id in (None, attempt_id)
    if not on_it:
        return False
    if not chat:
        return True
    await states.wrap_up(agent_id)
    return False
