"""The next window's opening, signed portal links, and the message templates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.links import LinkError, LinkSigner, verify
from outreach.rendering import (
    MessageFacts,
    MessageOptions,
    TemplateError,
    Templates,
    options_from,
    sender_for,
)
from outreach.strategy import strategy_from
from outreach.windows import next_opening

T = datetime(2026, 12, 3, 21, 59, tzinfo=UTC)


def hours(start: int, end: int):  # type: ignore[no-untyped-def]
    return lambda at: start <= at.hour < end


# ---------------------------------------------------------------- windows


def test_given_2159_outside_a_7_to_20_window_when_searched_then_it_opens_at_0700_next_day() -> None:
    assert next_opening(hours(7, 20), T) == datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


def test_given_an_open_window_when_searched_then_the_next_minute() -> None:
    at = datetime(2026, 12, 3, 10, 30, 15, tzinfo=UTC)
    assert next_opening(hours(7, 20), at) == datetime(2026, 12, 3, 10, 31, tzinfo=UTC)


def test_given_a_window_that_never_opens_when_searched_then_none() -> None:
    assert next_opening(lambda at: False, T) is None


@settings(max_examples=200, deadline=None)
@given(start=st.integers(0, 22), length=st.integers(1, 23), minute=st.integers(0, 59),
       offset=st.integers(0, 60 * 48))  # fmt: skip
def test_next_opening_is_the_first_allowed_minute(start: int, length: int, minute: int,
                                                  offset: int) -> None:  # fmt: skip
    end = min(24 * 60, start * 60 + minute + length * 60)

    def allowed(at: datetime) -> bool:
        m = at.hour * 60 + at.minute
        return start * 60 + minute <= m < end

    after = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=offset, seconds=7)
    found = next_opening(allowed, after)
    assert found is not None and found > after and allowed(found)
    probe = after.replace(second=0) + timedelta(minutes=1)
    while probe < found:  # no allowed minute was skipped
        assert not allowed(probe)
        probe += timedelta(minutes=1)


# ---------------------------------------------------------------- links

SECRET = b"s" * 32


def test_given_a_link_when_verified_then_it_names_the_account_until_it_expires() -> None:
    signer = LinkSigner("https://pagos.example.mx/p/", SECRET, timedelta(hours=72))
    link = signer.link(42, T)
    assert link.startswith("https://pagos.example.mx/p/") and len(link) < 80
    token = link.rsplit("/", 1)[1]
    assert verify(token, SECRET, T + timedelta(hours=71)) == 42
    with pytest.raises(LinkError, match="expired"):
        verify(token, SECRET, T + timedelta(hours=72))


@pytest.mark.parametrize("bad", ["", "abc", "!!!!", "A" * 40])
def test_given_a_malformed_token_when_verified_then_refused(bad: str) -> None:
    with pytest.raises(LinkError):
        verify(bad, SECRET, T)


def test_given_a_forged_or_foreign_token_when_verified_then_refused() -> None:
    token = LinkSigner("https://p.example", SECRET).token(42, T)
    with pytest.raises(LinkError, match="signature"):
        verify(token, b"x" * 32, T)
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(LinkError):
        verify(forged, SECRET, T)


@pytest.mark.parametrize(
    ("url", "secret", "ttl", "message"),
    [("https://p", b"short", timedelta(hours=1), "32 bytes"),
     ("ftp://p", SECRET, timedelta(hours=1), "https://"),
     ("https://p", SECRET, timedelta(days=31), "30 days"),
     ("https://p", SECRET, timedelta(0), "30 days")],
)  # fmt: skip
def test_given_bad_link_settings_when_built_then_refused(url: str, secret: bytes, ttl: timedelta,
                                                         message: str) -> None:  # fmt: skip
    with pytest.raises(LinkError, match=message):
        LinkSigner(url, secret, ttl)


# ---------------------------------------------------------------- templates

SHIPPED = [("recordatorio", "friendly"), ("recordatorio", "firm"), ("aviso_firme", "firm"),
           ("aviso_prejudicial", "prelegal"), ("confirmacion_promesa", "friendly"),
           ("recordatorio_promesa", "firm"), ("promesa_incumplida", "prelegal")]  # fmt: skip
FACTS = MessageFacts("MARÍA JOSÉ LÓPEZ", "https://p.example/TOKEN", "sms", Decimal("98765.43"),
                     "MXN", date(2026, 12, 10), Decimal("4321.09"), date(2026, 11, 1))  # fmt: skip


@pytest.mark.parametrize(("name", "stage"), SHIPPED)
@pytest.mark.parametrize("channel", ["sms", "whatsapp", "email"])
def test_given_a_shipped_template_when_rendered_by_default_then_no_amount_no_creditor(
    name: str, stage: str, channel: str
) -> None:
    facts = MessageFacts(**{**FACTS.__dict__, "channel": channel})
    options = MessageOptions(sender="Despacho Ejemplo", creditor="Banco Secreto")
    out = Templates().render(name, stage, facts, options)
    for text in (out.text, out.subject or "", out.html or ""):
        assert "98" not in text and "4321" not in text and "4,321" not in text
        assert "Banco Secreto" not in text
    assert "https://p.example/TOKEN" in out.text and "María" in out.text
    assert "BAJA" in out.text
    assert (out.subject is not None) == (channel == "email") == (out.html is not None)


def test_given_a_campaign_that_allows_it_when_rendered_then_amount_and_creditor_show() -> None:
    options = MessageOptions(
        sender="D", show_amount=True, show_creditor=True, creditor="Banco Secreto"
    )
    out = Templates().render("recordatorio", "friendly", FACTS, options)
    assert "98,765.43" in out.text and "Banco Secreto" in out.text
    promise = Templates().render("confirmacion_promesa", "friendly", FACTS, options)
    assert "4,321.09" in promise.text


@pytest.mark.parametrize(("name", "stage"), SHIPPED)
@pytest.mark.parametrize("channel", ["sms", "whatsapp", "email"])
def test_given_a_sender_ending_in_a_period_then_no_message_ends_a_sentence_twice(
    name: str, stage: str, channel: str
) -> None:
    # The demo's WhatsApp notices were signed "Despacho Ejemplo, S.C.." to every debtor.
    facts = MessageFacts(**{**FACTS.__dict__, "channel": channel})
    options = MessageOptions(sender="Despacho Ejemplo, S.C.", show_creditor=True,
                             creditor="Banco Ejemplo, S.A.", show_amount=True)  # fmt: skip
    out = Templates().render(name, stage, facts, options)
    for text in (out.text, out.subject or "", out.html or ""):
        assert ".." not in text
    assert "S.C." in out.text or "S.C." in (out.subject or "")


def test_given_html_in_a_name_when_rendered_for_email_then_it_is_escaped() -> None:
    facts = MessageFacts("<script>x</script>", "https://p/T", "email")
    out = Templates().render("recordatorio", "friendly", facts, MessageOptions())
    assert out.html is not None and "<script>" not in out.html


def test_given_a_template_naming_the_amount_bare_when_not_allowed_then_render_fails(
    tmp_path: Path,
) -> None:
    (tmp_path / "leaky.j2").write_text("{% block body %}Debes {{ monto }}{% endblock %}")
    with pytest.raises(TemplateError, match="monto"):
        Templates(tmp_path).render("leaky", "friendly", FACTS, MessageOptions())


def test_given_a_strategy_naming_a_missing_template_when_checked_then_named() -> None:
    strategy = strategy_from({"stages": {"friendly": {"steps": [
        {"day": 0, "channel": "sms", "template": "no_existe"}]}}})  # fmt: skip
    assert Templates().check(strategy) == [
        "no template 'no_existe' for stage friendly (outreach/templates)"
    ]


@pytest.mark.parametrize(
    ("table", "message"),
    [({"colour": "red"}, "unknown key"), ({"show_amount": "yes"}, "true or false"),
     ({"sender": 5}, "must be text"), ({"link_hours": 0}, "link_hours"),
     ({"show_creditor": True}, "needs messages.creditor"),
     ({"sms_sender": "Despacho Ejemplo, S.C."}, "sms_sender"), ({"sms_sender": ""}, "sms_sender"),
    ],
)  # fmt: skip
def test_given_a_bad_messages_table_when_read_then_named(table: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TemplateError, match=message):
        options_from({"messages": table})


def test_given_an_sms_sender_then_sms_uses_it_and_other_channels_the_name() -> None:
    options = options_from({"messages": {"sender": "Despacho Ejemplo, S.C.",
                                         "sms_sender": "COBRADOR"}})  # fmt: skip
    assert sender_for(options, "sms") == "COBRADOR"
    assert sender_for(options, "email") == "Despacho Ejemplo, S.C."
    assert sender_for(options_from({"messages": {"sms_sender": "+525550001000"}}), "sms") == (
        "+525550001000"
    )
    assert sender_for(options_from({}), "sms") == "cobrador"
