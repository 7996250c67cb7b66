"""A channel's standing reasons over its addresses: closed only when every address is,
and only by reasons that stand whatever the hour or the counts."""

from __future__ import annotations

from compliance.engine import Decision
from compliance.standing import StandingBlock, standing_reasons
from console.i18n import activate
from console.portal_blocks import block_line


def decision(*reasons: str) -> Decision:
    return Decision(not reasons, reasons, "MX@1", {}, None, None, None)


def test_given_one_address_open_when_reduced_then_the_channel_is_not_blocked() -> None:
    assert standing_reasons([decision("registry_listed"), decision()]) == ()


def test_given_every_address_blocked_when_reduced_then_their_reasons_most_telling_first() -> None:
    got = standing_reasons([decision("no_consent", "outside_hours"),
                            decision("registry_listed"), decision("disputed")])  # fmt: skip
    assert got == ("disputed", "registry_listed", "no_consent")


def test_given_only_passing_reasons_when_reduced_then_nothing_stands() -> None:
    passing = decision("outside_hours", "day_not_allowed", "holiday", "attempt_cap_week",
                       "recent_abandon", "registry_unavailable", "timezone_unknown")  # fmt: skip
    assert standing_reasons([passing]) == ()
    assert standing_reasons([]) == ()


def test_given_a_registry_block_when_worded_then_the_registry_the_profile_checks() -> None:
    activate("es")
    reus = block_line(StandingBlock("call", ("registry_listed",), ("reus",)))
    assert reus.startswith("No le llamaremos: su número está en el REUS.")
    other = block_line(StandingBlock("sms", ("registry_listed",), ("otro",)))
    assert other.startswith("No le enviaremos SMS: su número está inscrito en un registro")
    activate("en")
    assert block_line(StandingBlock("whatsapp", ("no_consent",))).startswith(
        "We will not write to you on WhatsApp: we do not have your authorisation"
    )
    activate("es")


def test_given_an_insolvency_proceeding_when_reduced_and_worded_then_said_once_for_every_channel() -> (
    None
):
    """A debtor in a procedimiento concursal reads on the portal why nobody contacts them."""
    from console.portal_blocks import account_line

    got = standing_reasons([decision("insolvency_proceeding", "outside_hours")])
    assert got == ("insolvency_proceeding",)
    activate("es")
    blocks = {c: StandingBlock(c, got) for c in ("call", "sms", "email")}
    line, channels = account_line(blocks)
    assert line.startswith("No le contactaremos por ningún medio: su cuenta está en un "
                           "procedimiento de insolvencia")  # fmt: skip
    assert channels == {"call", "sms", "email"}
    activate("en")
    assert "insolvency proceeding" in account_line(blocks)[0]
    activate("es")


def test_given_a_letter_without_a_postal_address_then_it_stands_and_is_worded() -> None:
    assert standing_reasons([decision("no_address", "outside_hours")]) == ("no_address",)
    activate("es")
    line = block_line(StandingBlock("letter", ("no_address",)))
    assert (
        line
        == "No le enviaremos cartas: no tenemos su dirección postal. Para darnos una, llámenos."
    )
    line = block_line(StandingBlock("letter", ("channel_not_allowed",)))
    assert line == "No le enviaremos cartas: no usamos este medio con las cuentas de su país."
