"""What the supervisors' map says of a visit: done only for a visit with a result where
someone was met; a state it does not know reads as "other" (the map's neutral "Otro
estado" in grey), never as done."""

from __future__ import annotations

import pytest

from field.day import MAP_OTHER, MAP_STATUSES, _map_status
from field.questionnaire import OUTCOMES
from store.models import VisitStatus


@pytest.mark.parametrize(
    ("status", "outcome", "shown"),
    [("planned", None, "planned"), ("checked_in", None, "in_progress"),
     ("done", "promesa_pago", "done"), ("done", "recado", "done"),
     ("done", "sin_contacto", "failed"), ("done", "domicilio_incorrecto", "failed"),
     ("skipped", None, "failed")],
)  # fmt: skip
def test_given_a_visit_state_then_the_maps_word(
    status: str, outcome: str | None, shown: str
) -> None:
    assert _map_status(status, outcome) == shown


@pytest.mark.parametrize("outcome", [None, "promesa_pago", "sin_contacto"])
@pytest.mark.parametrize("status", ["cancelled", "rescheduled", "en_camino", ""])
def test_given_a_state_the_map_does_not_know_then_other_never_done(
    status: str, outcome: str | None
) -> None:
    assert _map_status(status, outcome) == MAP_OTHER
    assert MAP_OTHER not in MAP_STATUSES


def test_given_every_state_a_visit_on_the_map_can_have_then_one_the_map_words() -> None:
    on_map = [
        s for s in VisitStatus if s is not VisitStatus.cancelled
    ]  # floor_day shows a cancelled one only as MAP_EVIDENCE (the agent had arrived)
    shown = {_map_status(s.value, o) for s in on_map for o in (None, *OUTCOMES)}
    assert shown <= set(MAP_STATUSES)
