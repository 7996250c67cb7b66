"""The contact ledger the caps read: every attempt on every channel (the attempt
rows, `store.models.CallAttempt`), each event tagged with its channel. Which channel
counts toward which cap is the profile's to say (each cap names its channels,
compliance/profile.py); here, which channels' rows are events of each kind at all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from compliance.caps import AccountHistory, Event, channel_member
from store.models import CONTACT_CHANNELS, CallAttempt, ContactChannel

# Attempt rows that never reached the debtor: not attempts for the caps.
NEVER_DIALED = ("blocked", "not_placed")

# Results that start the abandon cool-down (a profile's or campaign's [abandon]
# cooldown_hours, reason `recent_abandon`): a person left without an agent, and an
# AMD machine drop, since the law counts a false positive (a person AMD called a
# machine and the dialer hung up on) as an abandon and which drops were persons is
# not known for any one debtor (a campaign's false-positive estimate is a share of
# a floor's drops, for its rate; a debtor's cool-down is all or nothing).
ABANDON_RESULTS = ("abandoned", "machine")


def starts_abandon_cooldown(result: str | None) -> bool:
    return result in ABANDON_RESULTS


# Which channels' rows are events of each kind: an attempt on any channel (a call
# placed, a message submitted, a visit made), a direct contact on any channel
# (right_party_contact: a right-party call, a reply, a visit that met the debtor).
COUNTED: Mapping[str, frozenset[str]] = {
    "attempts": frozenset(CONTACT_CHANNELS),
    "contacts": frozenset(CONTACT_CHANNELS),
    "abandons": frozenset({ContactChannel.call.value}),  # only a call can be abandoned
}


def load_history(
    engine: Engine, account_ids: Sequence[int], since: datetime,
    counted: Mapping[str, frozenset[str]] = COUNTED,
) -> dict[int, AccountHistory]:  # fmt: skip
    """Attempts (never-dialed ones excluded), contacts and abandons since `since`,
    each from the channels `counted` names for it."""
    out: dict[int, AccountHistory] = {a: AccountHistory() for a in account_ids}
    if not account_ids:
        return out
    channels = sorted(frozenset().union(*counted.values()))
    with Session(engine) as session:
        rows = session.execute(
            select(
                CallAttempt.id,
                CallAttempt.account_id,
                CallAttempt.started_at,
                CallAttempt.answered_at,
                CallAttempt.result,
                CallAttempt.right_party_contact,
                CallAttempt.direction,
                CallAttempt.channel,
            ).where(
                CallAttempt.account_id.in_(list(account_ids)),
                CallAttempt.started_at > since,
                CallAttempt.channel.in_(channels),
                or_(CallAttempt.result.is_(None), CallAttempt.result.notin_(NEVER_DIALED)),
            )
        ).all()
    for attempt_id, account_id, started, answered, result, rpc, direction, channel in rows:
        if account_id is None:
            continue
        history = out[account_id]
        member = channel_member(f"a:{attempt_id}", channel)
        if direction != "inbound" and channel in counted["attempts"]:
            # A debtor's own call is no attempt of ours (profiles' [inbound] tables);
            # its right-party conversation still counts as a contact below.
            history.attempts.append(Event(member, started.timestamp()))
        if rpc and channel in counted["contacts"]:
            history.contacts.append(Event(member, (answered or started).timestamp()))
        if starts_abandon_cooldown(result) and channel in counted["abandons"]:
            history.abandons.append(Event(member, (answered or started).timestamp()))
    return out
