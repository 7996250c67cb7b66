"""Migration 0035: the notes of unproven mails handled before it are copied from their
audit entries (append-only, never rewritten) into unproven_replies_handled, where
retention deletes them, so the handled list shows them meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from store.audit import append as audit_append
from store.db import make_engine, transaction
from store.migrate import upgrade
from store.models import User

# Each test migrates an empty database to an old revision, then to the newest.
pytestmark = pytest.mark.fresh_database


def test_given_mails_handled_before_the_migration_then_their_notes_are_copied_and_entries_kept(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        upgrade(engine, "0034")
        with transaction(engine) as s:
            user = User(username="sofia", role="supervisor", password_hash="x")
            s.add(user)
            mails = [audit_append(s, "reply_unproven", {"address": f"d{i}@example.mx"},
                                  actor="outreach") for i in range(3)]  # fmt: skip
            s.flush()
            notes = ["Llamé: confirma la baja", "", None]
            for mail, note in zip(mails, notes, strict=True):
                audit_append(s, "reply_unproven_handled",
                             {"entry_id": mail.id, **({} if note is None else {"note": note})},
                             actor="user:sofia", subject=f"audit:{mail.id}")  # fmt: skip
                s.execute(text("INSERT INTO unproven_replies_handled (entry_id, handled_at, "
                               "handled_by) VALUES (:e, :at, :u)"),
                          {"e": mail.id, "at": at, "u": user.id})  # fmt: skip
            ids = [m.id for m in mails]
            audit_append(s, "reply_unproven_handled", {"entry_id": "not an id"}, actor="x")
        before = _payloads(engine)
        upgrade(engine)
        with engine.begin() as conn:
            rows = dict(conn.execute(text(
                "SELECT entry_id, note FROM unproven_replies_handled")).all())  # fmt: skip
            assert conn.execute(text(
                "SELECT count(*) FROM unproven_replies_handled WHERE words_purged_at IS NOT NULL"
            )).scalar() == 0  # fmt: skip
        assert rows == {ids[0]: "Llamé: confirma la baja", ids[1]: "", ids[2]: ""}
        assert _payloads(engine) == before  # the audit log untouched
    finally:
        engine.dispose()


def _payloads(engine: Engine) -> list[str]:
    with engine.begin() as conn:
        return list(conn.execute(text("SELECT payload FROM audit_entries ORDER BY id")).scalars())
