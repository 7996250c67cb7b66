"""A synthetic call floor that moves every dashboard metric with plausible
values: for dashboard work without a PBX and for the Prometheus integration
test until it is driven by a pbxsim run of the real dialer."""

from __future__ import annotations

import random
from dataclasses import dataclass

from metrics import definitions as m
from metrics.labels import AGENT_STATES, CALL_STATES, REGIONS, WINDOWS

MODE = "predictive"


@dataclass(frozen=True)
class SyntheticCampaign:
    name: str
    country: str
    registry: str


CAMPAIGNS = (
    SyntheticCampaign("synthetic_mora", "MX", "REUS"),
    SyntheticCampaign("synthetic_castigo", "CO", "RNE"),
    SyntheticCampaign("synthetic_preventiva", "PE", "LISTA"),
)
DISPOSITIONS = ("promise_to_pay", "refused", "wrong_number", "callback", "dispute")
BLOCK_REASONS = ("outside_hours", "attempt_cap_day", "registry_listed", "no_consent")
EMPTY_HOPPER_REASONS = ("no_accounts", "all_blocked")
RECORDING_FAILURES = ("missing", "empty")


class SyntheticFloor:
    """Each `tick()` is a moment of a busy floor: some calls placed and
    answered, agents moving between states, compliance checks, promises."""

    def __init__(self, rng: random.Random, now: float) -> None:
        self._rng = rng
        self._started = now
        for campaign in CAMPAIGNS:
            m.ABANDONMENT_TARGET.labels(campaign=campaign.name).set(0.03)
            m.REGISTRY_MAX_AGE.labels(country=campaign.country, registry=campaign.registry).set(
                31 * 86400
            )
            m.REGISTRY_ENTRIES.labels(country=campaign.country, registry=campaign.registry).set(
                rng.randint(100_000, 900_000)
            )
            m.REGISTRY_AGE.mark(
                now - rng.uniform(1, 20) * 86400,
                country=campaign.country,
                registry=campaign.registry,
            )
        m.AMI_UP.set(1)
        # The audit log's upkeep, as the keeper starts it (a real keeper beside this
        # floor marks its own checkpoints over these at its next pass).
        for witness in ("database", "directory"):
            m.AUDIT_CHECKPOINT_AGE.mark(now - rng.uniform(5, 60), witness=witness)
            m.AUDIT_WITNESS_FAILURES.labels(witness=witness)

    def tick(self) -> None:
        for campaign in CAMPAIGNS:
            self._calls(campaign)
            self._floor(campaign)
            self._compliance(campaign)
            self._results(campaign)
            self._recordings(campaign)
            self._inbound(campaign)
            self._messages(campaign)
            self._visits(campaign)
        m.FIELD_ON_SHIFT_AGENTS.set(self._rng.randint(3, 12))
        m.WEBSOCKETS_OPEN.set(self._rng.randint(5, 30))
        m.RECORDINGS_PURGE.labels(result=self._rng.choice(("purged", "held"))).inc()

    def _calls(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        placed = rng.randint(3, 8)
        m.CALLS_PLACED.labels(campaign=c.name, mode=MODE).inc(placed)
        humans = rng.randint(1, placed)
        machines = rng.randint(0, placed - humans)
        abandoned = 1 if rng.random() < 0.03 else 0
        m.CALLS_ANSWERED.labels(campaign=c.name, result="human").inc(humans)
        m.CALLS_ANSWERED.labels(campaign=c.name, result="machine").inc(machines)
        m.CALLS_ANSWERED.labels(campaign=c.name, result="unscreened").inc(rng.randint(0, 1))
        m.ABANDONED.labels(campaign=c.name).inc(abandoned)
        m.CALL_RESULTS.labels(campaign=c.name, result="contact").inc(humans - abandoned)
        m.CALL_RESULTS.labels(campaign=c.name, result="abandoned").inc(abandoned)
        m.CALL_RESULTS.labels(campaign=c.name, result="machine").inc(machines)
        for result in ("busy", "no_answer"):
            m.CALL_RESULTS.labels(campaign=c.name, result=result).inc(rng.randint(0, 2))
        for _ in range(placed):
            m.RING_TIME.labels(campaign=c.name).observe(rng.uniform(3, 30))
        for _ in range(humans):
            m.ANSWER_TO_BRIDGE.labels(campaign=c.name).observe(rng.uniform(0.05, 1.8))
            m.POP_LATENCY.labels(campaign=c.name).observe(rng.uniform(0.01, 0.3))
            talk = rng.uniform(20, 400)
            wrap = rng.uniform(5, 60)
            m.TALK_TIME.labels(campaign=c.name).observe(talk)
            m.WRAP_TIME.labels(campaign=c.name).observe(wrap)
            m.HANDLE_TIME.labels(campaign=c.name).observe(talk + wrap)
        region = rng.choice(sorted(REGIONS[c.country]))
        hour = f"{rng.randint(7, 20):02d}"
        labels = {"country": c.country, "region": f"{c.country}-{region}", "hour": hour}
        m.LOCAL_HOUR_ATTEMPTS.labels(**labels).inc(placed)
        m.LOCAL_HOUR_CONTACTS.labels(**labels).inc(humans)
        m.LOCAL_HOUR_RIGHT_PARTY.labels(**labels).inc(rng.randint(0, humans))
        for window in WINDOWS:
            m.ABANDONMENT_RATIO.labels(campaign=c.name, window=window).set(rng.uniform(0, 0.04))
            m.EARLY_HANGUP_RATIO.labels(campaign=c.name, window=window).set(rng.uniform(0, 0.1))
        if rng.random() < 0.1:
            m.ORIGINATE_ERRORS.labels(campaign=c.name, reason="timeout").inc()

    def _floor(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        for state in AGENT_STATES:
            if state != "logged_out":
                m.AGENTS_BY_STATE.labels(campaign=c.name, state=state).set(rng.randint(0, 12))
        for state in CALL_STATES:
            m.CALLS_IN_FLIGHT.labels(campaign=c.name, state=state).set(rng.randint(0, 6))
        m.DIAL_LEVEL.labels(campaign=c.name, mode=MODE).set(rng.uniform(1.0, 2.5))
        m.PACING_TARGET_CALLS.labels(campaign=c.name, mode=MODE).set(rng.randint(2, 20))
        m.HOPPER_SIZE.labels(campaign=c.name).set(rng.randint(0, 500))
        m.HOPPER_EMPTY.labels(campaign=c.name, reason=rng.choice(EMPTY_HOPPER_REASONS)).inc()
        if rng.random() < 0.05:
            m.HOPPER_LEASES_EXPIRED.labels(campaign=c.name).inc()

    def _compliance(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        for stage in ("hopper", "originate"):
            allowed = rng.randint(5, 20)
            blocked = rng.randint(0, 5)
            m.DECISIONS.labels(campaign=c.name, country=c.country, stage=stage, allowed="true").inc(
                allowed
            )
            m.DECISIONS.labels(
                campaign=c.name, country=c.country, stage=stage, allowed="false"
            ).inc(blocked)
            m.DECISION_BLOCKS.labels(
                campaign=c.name, country=c.country, stage=stage, reason=rng.choice(BLOCK_REASONS)
            ).inc(blocked)

    def _results(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        contacts = rng.randint(1, 4)
        promises = rng.randint(0, contacts)
        m.RIGHT_PARTY_CONTACTS.labels(campaign=c.name, country=c.country).inc(contacts)
        m.PROMISES_MADE.labels(campaign=c.name, country=c.country).inc(promises)
        m.PROMISED_AMOUNT.labels(campaign=c.name, country=c.country).inc(
            promises * rng.uniform(500, 5000)
        )
        # What the consoles read from SQL: promises resolved per window (kept 70-85 %).
        for window, due in (("1h", 4), ("24h", 90), ("30d", 2700)):
            kept = round(due * rng.uniform(0.7, 0.85))
            labels = {"campaign": c.name, "country": c.country, "window": window}
            m.RESOLVED_PROMISES.labels(**labels, result="kept").set(kept)
            m.RESOLVED_PROMISES.labels(**labels, result="broken").set(due - kept)
            m.KEPT_PROMISES_AMOUNT.labels(**labels).set(kept * rng.uniform(500, 5000))
        m.DISPOSITIONS.labels(campaign=c.name, outcome=rng.choice(DISPOSITIONS)).inc(contacts)

    def _recordings(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        written = rng.randint(1, 4)
        m.RECORDINGS_WRITTEN.labels(campaign=c.name).inc(written)
        m.RECORDING_BYTES.labels(campaign=c.name).inc(written * rng.randint(500_000, 3_000_000))
        m.RECORDING_CLOSE_TIME.observe(rng.uniform(0.005, 0.2))
        if rng.random() < 0.2:
            m.RECORDINGS_FAILED.labels(campaign=c.name, reason=rng.choice(RECORDING_FAILURES)).inc()

    def _messages(self, c: SyntheticCampaign) -> None:
        """Strategy messages: sends and blocks, and the last hour's results as the
        scheduler reads them from SQL (a failure ratio around 5%)."""
        rng = self._rng
        for channel in ("sms", "whatsapp", "email"):
            sent = rng.randint(5, 30)
            m.OUTREACH_MESSAGES.labels(c.name, channel, "sent").inc(sent)
            m.OUTREACH_MESSAGES.labels(c.name, channel, "blocked").inc(rng.randint(0, 3))
            m.OUTREACH_BLOCKS.labels(c.name, channel, rng.choice(BLOCK_REASONS)).inc(
                rng.randint(0, 3)
            )
            failed = rng.randint(0, max(1, sent // 10))
            m.OUTREACH_RESULTS.labels(c.name, channel, "delivered").set(sent * 20)
            m.OUTREACH_RESULTS.labels(c.name, channel, "failed").set(failed * 20)
            m.OUTREACH_DELIVERY_FAILURES.labels(c.name, channel).set(failed / (sent + failed))
            # What the gateways report (every sender), and the odd refused callback.
            m.MESSAGES.labels(channel, "sent").inc(sent)
            m.MESSAGES.labels(channel, "delivered").inc(sent - failed)
            m.MESSAGES.labels(channel, "failed").inc(failed)
            m.MESSAGE_REPORTS_REFUSED.labels(channel, "unknown_message").inc(rng.randint(0, 1))

    def _visits(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        made = rng.randint(0, 3)
        door = rng.randint(0, made)
        region = rng.choice(sorted(REGIONS[c.country]))
        labels = {"country": c.country, "region": f"{c.country}-{region}",
                  "hour": f"{rng.randint(8, 19):02d}"}  # fmt: skip
        m.FIELD_LOCAL_HOUR_VISITS.labels(**labels).inc(made)
        m.FIELD_LOCAL_HOUR_CONTACTS.labels(**labels).inc(door)
        m.FIELD_LOCAL_HOUR_RIGHT_PARTY.labels(**labels).inc(rng.randint(0, door))
        for outcome in ("promesa_pago", "sin_contacto", "skipped"):
            m.FIELD_VISITS.labels(country=c.country, outcome=outcome).inc(rng.randint(0, 1))
        m.FIELD_CHECKINS_REFUSED.labels(country=c.country, reason="too_far").inc(rng.randint(0, 1))

    def _inbound(self, c: SyntheticCampaign) -> None:
        rng = self._rng
        received = rng.randint(0, 3)
        abandoned = rng.randint(0, 1) if received else 0
        m.INBOUND_RECEIVED.labels(campaign=c.name).inc(received + 1)
        m.INBOUND_ANSWERED.labels(campaign=c.name).inc(received - abandoned + 1)
        m.INBOUND_ABANDONED.labels(campaign=c.name).inc(abandoned)
        m.INBOUND_WAIT.labels(campaign=c.name, result="answered").observe(rng.uniform(1, 60))
        if abandoned:
            m.INBOUND_WAIT.labels(campaign=c.name, result="abandoned").observe(rng.uniform(5, 90))
        if rng.random() < 0.1:
            m.INBOUND_CALLBACK_REQUESTS.labels(campaign=c.name).inc()
        m.INBOUND_WAITING.labels(campaign=c.name).set(rng.randint(0, 4))
        m.INBOUND_LONGEST_WAIT.labels(campaign=c.name).set(rng.uniform(0, 90))
        for window in WINDOWS:
            m.INBOUND_SERVICE_LEVEL.labels(campaign=c.name, window=window).set(
                rng.uniform(0.7, 1.0)
            )
