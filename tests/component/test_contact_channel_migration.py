"""The contact-channel migration: attempts written before it are calls, keep their
Asterisk channel name, and a channel outside the known set is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from store.db import make_engine
from store.migrate import upgrade

# Each test migrates an empty database to an old revision, then to the newest.
pytestmark = pytest.mark.fresh_database


def test_given_attempts_before_the_migration_when_upgraded_then_they_are_calls_with_their_pbx_channel(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0012")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO call_attempts (phone_e164, direction, source, started_at, "
                "right_party_contact, channel) VALUES ('+525512345678', 'outbound', 'dialer', "
                ":at, false, 'PJSIP/trunk-00000001')"), {"at": datetime(2026, 12, 1, tzinfo=UTC)})  # fmt: skip
        upgrade(engine)
        with engine.begin() as conn:
            row = conn.execute(
                text("SELECT channel, pbx_channel, details FROM call_attempts")
            ).one()
        assert tuple(row) == ("call", "PJSIP/trunk-00000001", None)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO call_attempts (phone_e164, direction, source, started_at, "
                "right_party_contact, channel) VALUES ('+525512345678', 'outbound', 'dialer', "
                ":at, false, 'fax')"), {"at": datetime(2026, 12, 1, tzinfo=UTC)})  # fmt: skip
    finally:
        engine.dispose()


def test_given_channels_without_a_phone_when_migrated_then_email_needs_no_number_but_a_call_does(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    at = {"at": datetime(2026, 12, 1, tzinfo=UTC)}
    insert = (
        "INSERT INTO call_attempts (phone_e164, address, direction, source, started_at, "
        "right_party_contact, channel) VALUES ({phone}, {address}, 'outbound', 'strategy', "
        ":at, false, '{channel}')"
    )
    try:
        upgrade(engine, "0014")
        with engine.begin() as conn:  # an attempt written before: a call with its number
            conn.execute(text(
                "INSERT INTO call_attempts (phone_e164, direction, source, started_at, "
                "right_party_contact, channel) VALUES ('+525512345678', 'outbound', 'dialer', "
                ":at, false, 'call')"), at)  # fmt: skip
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text(insert.format(phone="NULL", address="'ana@example.mx'",
                                            channel="email")), at)  # fmt: skip
            rows = conn.execute(
                text("SELECT channel, phone_e164, address FROM call_attempts ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            ("call", "+525512345678", None),
            ("email", None, "ana@example.mx"),
        ]
        for channel in ("call", "sms", "whatsapp"):  # a phone channel always has its number
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(insert.format(phone="NULL", address="NULL",
                                                channel=channel)), at)  # fmt: skip
    finally:
        engine.dispose()
