"""Opt-outs per channel with evidence: a "BAJA" reply stops that channel at that
number for every account that has it, at once; an agent or operator stops a channel
for an account; lifting needs evidence too; every change is audited, durable in SQL
and what the checks read is rebuilt from the rows; every bad input is refused."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from compliance_helpers import make_account
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from cobrador.cli import main
from compliance.opt_outs import (
    OptOutError,
    lift_opt_out,
    rebuild_opt_outs,
    record_opt_out,
    record_reply,
    reply_opt_out,
)
from compliance.service import ComplianceService
from compliance.transparency.verify import verify
from outreach.channels import Reply
from store.db import transaction
from store.models import Account, AuditEntry, ContactChannel, ContactOptOut, Phone

NOW = datetime(2026, 1, 13, 17, 0, tzinfo=UTC)  # Tuesday noon in Bogotá
AT = NOW.isoformat()
NUMBER = "+573001234567"


def _co(engine: Engine, ref: str = "CO-1", **fields: Any) -> int:
    defaults = {"email": "juana@example.com", "email_consent": True,
                "email_consent_ref": "form-email-1"}  # fmt: skip
    return make_account(engine, ref, country="CO", region="DC",
                        phones=[{"number_e164": NUMBER, "channels": "call,sms,whatsapp"}],
                        **{**defaults, **fields})  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, redis_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path / "data"))


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", *args, "--at", AT])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out.strip() else {})


def _kinds(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEntry.kind).order_by(AuditEntry.id)))


def test_given_baja_reply_when_recorded_then_sms_refused_on_that_number_for_every_account(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine, "CO-1")
    _co(engine, "CO-2", email="otro@example.com")  # the same number on a second debt
    reply = Reply(ContactChannel.sms, "573001234567", "BAJA", NOW, attempt_id=None,
                  provider_id="kannel-77")  # fmt: skip
    result = record_reply(engine, reply)
    assert result.created == 2 and len(result.account_ids) == 2
    for ref in ("CO-1", "CO-2"):
        code, out = _check(capsys, "--account", ref, "--channel", "sms", "--phone", NUMBER)
        assert code == 1 and out["reasons"] == ["opted_out"], ref
        # The check says why: which opt-out, from where, since when.
        [why] = out["opted_out"]
        assert (why["source"], why["address"]) == ("reply", "+57******4567")
        assert why["created_at"] == NOW.isoformat()
        # Only SMS stopped: calls and WhatsApp on the number are still the debtor's choice.
        assert _check(capsys, "--account", ref, "--channel", "call", "--phone", NUMBER)[0] == 0
        assert _check(capsys, "--account", ref, "--channel", "whatsapp", "--phone", NUMBER)[0] == 0
    with Session(engine) as s:
        rows = s.scalars(select(ContactOptOut)).all()
        assert {(r.channel, r.address, r.source) for r in rows} == {("sms", NUMBER, "reply")}
        assert rows[0].evidence["text"] == "BAJA" and rows[0].evidence["provider_id"] == "kannel-77"
        assert {p.opted_out for p in s.scalars(select(Phone))} == {"sms"}
    assert _kinds(engine).count("opt_out") == 2
    assert verify(engine).ok
    # The gateway delivers the reply again: nothing more is recorded.
    assert record_reply(engine, reply).created == 0
    assert _kinds(engine).count("opt_out") == 2


async def test_given_channel_port_opt_out_when_reply_then_final_check_refuses_at_once(
    engine: Engine, aredis: aioredis.Redis
) -> None:
    _co(engine)
    service = ComplianceService(engine, aredis)
    with transaction(engine) as s:
        before = service.load_item(s, account_ref="CO-1", channel="whatsapp", phone_e164=NUMBER)
    assert (await service.evaluate_batch([before], NOW))[0].allowed
    await reply_opt_out(engine)(Reply(ContactChannel.whatsapp, NUMBER, "STOP", NOW))
    with transaction(engine) as s:
        item = service.load_item(s, account_ref="CO-1", channel="whatsapp", phone_e164=NUMBER)
    decision, _ = await service.final_check(item, NOW, "a:1")
    assert not decision.allowed and decision.reasons == ("opted_out",)


def test_given_email_reply_when_recorded_then_email_refused_whatever_the_case(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    record_reply(engine, Reply(ContactChannel.email, "Juana@Example.com", "baja", NOW))
    code, out = _check(capsys, "--account", "CO-1", "--channel", "email")
    assert code == 1 and out["reasons"] == ["opted_out"]
    with Session(engine) as s:
        assert s.scalars(select(Account.opted_out)).one() == "email"


def test_given_agent_opt_out_for_the_account_when_checked_then_every_number_refused(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = _co(engine, visit_authorisation_ref="micro-1")
    with transaction(engine) as s:
        record_opt_out(s, channel="whatsapp", source="agent", actor="agent:ana",
                       evidence={"disposition_id": 12, "attempt_id": 34}, account_id=account_id)  # fmt: skip
        record_opt_out(s, channel="visit", source="portal", actor="portal",
                       evidence={"form": "P-1"}, account_id=account_id)  # fmt: skip
    code, out = _check(capsys, "--account", "CO-1", "--channel", "whatsapp", "--phone", NUMBER)
    assert code == 1 and out["reasons"] == ["opted_out"]
    code, out = _check(capsys, "--account", "CO-1", "--channel", "visit")
    assert code == 1 and out["reasons"] == ["opted_out"]
    assert _check(capsys, "--account", "CO-1", "--channel", "sms", "--phone", NUMBER)[0] == 0


def test_given_opt_out_lifted_with_evidence_then_channel_allowed_and_history_kept(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    account_id = _co(engine)
    record_reply(engine, Reply(ContactChannel.sms, NUMBER, "BAJA", NOW))
    with transaction(engine) as s:
        assert lift_opt_out(s, account_id=account_id, channel="sms", address=NUMBER,
                            evidence={"form": "REAUT-9"}, actor="operator:luis") == 1  # fmt: skip
    assert _check(capsys, "--account", "CO-1", "--channel", "sms", "--phone", NUMBER)[0] == 0
    with Session(engine) as s:
        row = s.scalars(select(ContactOptOut)).one()
        assert row.lifted_by == "operator:luis" and row.lift_evidence == {"form": "REAUT-9"}
        assert s.scalars(select(Phone.opted_out)).one() == ""
    assert "opt_out_lifted" in _kinds(engine)
    with transaction(engine) as s, pytest.raises(OptOutError, match="no sms opt-out in force"):
        lift_opt_out(s, account_id=account_id, channel="sms", address=NUMBER,
                     evidence={"form": "x"}, actor="operator")  # fmt: skip


def test_given_stops_from_two_sources_when_one_source_lifts_then_the_other_still_stops(
    engine: Engine,
) -> None:
    account_id = _co(engine)
    with transaction(engine) as s:
        for source, note in (("portal", "desde el portal"), ("portal", "otra vez"),
                             ("operator", "carta del deudor")):  # fmt: skip
            record_opt_out(s, channel="call", source=source, evidence={"note": note},
                           actor="x", account_id=account_id, at=NOW)  # fmt: skip
    with Session(engine) as s:  # the same source twice: one row; another source: its own
        assert sorted(s.scalars(select(ContactOptOut.source))) == ["operator", "portal"]
    with Session(engine) as s:
        portal = s.scalars(select(ContactOptOut.id).where(ContactOptOut.source == "portal")).all()
    with transaction(engine) as s:
        assert lift_opt_out(s, account_id=account_id, channel="call", evidence={"via": "portal"},
                            actor="debtor:portal", source="portal", only_ids=portal,
                            at=NOW) == 1  # fmt: skip
    with Session(engine) as s:
        assert s.scalars(select(Account.opted_out)).one() == "call"  # the operator's stop stays
    with transaction(engine) as s, pytest.raises(OptOutError, match="among those given"):
        lift_opt_out(s, account_id=account_id, channel="call", evidence={"via": "portal"},
                     actor="debtor:portal", source="portal", only_ids=portal, at=NOW)  # fmt: skip


def test_given_derived_columns_lost_when_rebuilt_then_the_rows_restore_them(
    engine: Engine,
) -> None:
    account_id = _co(engine)
    record_reply(engine, Reply(ContactChannel.sms, NUMBER, "BAJA", NOW))
    with transaction(engine) as s:
        record_opt_out(s, channel="email", source="agent", actor="agent:ana",
                       evidence={"disposition_id": 1}, account_id=account_id)  # fmt: skip
        s.execute(update(Phone).values(opted_out=""))
        s.execute(update(Account).values(opted_out=""))
    with transaction(engine) as s:
        rebuild_opt_outs(s, [account_id])
    with Session(engine) as s:
        assert s.scalars(select(Phone.opted_out)).one() == "sms"
        assert s.scalars(select(Account.opted_out)).one() == "email"


def test_given_reply_from_a_number_no_account_has_then_audited_and_nothing_stopped(
    engine: Engine,
) -> None:
    _co(engine)
    result = record_reply(engine, Reply(ContactChannel.sms, "573009999999", "STOP ya no", NOW))
    assert result.ids == () and result.created == 0
    assert _kinds(engine) == ["opt_out_unmatched"]


def test_given_reply_from_an_address_no_account_has_then_its_entry_keeps_digests_not_the_values(
    engine: Engine,
) -> None:
    """The log is kept for ever and the sender is nobody we may contact: the entry keeps
    the address (as the rows would write it) and the words as SHA-256 and length, so
    whoever holds them still proves the stop; the rest of the evidence as it came."""
    _co(engine)
    record_reply(engine, Reply(ContactChannel.sms, "573009999999", "STOP, soy Ana Ruiz", NOW,
                               attempt_id=None, provider_id="msg-1"))  # fmt: skip
    record_reply(engine, Reply(ContactChannel.email, "Otra@Example.mx", "BAJA", NOW))
    with Session(engine) as s:
        sms, email = [json.loads(p) for p in s.scalars(
            select(AuditEntry.payload).where(AuditEntry.kind == "opt_out_unmatched")
            .order_by(AuditEntry.id))]  # fmt: skip
    for payload, address, words in ((sms, "+573009999999", "STOP, soy Ana Ruiz"),
                                    (email, "otra@example.mx", "BAJA")):  # fmt: skip
        text = json.dumps(payload, ensure_ascii=False)
        assert address.lstrip("+") not in text and words not in text
        assert payload["address_sha256"] == hashlib.sha256(address.encode()).hexdigest()
        assert payload["address_chars"] == len(address) and "address" not in payload
        evidence = payload["evidence"]
        assert evidence["text_sha256"] == hashlib.sha256(words.encode()).hexdigest()
        assert evidence["text_chars"] == len(words) and "text" not in evidence
    assert (sms["channel"], sms["source"], sms["evidence"]["provider_id"]) == (
        "sms",
        "reply",
        "msg-1",
    )
    assert sms["evidence"]["received_at"] == AT
    assert verify(engine).ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channel": "fax"}, "unknown channel"),
        ({"channel": "chat"}, "unknown channel"),
        ({"source": "rumour"}, "unknown source"),
        ({"evidence": {}}, "needs its evidence"),
        ({"evidence": {"note": ""}}, "needs its evidence"),
        ({"evidence": {"note": "x" * 5000}}, "longer than 4000"),
        ({"evidence": {"blob": object()}}, "not plain data"),
        ({"actor": ""}, "who recorded it"),
        ({"address": "hola"}, "not an E.164 number"),
        ({"address": "+57"}, "not an E.164 number"),
        ({"channel": "email", "address": "juana.example.com"}, "not an e-mail address"),
        ({"channel": "visit", "address": "Calle 1"}, "whole account"),
        ({"address": None, "account_id": None}, "needs an address or an account"),
        ({"at": datetime(2026, 1, 13, 12, 0)}, "time zone"),
        ({"account_id": 999}, "does not exist"),
        ({"address": "+573005550000", "account_id": "ME"}, "not an address of account"),
    ],
)
def test_given_bad_opt_out_input_when_recorded_then_clear_error_and_nothing_written(
    engine: Engine, kwargs: dict[str, Any], message: str
) -> None:
    account_id = _co(engine)
    args: dict[str, Any] = {"channel": "sms", "source": "agent", "actor": "agent:ana",
                            "evidence": {"disposition_id": 1}, "address": NUMBER,
                            "account_id": None}  # fmt: skip
    args.update({k: (account_id if v == "ME" else v) for k, v in kwargs.items()})
    with transaction(engine) as s, pytest.raises(OptOutError, match=message):
        record_opt_out(s, **args)
    with Session(engine) as s:
        assert s.scalars(select(ContactOptOut)).first() is None


def test_given_optout_cli_when_added_listed_and_lifted_then_check_follows(
    engine: Engine, env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    base = ["--account", "CO-1", "--evidence", "FORM-BAJA-1"]
    assert main(["optout", "add", "--channel", "sms", "--phone", "300 123 4567", *base]) == 0
    assert json.loads(capsys.readouterr().out) == {"opt_out_ids": [1], "new": 1}
    assert main(["optout", "add", "--channel", "email", *base]) == 0
    capsys.readouterr()
    assert main(["optout", "list", "--account", "CO-1"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["channel"], r["address"], r["source"]) for r in listed] == [
        ("sms", NUMBER, "operator"),
        ("email", "juana@example.com", "operator"),
    ]
    assert _check(capsys, "--account", "CO-1", "--channel", "sms", "--phone", NUMBER)[1][
        "reasons"
    ] == ["opted_out"]
    assert main(["optout", "lift", "--channel", "sms", "--phone", NUMBER, *base]) == 0
    capsys.readouterr()
    assert _check(capsys, "--account", "CO-1", "--channel", "sms", "--phone", NUMBER)[0] == 0


@pytest.mark.parametrize(
    "args",
    [
        ["add", "--account", "NOPE", "--channel", "sms", "--evidence", "x"],
        ["add", "--account", "CO-1", "--channel", "sms", "--phone", "hola", "--evidence", "x"],
        ["add", "--account", "CO-1", "--channel", "sms", "--email", "a@b.co", "--evidence", "x"],
        ["add", "--account", "CO-1", "--channel", "visit", "--phone", NUMBER, "--evidence", "x"],
        ["add", "--account", "CO-1", "--channel", "sms", "--evidence", "  "],
        ["add", "--account", "CO-1", "--channel", "email", "--email", "x@", "--evidence", "x"],
        ["lift", "--account", "CO-1", "--channel", "sms", "--phone", NUMBER, "--evidence", "x"],
        ["list", "--account", "NOPE"],
    ],
)
def test_given_bad_optout_cli_input_then_exit_2(
    engine: Engine, env: None, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _co(engine)
    assert main(["optout", *args]) == 2
    assert "error" in capsys.readouterr().err
