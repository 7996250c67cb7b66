"""The collections results an agent's disposition adds to the console's /metrics.

Counted once the disposition is committed (a refused or rolled-back form counts
nothing), from facts save_disposition read in its transaction. Labels stay bounded:
the campaign's configured name, the debtor's country code, the disposition's outcome
code, the region as an ISO 3166-2 code and the debtor's local hour; never an account,
a number or the agent's notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from metrics import definitions as m
from metrics.labels import campaign_label, country_label, hour_label, reason_label, region_label


@dataclass(frozen=True)
class DispositionFacts:
    campaign: str  # "" for an account with no campaign
    country: str | None
    region: str | None
    outcome: str  # the disposition's code (console/dispositions.py OUTCOMES)
    right_party_contact: bool
    promised: Decimal | None  # the promise's amount, in the account's currency
    # The call's start in the debtor's zone; None when no zone is known (no hour to count).
    local_call_time: datetime | None


def count_disposition(facts: DispositionFacts) -> None:
    campaign = campaign_label(facts.campaign) if facts.campaign else "none"
    country = country_label(facts.country)
    m.DISPOSITIONS.labels(campaign=campaign, outcome=reason_label(facts.outcome)).inc()
    if facts.right_party_contact:
        m.RIGHT_PARTY_CONTACTS.labels(campaign=campaign, country=country).inc()
        if facts.local_call_time is not None:
            m.LOCAL_HOUR_RIGHT_PARTY.labels(
                country=country,
                region=region_label(country, facts.region),
                hour=hour_label(facts.local_call_time),
            ).inc()
    if facts.promised is not None:
        m.PROMISES_MADE.labels(campaign=campaign, country=country).inc()
        m.PROMISED_AMOUNT.labels(campaign=campaign, country=country).inc(float(facts.promised))
