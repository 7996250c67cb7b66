"""Hand-built snapshots for the pacing tests: a warmed-up campaign with known statistics."""

from __future__ import annotations

from dialer.pacing.snapshot import (
    AbandonWindow,
    AgentView,
    DurationSample,
    RingingCall,
    RingSample,
    Snapshot,
)

NOW = 10_000.0
# Talks of 120..240 s (even spread), wrap-ups of 5 s, 30% of calls answered by a
# person after 8 s, the rest unanswered at 25 s, evenly mixed in dial order (a
# steady answer rate: the change-point detector finds no change in them).
TALKS = tuple(DurationSample(120.0 + i, True) for i in range(0, 121, 2))
WRAPS = tuple(DurationSample(5.0, True) for _ in range(40))
RINGS = tuple(
    RingSample(8.0, "human") if i % 10 < 3 else RingSample(25.0, "no_answer") for i in range(100)
)


def windows(answered: int = 800, abandoned: int = 0) -> tuple[AbandonWindow, ...]:
    return tuple(
        AbandonWindow(w, answered * k, abandoned * k)
        for w, k in ((1800.0, 1), (3600.0, 2), (86400.0, 4), (2592000.0, 4))
    )


def snapshot(
    talking: list[float] = (),  # type: ignore[assignment]
    ready: int = 0,
    wrap: list[float] = (),  # type: ignore[assignment]
    ringing: list[float] = (),  # type: ignore[assignment]
    waiting: int = 0,
    answered: int = 800,
    abandoned: int = 0,
    now: float = NOW,
    max_ringing: int = 1000,
) -> Snapshot:
    agents = (
        [AgentView("talking", now - t) for t in talking]
        + [AgentView("ready", now - 5.0) for _ in range(ready)]
        + [AgentView("wrap_up", now - w) for w in wrap]
    )
    return Snapshot(
        now=now,
        agents=tuple(agents),
        ringing=tuple(RingingCall(now - r) for r in ringing),
        waiting=waiting,
        talk_samples=TALKS,
        wrap_samples=WRAPS,
        ring_samples=RINGS,
        stats_at=now,
        abandonment=windows(answered, abandoned),
        max_ringing=max_ringing,
    )
