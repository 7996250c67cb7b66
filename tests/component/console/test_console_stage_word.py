"""The pop names the account's collection stage in words; a stage the console does not
know yet reads as a neutral word, never as its code."""

from __future__ import annotations

from console_fixtures import NOW, Seed
from sqlalchemy import Engine

from console import agent_service
from console.i18n import activate
from store.db import transaction
from store.models import Account


def _stage_label(engine: Engine, seed: Seed, stage: str) -> str:
    with transaction(engine) as s:
        account = s.get(Account, seed.account_id)
        assert account is not None
        account.stage = stage
    pop = agent_service.build_pop(engine, seed.account_id, None, None, NOW, "preview",
                                  audit=False, verified_party="titular")  # fmt: skip
    assert pop is not None
    return str(pop["account"]["stage_label"])


def test_given_a_verified_pop_then_the_stage_in_words_and_an_unknown_one_never_its_code(
    engine: Engine, seed: Seed
) -> None:
    assert _stage_label(engine, seed, "prelegal") == "Prejudicial"
    assert _stage_label(engine, seed, "recovery_agency") == "Otra etapa"
    activate("en")
    try:
        assert _stage_label(engine, seed, "recovery_agency") == "Other stage"
    finally:
        activate("es")
