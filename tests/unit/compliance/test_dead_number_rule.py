"""The dead-number rule (store/number_validity.py): two `invalid_number` results on
one phone at least 24 h apart, nothing between them that shows the number exists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from store.number_validity import Seen, dead_evidence, shows_alive

T0 = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def seen(attempt_id: int, result: str, hours: float, *, answered: bool = False,
         direction: str = "outbound") -> Seen:  # fmt: skip
    return Seen(attempt_id, result, T0 + timedelta(hours=hours),
                shows_alive(result, answered=answered, direction=direction))  # fmt: skip


def newest_first(*items: Seen) -> list[Seen]:
    return sorted(items, key=lambda s: s.at, reverse=True)


def test_given_two_invalid_results_a_day_apart_when_judged_then_dead_with_both_attempts() -> None:
    proof = dead_evidence(newest_first(seen(1, "invalid_number", 0), seen(2, "invalid_number", 24)))
    assert proof is not None
    assert [s.attempt_id for s in proof] == [1, 2]


def test_given_two_invalid_results_less_than_a_day_apart_when_judged_then_not_dead() -> None:
    history = newest_first(seen(1, "invalid_number", 0), seen(2, "invalid_number", 23.99))
    assert dead_evidence(history) is None


def test_given_a_single_invalid_result_when_judged_then_not_dead() -> None:
    assert dead_evidence([seen(1, "invalid_number", 0)]) is None
    assert dead_evidence([]) is None


def test_given_the_latest_result_is_not_invalid_when_judged_then_not_dead() -> None:
    history = newest_first(seen(1, "invalid_number", 0), seen(2, "invalid_number", 24),
                           seen(3, "failed", 30))  # fmt: skip
    assert dead_evidence(history) is None


@pytest.mark.parametrize(
    "between",
    ["contact", "no_answer", "busy", "declined", "machine", "abandoned", "early_hangup",
     "delivered", "replied"],
)  # fmt: skip
def test_given_a_result_that_shows_the_number_exists_between_when_judged_then_not_dead(
    between: str,
) -> None:
    history = newest_first(seen(1, "invalid_number", 0), seen(2, between, 10),
                           seen(3, "invalid_number", 30))  # fmt: skip
    assert dead_evidence(history) is None


def test_given_an_answered_attempt_between_whatever_its_result_when_judged_then_not_dead() -> None:
    history = newest_first(seen(1, "invalid_number", 0), seen(2, "lost", 10, answered=True),
                           seen(3, "invalid_number", 30))  # fmt: skip
    assert dead_evidence(history) is None


def test_given_an_inbound_call_from_the_number_between_when_judged_then_not_dead() -> None:
    history = newest_first(seen(1, "invalid_number", 0),
                           seen(2, "queue_abandoned", 10, direction="inbound"),
                           seen(3, "invalid_number", 30))  # fmt: skip
    assert dead_evidence(history) is None


@pytest.mark.parametrize("between", ["failed", "blocked", "not_placed", "cancelled", "lost"])
def test_given_a_result_that_says_nothing_of_the_number_between_when_judged_then_dead(
    between: str,
) -> None:
    history = newest_first(seen(1, "invalid_number", 0), seen(2, between, 10),
                           seen(3, "invalid_number", 30))  # fmt: skip
    proof = dead_evidence(history)
    assert proof is not None and [s.attempt_id for s in proof] == [1, 3]


def test_given_three_invalid_results_when_judged_then_the_first_a_day_before_the_latest_proves_it(
) -> None:  # fmt: skip
    history = newest_first(seen(1, "invalid_number", 0), seen(2, "invalid_number", 20),
                           seen(3, "invalid_number", 26))  # fmt: skip
    proof = dead_evidence(history)
    assert proof is not None and [s.attempt_id for s in proof] == [1, 3]


def test_given_an_answer_before_both_invalid_results_when_judged_then_dead() -> None:
    """What answered before the first `invalid_number` is no evidence against it."""
    history = newest_first(seen(1, "contact", -100), seen(2, "invalid_number", 0),
                           seen(3, "invalid_number", 24))  # fmt: skip
    proof = dead_evidence(history)
    assert proof is not None and [s.attempt_id for s in proof] == [2, 3]
