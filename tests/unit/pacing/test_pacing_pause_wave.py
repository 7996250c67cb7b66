"""`pause_wave`: when several agents went on a pause as their calls ended (a lunch, a
meeting), the busy agents still on calls may follow them instead of freeing up, so the
supply the model counts on shrinks (issue 27: a lunch of five of a 13-agent team, with
three on breaks, took the agents that the calls ringing were placed for)."""

from __future__ import annotations

import dataclasses

import pytest
from pacing_helpers import NOW, snapshot

from dialer.pacing.policies import PredictivePolicy
from dialer.pacing.snapshot import AgentView

WINDOW = 120.0  # the talks (220 s and more) began before it


def _floor(paused_ago: list[float]):
    # 40 agents near the end of their talks (talks last 120-240 s), two ready (5 s
    # ago), and those who went on a pause `paused_ago` seconds before now.
    s = snapshot(talking=[220.0 + i % 20 for i in range(40)], ready=2)
    paused = tuple(AgentView("paused", NOW - ago) for ago in paused_ago)
    return dataclasses.replace(s, agents=s.agents + paused)


def test_given_three_recent_pauses_when_sharing_then_paused_among_those_freed_lately():
    policy = PredictivePolicy(pause_wave=True, pause_wave_seconds=WINDOW)
    # Two ready agents began within the window, the talks began before it.
    assert policy._pause_share(_floor([30.0, 60.0, 90.0])) == pytest.approx(3 / 5)


@pytest.mark.parametrize("paused_ago", [[30.0], [150.0, 500.0, 900.0]])
def test_given_one_recent_pause_or_old_ones_when_sharing_then_no_wave(paused_ago):
    assert (
        PredictivePolicy(pause_wave=True, pause_wave_seconds=WINDOW)._pause_share(
            _floor(paused_ago)
        )
        == 0.0
    )


def test_given_a_wave_when_deciding_then_fewer_calls_than_without_it():
    s = _floor([30.0, 60.0, 90.0])
    plain = PredictivePolicy().calls_to_place(s)
    aware = PredictivePolicy(pause_wave=True, pause_wave_seconds=WINDOW)
    placed = aware.calls_to_place(s)
    assert aware.last_pause_share == pytest.approx(3 / 5)
    # The model counted on 40 agents freeing within its horizons; with three in five
    # of those freed lately gone on a pause, it counts on two in five of them.
    assert plain > 2 * placed > 0


def test_given_no_wave_when_deciding_then_the_same_calls_as_without_it():
    s = _floor([30.0, 700.0])
    aware = PredictivePolicy(pause_wave=True, pause_wave_seconds=WINDOW)
    assert aware.calls_to_place(s) == PredictivePolicy().calls_to_place(s)
    assert aware.last_pause_share == 0.0


@pytest.mark.parametrize(
    "params", [{"pause_wave_seconds": 0.0}, {"pause_wave_seconds": -5.0}, {"pause_wave_min": 0}]
)
def test_given_bad_wave_settings_when_building_then_value_error(params):
    with pytest.raises(ValueError):
        PredictivePolicy(pause_wave=True, **params)
