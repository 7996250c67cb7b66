"""Abandonment as regulators define it, with the real dial loop on pbxsim: a debtor who
hangs up during answering-machine detection is an early hang-up, not an abandon; an AMD
machine drop counts as an abandoned person unless the campaign's estimate says less."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from compliance.caps import account_keys
from compliance.ledger import load_history
from dialer import call_state as cs
from dialer.messages import wallboard_key
from metrics.definitions import REGISTRY
from pbxsim import scenario as sc
from pbxsim.scenario import NumberOverride
from store.models import CallAttempt, Campaign


def only_attempt(floor: Any) -> CallAttempt | None:
    with Session(floor.engine) as s:
        rows = list(s.scalars(select(CallAttempt).order_by(CallAttempt.id)))
    assert len(rows) <= 1
    return rows[0] if rows and rows[0].result else None


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def window(board: dict[str, Any], label: str = "1h") -> dict[str, Any]:
    return dict(board["abandonment"][label])


async def test_given_debtor_hangs_up_during_detection_then_early_hangup_not_abandoned(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    [number] = floor.numbers.values()
    # The real floor's case: the person says hello and hangs up while AMD still listens
    # (greeting 2.6 s, then 0.4 s; AMD would decide at 6 s).
    floor.pbx.scenario.amd_human_seconds = 6.0
    floor.pbx.scenario.numbers[number.lstrip("+")] = NumberOverride(
        sc.HUMAN, ring_seconds=0.5, talk_seconds=0.4
    )
    labels = {"campaign": "mx-test"}
    abandoned_before = metric("cobrador_calls_abandoned_total", **labels)
    early_before = metric("cobrador_call_results_total", result=cs.EARLY_HANGUP, **labels)

    # The finisher writes SQL first and the statistics from it after: wait for both.
    await floor.run_until(
        lambda: only_attempt(floor) is not None and not floor.dialer.finisher.owed
    )

    attempt = only_attempt(floor)
    assert attempt is not None
    assert (attempt.result, attempt.agent_id, attempt.bridged_at) == (cs.EARLY_HANGUP, None, None)
    assert attempt.answered_at is not None  # answered: it stays an attempt for the caps
    [hour] = [w for w in (await floor.dialer.stats.windows(floor.clock())) if w.seconds == 3600]
    assert (hour.humans, hour.abandoned, hour.machine_drops, hour.early_hangups) == (0, 0, 0, 1)
    # Pacing steers on the legal figure: nothing abandoned, nobody answered by a person.
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert all((w.human_answered, w.abandoned) == (0, 0) for w in snapshot.abandonment)
    await floor.dialer.tick()
    board = json.loads(await floor.redis.get(wallboard_key("mx-test")))
    assert window(board) | {"ratio": 0.0} == {
        "human_answered": 0, "abandoned": 0, "ratio": 0.0, "machine_drops": 0,
        "early_hangups": 1, "early_ratio": 1.0,
    }  # fmt: skip
    assert metric("cobrador_calls_abandoned_total", **labels) == abandoned_before
    assert metric("cobrador_call_results_total", result=cs.EARLY_HANGUP, **labels) == (
        early_before + 1
    )
    assert metric("cobrador_early_hangup_ratio", window="1h", **labels) == 1.0


async def test_given_amd_machine_drop_then_counted_abandoned_unless_the_campaign_estimate_says_less(
    make_floor: Any,
) -> None:
    floor = await make_floor(accounts=1, agents=1)
    [number] = floor.numbers.values()
    floor.pbx.scenario.numbers[number.lstrip("+")] = NumberOverride(
        sc.MACHINE, ring_seconds=0.5, talk_seconds=5.0
    )
    await floor.run_until(
        lambda: only_attempt(floor) is not None and not floor.dialer.finisher.owed
    )
    attempt = only_attempt(floor)
    assert attempt is not None and attempt.result == "machine"
    # The conservative reading: the machine drop may have been a person, so it counts.
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert snapshot.window(3600.0) is not None
    assert (snapshot.window(3600.0).human_answered, snapshot.window(3600.0).abandoned) == (1, 1)  # type: ignore[union-attr]
    assert metric("cobrador_abandonment_ratio", campaign="mx-test", window="1h") == 1.0

    # A campaign with a reasoned estimate of its AMD's false positives (0 here) counts that share.
    with Session(floor.engine) as s, s.begin():
        s.execute(update(Campaign).values(config={"amd_false_positive_ratio": 0.0}))
    await floor.run_until(lambda: floor.dialer.false_positive_ratio == 0.0)
    snapshot = await floor.dialer.snapshot(floor.clock())
    assert (snapshot.window(3600.0).human_answered, snapshot.window(3600.0).abandoned) == (0, 0)  # type: ignore[union-attr]
    board = json.loads(await floor.redis.get(wallboard_key("mx-test")))
    assert window(board)["machine_drops"] == 1 and board["amd_false_positive_ratio"] == 0.0


async def test_given_an_abandon_cooldown_when_amd_drops_a_machine_then_the_debtor_rests_as_after_an_abandon(
    make_floor: Any,
) -> None:
    """The law counts an AMD false positive (a person called a machine, hung up on)
    as an abandon, and no one knows which drop was a person: a machine drop starts
    the debtor's `recent_abandon` cool-down, in Redis at the call's end and in the
    SQL ledger a lost counter is rebuilt from."""
    floor = await make_floor(accounts=1, agents=1)
    [(account_id, number)] = floor.numbers.items()
    cooldown = {"compliance": {"abandon": {"cooldown_hours": 24, "source": "test"}}}
    with Session(floor.engine) as s, s.begin():
        s.execute(update(Campaign).values(config=cooldown))
    floor.dialer.campaign.config = cooldown
    floor.pbx.scenario.numbers[number.lstrip("+")] = NumberOverride(
        sc.MACHINE, ring_seconds=0.5, talk_seconds=5.0
    )
    await floor.run_until(lambda: only_attempt(floor) is not None)
    attempt = only_attempt(floor)
    assert attempt is not None and attempt.result == "machine"
    await floor.run_until(lambda: not floor.dialer.finisher.owed)

    compliance = floor.dialer.compliance
    caps = compliance.caps
    assert caps is not None
    profile = compliance.profile_for(floor.dialer.campaign, "MX")
    assert profile.abandon_cooldown_hours == 24
    now = datetime.fromtimestamp(floor.clock(), UTC)
    # Redis, as the Finisher left it (the refill's first check reads only this).
    [counters] = (await caps.snapshot([account_id], now)).values()
    assert len(counters.abandons) == 1
    # The SQL ledger, for a counter rebuilt after a loss.
    history = load_history(floor.engine, [account_id], now - timedelta(days=1))[account_id]
    assert [e.member for e in history.abandons] == [f"a:{attempt.id}"]
    await floor.redis.delete(*account_keys(account_id))
    [rebuilt] = (await caps.snapshot([account_id], now)).values()
    assert len(rebuilt.abandons) == 1
    # The final check holds the debtor back for the cool-down.
    checked = await caps.check_and_count(account_id, profile, now, "a:probe")
    assert not checked.allowed and "recent_abandon" in checked.reasons
