"""An agent opens the debtor's portal again, on a live call with the debtor whose
identity the agent verified on that call: the same unlock as a supervisor's
portal_locked task or `cobrador portal unlock`, audited with the agent and the call.

Only the titular's verification counts (the portal is the debtor's, not the
guarantor's), only on the call the dialer gave the agent now (not an old one), and
the identity check itself is the campaign's questions on the call (agent_service
verify_party), which are audited too. A debtor locked out of the portal calls;
making them wait for a supervisor would send them away with nothing done.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from console.users import CurrentUser
from selfservice.identity import unlock_account_in
from store.db import transaction
from store.models import CallAttempt

TITULAR = "titular"


class NotVerified(Exception):
    """The debtor (the titular) is not verified on this call."""


def unlock_on_call(engine: Engine, agent: CurrentUser, attempt_id: int,
                   live_attempt: int | None, verified_party: str | None,
                   now: datetime) -> bool:  # fmt: skip
    """Unlock the reference of the account on the agent's live call; False when it was
    not locked. PermissionError: not the agent's live call; NotVerified: the titular
    was not verified on it."""
    with transaction(engine) as session:
        attempt = session.get(CallAttempt, attempt_id)
        if (
            attempt is None
            or attempt.account_id is None
            or attempt.id != live_attempt
            or attempt.agent_id not in (None, agent.id)
        ):
            raise PermissionError(attempt_id)
        if verified_party != TITULAR:
            raise NotVerified(attempt_id)
        return unlock_account_in(session, attempt.account_id, agent.actor, now,
                         agent.id, {"by": "agent_on_call", "attempt_id": attempt_id,
                                    "verified": TITULAR})  # fmt: skip
