"""The unseen-scenario draw (bench/pacing/unseen.py): reproducible, and its small-team filter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[3] / "bench" / "pacing"))

from unseen import unseen  # noqa: E402


def _index(name: str) -> int:
    return int(name.split(":")[0].removeprefix("unseen-"))


def test_given_a_seed_when_drawn_twice_then_the_same_scenarios():
    assert [s.name for s in unseen(4, 2027)] == [s.name for s in unseen(4, 2027)]


def test_given_a_team_limit_when_drawn_then_only_teams_that_small_each_named_as_in_the_full_stream():
    small = unseen(5, 77, max_agents=15)
    assert len(small) == 5
    assert all(s.agents <= 15 for s in small)
    full = {s.name: s.agents for s in unseen(max(_index(s.name) for s in small) + 1, 77)}
    # The same draw under the same name: a row of a small-team table is the full stream's row.
    assert all(full.get(s.name) == s.agents for s in small)
    skipped = [name for name, agents in full.items() if agents > 15]
    assert skipped, "the limit left out no team on this seed: the test would prove nothing"


@pytest.mark.parametrize("count, max_agents", [(-1, None), (3, 2), (3, 0)])
def test_given_a_bad_count_or_limit_when_drawn_then_value_error(count, max_agents):
    with pytest.raises(ValueError):
        unseen(count, 77, max_agents=max_agents)
