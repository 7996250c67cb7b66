"""The conversation store on real SQL: one open conversation per address, bounded
messages, the chat queue's claim given once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from selfservice import conversations as conv
from store.db import transaction
from store.models import Account, SkillGroup, User

NOW = datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


@pytest.fixture
def account_id(engine: Engine) -> int:
    with transaction(engine) as s:
        account = Account(external_ref="C-1", debtor_name="Ana Pérez", country="MX",
                          balance=Decimal("1500.00"), currency="MXN")  # fmt: skip
        s.add(account)
        s.flush()
        return account.id


def _agent(s: Session, name: str) -> int:
    user = User(username=name, role="agent", password_hash="x")
    s.add(user)
    s.flush()
    return user.id


def test_given_an_address_when_it_writes_twice_then_one_conversation_holds_both(
    engine: Engine, account_id: int
) -> None:
    with transaction(engine) as s:
        first = conv.open_conversation(s, "whatsapp", "+5215512345678", NOW, account_id=account_id)
        conv.add_message(s, first, "debtor", "hola", NOW, status="received")
        again = conv.open_conversation(s, "whatsapp", "+5215512345678", NOW + timedelta(minutes=1))
        conv.add_message(s, again, "debtor", "cuanto debo", NOW + timedelta(minutes=1),
                         status="received")  # fmt: skip
        assert again.id == first.id
        assert [m["text"] for m in conv.transcript(s, first.id)] == ["hola", "cuanto debo"]
        assert again.messages == 2


def test_given_a_quiet_conversation_when_the_debtor_writes_a_day_later_then_a_new_one_opens(
    engine: Engine,
) -> None:
    with transaction(engine) as s:
        old = conv.open_conversation(s, "sms", "+5215512345678", NOW)
        conv.add_message(s, old, "debtor", "hola", NOW, status="received")
        new = conv.open_conversation(s, "sms", "+5215512345678", NOW + conv.IDLE)
        assert new.id != old.id
        assert s.get(type(old), old.id).close_reason == "idle"  # type: ignore[union-attr]


def test_given_the_same_number_on_another_channel_then_it_is_another_conversation(
    engine: Engine,
) -> None:
    with transaction(engine) as s:
        a = conv.open_conversation(s, "sms", "+5215512345678", NOW)
        b = conv.open_conversation(s, "whatsapp", "+5215512345678", NOW)
        assert a.id != b.id


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("\x00\x07", "empty"),
        ("x" * (conv.MAX_TEXT + 1), "longer"),
    ],
)
def test_given_bad_text_then_it_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(conv.ChatError, match=reason):
        conv.clean_text(text)


def test_given_a_gateway_text_too_long_then_it_is_cut_not_refused() -> None:
    cut = conv.clean_text("a" * 5000, truncate=True)
    assert len(cut) == conv.MAX_TEXT and " … " in cut
    story = conv.clean_text("me quede sin trabajo " * 100 + "ya no me escriban", truncate=True)
    assert len(story) == conv.MAX_TEXT and story.endswith("ya no me escriban")


def test_given_control_characters_then_they_are_dropped_and_line_breaks_kept() -> None:
    assert conv.clean_text(" hola\x1b[31m\nadios\u200b ") == "hola[31m\nadios"


@pytest.mark.parametrize(("channel", "address"), [
    ("email", "+5215512345678"), ("sms", ""), ("sms", "x" * 65), ("chat", "a\nb"),
])  # fmt: skip
def test_given_a_bad_channel_or_address_then_no_conversation(
    engine: Engine, channel: str, address: str
) -> None:
    with transaction(engine) as s, pytest.raises(conv.ChatError):
        conv.open_conversation(s, channel, address, NOW)


def test_given_a_full_conversation_then_it_takes_no_more(engine: Engine) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "chat", "portal:1", NOW)
        c.messages = conv.MAX_MESSAGES
        with pytest.raises(conv.ChatError, match="full") as info:
            conv.add_message(s, c, "assistant", "hola", NOW, status="shown")
        assert info.value.status == 409


def test_given_a_debtor_flooding_then_the_hour_is_capped_and_later_it_is_not(
    engine: Engine,
) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "sms", "+5215512345678", NOW)
        for i in range(conv.MAX_DEBTOR_PER_HOUR):
            conv.add_message(s, c, "debtor", f"m{i}", NOW + timedelta(seconds=i), status="received")
        with pytest.raises(conv.ChatThrottled) as info:
            conv.add_message(s, c, "debtor", "otra", NOW + timedelta(minutes=5), status="received")
        assert info.value.status == 429
        # The assistant's and agent's messages are not the debtor's pace.
        conv.add_message(s, c, "assistant", "ok", NOW + timedelta(minutes=5), status="sent")
        conv.add_message(
            s, c, "debtor", "ya", NOW + timedelta(hours=1, minutes=1), status="received"
        )


def test_given_a_bad_sender_or_status_then_refused(engine: Engine) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "chat", "portal:1", NOW)
        with pytest.raises(conv.ChatError):
            conv.add_message(s, c, "robot", "hola", NOW, status="shown")
        with pytest.raises(conv.ChatError):
            conv.add_message(s, c, "assistant", "hola", NOW, status="lost")


def test_given_a_handover_then_it_is_queued_once_with_its_skill_group(engine: Engine) -> None:
    with transaction(engine) as s:
        s.add(SkillGroup(name="chat-mx"))
        c = conv.open_conversation(s, "whatsapp", "+5215512345678", NOW)
        assert conv.hand_over(s, c, "agent", NOW, skill_group="chat-mx")
        assert not conv.hand_over(s, c, "dispute", NOW + timedelta(seconds=5))
        [q] = conv.queued(s)
        assert (q.conversation_id, q.skill_group, q.reason, q.queued_at) == (
            c.id,
            "chat-mx",
            "agent",
            NOW,
        )
        with pytest.raises(conv.ChatError):
            conv.hand_over(s, c, "because", NOW)


def test_given_two_agents_claiming_one_chat_then_only_the_first_gets_it(engine: Engine) -> None:
    with transaction(engine) as s:
        one, two = _agent(s, "uno"), _agent(s, "dos")
        c = conv.open_conversation(s, "sms", "+5215512345678", NOW)
        conv.hand_over(s, c, "misunderstood", NOW)
        cid = c.id
    with transaction(engine) as s:
        assert conv.claim(s, cid, one, NOW)
    with transaction(engine) as s:
        assert not conv.claim(s, cid, two, NOW)
        assert conv.queued(s) == []
    with transaction(engine) as s:
        conv.requeue(s, cid)
    with transaction(engine) as s:
        assert [q.conversation_id for q in conv.queued(s)] == [cid]
        assert conv.claim(s, cid, two, NOW)


def test_given_the_queue_then_the_longest_waiting_comes_first(engine: Engine) -> None:
    with transaction(engine) as s:
        late = conv.open_conversation(s, "sms", "+5215500000001", NOW)
        early = conv.open_conversation(s, "sms", "+5215500000002", NOW)
        conv.hand_over(s, late, "agent", NOW + timedelta(minutes=2))
        conv.hand_over(s, early, "agent", NOW + timedelta(minutes=1))
        assert [q.conversation_id for q in conv.queued(s)] == [early.id, late.id]


def test_given_a_closed_conversation_then_it_takes_no_message(engine: Engine) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "chat", "portal:1", NOW)
        conv.close(s, c, "agent", NOW)
        with pytest.raises(conv.ChatError, match="closed"):
            conv.add_message(s, c, "debtor", "hola", NOW, status="received")
        assert conv.open_conversation(s, "chat", "portal:1", NOW).id != c.id


def test_given_a_transcript_polled_after_an_id_then_only_newer_messages(engine: Engine) -> None:
    with transaction(engine) as s:
        c = conv.open_conversation(s, "chat", "portal:1", NOW)
        first = conv.add_message(s, c, "debtor", "hola", NOW, status="received")
        conv.add_message(s, c, "assistant", "¡Hola!", NOW, status="shown")
        assert [m["text"] for m in conv.transcript(s, c.id, after_id=first.id)] == ["¡Hola!"]
