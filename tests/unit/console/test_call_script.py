"""The party-aware script: the debt only after verification, the opening by the
debtor's hour, the country's mandatory identification from the profile files."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from compliance.profile import ProfileError, load_profiles, parse_profile
from console import call_script
from console.call_script import ScriptFacts
from console.identity import failed_prompts, party_prompts

CDMX = ZoneInfo("America/Mexico_City")
CONFIG = {"agency": "Despacho Ejemplo", "agency_phone": "55 5000 1000",
          "agency_address": "Av. Reforma 1, CDMX", "creditor": "Financiera Ejemplo"}  # fmt: skip


def facts(hour: int = 11, **extra: object) -> ScriptFacts:
    base: dict[str, object] = {
        "agent": "Ana", "debtor_name": "María López", "local": datetime(2026, 11, 24, hour, 0, tzinfo=CDMX),
        "config": CONFIG, "stage": "firm", "contract": "MX-0001", "amount": "$12,500.00 MXN",
        "due_date": "1 de septiembre de 2026", "payment_instructions": "Pague en BBVA.",
        "opening": load_profiles()["MX"].opening,
    }  # fmt: skip
    return ScriptFacts(**(base | extra))  # type: ignore[arg-type]


def same(text: str) -> str:
    return text


@pytest.mark.parametrize(
    ("hour", "word"),
    [(7, "Buenos días"), (11, "Buenos días"), (12, "Buenas tardes"), (18, "Buenas tardes"),
     (19, "Buenas noches"), (21, "Buenas noches")],
)  # fmt: skip
def test_given_debtor_local_hour_when_opening_then_greeting_fits_the_hour(hour: int, word: str):
    assert call_script.opening(facts(hour), same).startswith(word + ".")


def test_given_third_party_when_scripted_then_nothing_about_the_debt_or_creditor():
    said = call_script.opening(facts(), same) + call_script.third_party(facts(), same)
    for leak in ("Financiera Ejemplo", "12,500", "MX-0001", "deuda", "saldo", "BBVA"):
        assert leak not in said
    assert "María López" in said and "Despacho Ejemplo" in said and "55 5000 1000" in said


def test_given_mx_profile_when_titular_verified_then_condusef_identification_before_script():
    lines = call_script.debtor(facts(), same).split("\n")
    assert lines[:6] == [
        "Nuestro domicilio es Av. Reforma 1, CDMX.",
        "Nuestro teléfono es 55 5000 1000.",
        "Le llamamos en nombre de Financiera Ejemplo.",
        "Es acerca de su cuenta o contrato MX-0001.",
        "El saldo vencido es de $12,500.00 MXN, exigible desde el 1 de septiembre de 2026.",
        "Para liquidar o regularizar su cuenta: Pague en BBVA.",
    ]
    assert "atraso importante" in lines[6]  # the firm stage's script


def test_given_guarantor_verified_then_guarantor_script():
    text = call_script.guarantor(facts(), same)
    assert "aval u obligado solidario de la cuenta de María López" in text


def test_given_names_ending_in_a_period_then_no_sentence_ends_twice():
    # The demo's agency "Despacho Ejemplo, S.C." was read "Le llamo de Despacho Ejemplo, S.C.."
    config = CONFIG | {"agency": "Despacho Ejemplo, S.C.", "creditor": "Banco Ejemplo, S.A.",
                       "agency_address": "Av. Reforma 1, Col. Centro, C.P. 06000 Méx."}  # fmt: skip
    f = facts(config=config, debtor_name="Juan Pérez Jr.", amount="$1.00 MXN")
    said = "\n".join([call_script.opening(f, same), call_script.debtor(f, same),
                      call_script.third_party(f, same), call_script.chat_opening(f, same)])  # fmt: skip
    assert ".." not in said
    assert "Le llamo de Despacho Ejemplo, S.C." in said
    assert (
        "Le llamo de Despacho Ejemplo, S.C.\n" in said
        or "Le llamo de Despacho Ejemplo, S.C." in said
    )
    assert "Le llamamos en nombre de Banco Ejemplo, S.A.\n" in said
    assert "¿Podría comunicarme con Juan Pérez Jr.?" in said  # only the period before it goes
    # An ellipsis the operator wrote is theirs: kept as written.
    f = facts(config=CONFIG | {"agency": "Despacho..."})
    assert "Le llamo de Despacho..." in call_script.opening(f, same)


def test_given_agency_not_configured_then_the_script_says_so():
    text = call_script.third_party(facts(config={"creditor": "X"}), same)
    assert "(sin configurar: agency)" in text


def test_given_every_shipped_profile_then_opening_has_a_source():
    for profile in load_profiles().values():
        assert profile.opening and profile.sources.get("opening"), profile.id
    assert "debt_collector" in load_profiles()["US"].opening


def test_given_unknown_opening_item_then_profile_error():
    import tomllib

    from compliance.profile import PROFILES_DIR

    data = tomllib.loads((PROFILES_DIR / "mx.toml").read_text())
    data["opening"]["say"] = ["agent", "balance_in_song"]
    with pytest.raises(ProfileError, match="opening.say"):
        parse_profile(data)


def test_given_campaign_question_sets_when_checking_answers_then_each_prompt_must_match():
    config = {"verification": {"titular": ["full_name", "birth_date"], "aval": ["account_last4"]}}
    assert party_prompts(config, "titular") == ("full_name", "birth_date")
    assert party_prompts(config, "aval") == ("account_last4",)
    assert party_prompts({}, "titular") == ("full_name", "account_last4")
    assert party_prompts({"verification": ["nonsense"]}, "titular") == (
        "full_name",
        "account_last4",
    )
    fields = {"birth_date": "1980-02-03"}
    prompts = ("full_name", "birth_date")
    ok = {"full_name": " maría  LÓPEZ ", "birth_date": "1980-02-03"}
    assert failed_prompts(prompts, ok, "MX-0001", "María López", fields) == []
    assert failed_prompts(prompts, ok | {"birth_date": "1980-02-04"}, "MX-0001", "María López",
                          fields) == ["birth_date"]  # fmt: skip
    # Not on file: the check fails (closed), never passes.
    assert failed_prompts(prompts, ok, "MX-0001", "María López", {}) == ["birth_date"]
    assert failed_prompts(("full_name",), {"full_name": ""}, "R", "", {}) == ["full_name"]
