"""Letters: a formal notice rendered to PDF and kept with its hash, the day's letters
batched into one PDF with a manifest for the mail room, and the carrier's tracking
numbers and acknowledgements imported back (all or nothing, every bad row named)."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import re
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from support.messaging import Note, attempt_row, message_attempt, new_account

from cobrador.cli import main
from cobrador.ground.errors import UserError
from compliance.debtor_time import local_days
from compliance.timezones import country_zones
from outreach.channels import MessageNotSent, Reply
from outreach.channels.delivery import DeliveryBook
from outreach.channels.letter import (
    MailRoomTransport,
    batch_day,
    batch_today,
    import_receipts,
    read_receipts,
)
from outreach.channels.message_channel import MessageChannel
from store.db import transaction
from store.models import Account, ContactChannel

ADDRESS = "Av. Reforma 222, piso 3\nCol. Juárez, 06600 CDMX"
# The channel's clock: 18:00 UTC of 7 Dec, the 7th in every zone of Mexico (10:00 in
# Tijuana). A letter is dated on its debtor's date (the test accounts are Mexican with
# no region: the zone of Mexico furthest behind), never read from the real clock here:
# a module-level "today" raced with the real midnight of Tijuana.
SENT_AT = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
TODAY = local_days(SENT_AT, country_zones("MX"))[0]


def pdf_text(pdf: bytes) -> str:
    """The text drawn on the pages (reportlab's streams: ASCII85 over Flate)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        raw = stream.strip().removesuffix(b"~>")
        out.append(zlib.decompress(base64.a85decode(raw)).decode("latin-1"))
    return "".join(out)


def read(path: Path) -> bytes:
    return path.read_bytes()


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page[^s]", pdf))


async def no_replies(reply: Reply) -> None:
    raise AssertionError("letters take no replies")


def channel_in(engine: Engine, tmp_path: Path) -> MessageChannel:
    """letter_channel's channel (outreach/channels/letter.py) on the fixed clock."""
    book = DeliveryBook(engine)
    transport = MailRoomTransport(engine, book, tmp_path / "letters", clock=lambda: SENT_AT)
    return MessageChannel(ContactChannel.letter, transport, book, opt_out=no_replies)


async def send_letter(
    engine: Engine, channel: MessageChannel, text: str = "Estimado cliente."
) -> tuple[int, str]:
    attempt = message_attempt(engine, ContactChannel.letter, ADDRESS, sender="Cobranza Ejemplo SA")
    reference = await channel.send(Note(attempt, f"{text}\n\nLe pedimos comunicarse.",
                                        subject="Aviso prejudicial"))  # fmt: skip
    return attempt.attempt_id, reference


async def test_given_a_letter_when_sent_then_its_pdf_is_kept_with_its_hash(
    engine: Engine, tmp_path: Path
) -> None:
    attempt_id, reference = await send_letter(engine, channel_in(engine, tmp_path))
    row = attempt_row(engine, attempt_id)
    assert (row.result, row.uniqueid, row.channel) == ("sent", reference, "letter")
    pdf = read(Path(row.details["pdf"]))
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == row.details["pdf_sha256"]
    text = pdf_text(pdf)
    for words in (
        "Cobranza Ejemplo SA",
        "Deudor Prueba",
        "Av. Reforma 222, piso 3",
        "Aviso prejudicial",
        "Estimado cliente.",
        "Le pedimos comunicarse.",
        f"Referencia: {reference}",
    ):
        assert words in text, words
    assert date(2026, 12, 7) == TODAY
    assert Path(row.details["pdf"]).parent.name == TODAY.isoformat()


async def test_given_a_mexico_city_debtor_at_19_30_local_when_a_letter_is_sent_then_it_is_dated_their_day(
    engine: Engine, tmp_path: Path
) -> None:
    # 01:30 UTC of 8 Dec is 19:30 of 7 Dec in Mexico City: the letter says 7 Dec and
    # is filed (and batched) under it.
    account_id = new_account(engine)
    with transaction(engine) as s:
        account = s.get(Account, account_id)
        assert account is not None
        account.region = "CMX"
    clock = datetime(2026, 12, 8, 1, 30, tzinfo=UTC)
    transport = MailRoomTransport(engine, DeliveryBook(engine), tmp_path / "letters",
                                  clock=lambda: clock)  # fmt: skip
    channel = MessageChannel(ContactChannel.letter, transport, DeliveryBook(engine),
                             opt_out=no_replies)  # fmt: skip
    attempt = message_attempt(engine, ContactChannel.letter, ADDRESS, account_id=account_id)
    await channel.send(Note(attempt, "Estimado cliente."))
    row = attempt_row(engine, attempt.attempt_id)
    assert row.details["letter_day"] == "2026-12-07"
    assert Path(row.details["pdf"]).parent.name == "2026-12-07"
    assert "7 de diciembre de 2026" in pdf_text(read(Path(row.details["pdf"])))
    assert batch_day(engine, tmp_path / "letters", date(2026, 12, 7)).letters == 1


@pytest.mark.parametrize(
    ("countries", "now", "day"),
    [
        # 19:30 of the 7th in Mexico City (17:30 in Tijuana): the 7th, not UTC's 8th.
        (["MX"], datetime(2026, 12, 8, 1, 30, tzinfo=UTC), date(2026, 12, 7)),
        # 19:30 in Lima and Bogotá.
        (["PE"], datetime(2026, 12, 8, 0, 30, tzinfo=UTC), date(2026, 12, 7)),
        (["CO", "PE"], datetime(2026, 12, 8, 0, 30, tzinfo=UTC), date(2026, 12, 7)),
        # 00:30 in Mexico City is still 22:30 of the 7th in Tijuana: the earliest.
        (["MX", "MX"], datetime(2026, 12, 8, 6, 30, tzinfo=UTC), date(2026, 12, 7)),
        (["MX"], datetime(2026, 12, 8, 8, 0, tzinfo=UTC), date(2026, 12, 8)),
        # No campaign, or a country we know no zones of: UTC's date.
        ([], datetime(2026, 12, 8, 1, 30, tzinfo=UTC), date(2026, 12, 8)),
        (["ZZ"], datetime(2026, 12, 8, 1, 30, tzinfo=UTC), date(2026, 12, 8)),
    ],
)
def test_given_the_campaigns_countries_when_no_day_is_given_then_the_batch_is_the_debtors_today(
    countries: list[str], now: datetime, day: date
) -> None:
    assert batch_today(now, countries) == day


def test_given_the_batch_help_then_it_says_the_default_day_is_not_utcs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["letters", "batch", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "today where the debtors are" in help_text and "never UTC's" in help_text


async def test_given_no_postal_address_then_not_sent(engine: Engine, tmp_path: Path) -> None:
    attempt = message_attempt(engine, ContactChannel.letter, "  ")
    with pytest.raises(MessageNotSent, match="postal address"):
        await channel_in(engine, tmp_path).send(Note(attempt, "x"))
    assert attempt_row(engine, attempt.attempt_id).result == "failed"


async def test_given_the_days_letters_when_batched_then_one_pdf_one_manifest_and_not_twice(
    engine: Engine, tmp_path: Path
) -> None:
    channel = channel_in(engine, tmp_path)
    sent = [await send_letter(engine, channel, f"Carta numero {i}.") for i in range(3)]
    batch = batch_day(engine, tmp_path / "letters", TODAY)
    pdf = read(batch.pdf)
    assert batch.letters == 3 and pages(pdf) == 3
    assert all(f"Carta numero {i}." in pdf_text(pdf) for i in range(3))
    with batch.manifest.open(encoding="utf-8") as fh:
        manifest = list(csv.DictReader(fh))
    assert [m["referencia"] for m in manifest] == [ref for _, ref in sent]
    assert manifest[0]["direccion"] == "Av. Reforma 222, piso 3, Col. Juárez, 06600 CDMX"
    assert manifest[0]["pdf_sha256"] == attempt_row(engine, sent[0][0]).details["pdf_sha256"]
    with pytest.raises(UserError, match="no letters to batch"):
        batch_day(engine, tmp_path / "letters", TODAY)
    with pytest.raises(UserError, match="no letters to batch"):
        batch_day(engine, tmp_path / "letters", date(2020, 1, 1))


async def test_given_the_carriers_receipts_then_tracking_acknowledgement_and_returns(
    engine: Engine, tmp_path: Path
) -> None:
    channel = channel_in(engine, tmp_path)
    (delivered, ref1), (returned, ref2), (moving, ref3) = [
        await send_letter(engine, channel) for _ in range(3)
    ]
    receipts = read_receipts([
        "referencia,guia,evento,fecha,recibio",
        f"{ref1},MX123456789,entregado,2026-12-07T11:20:00-06:00,Juan Pérez",
        f"{ref2},MX123456790,devuelto,2026-12-08,",
        f"{ref3},MX123456791,en_transito,2026-12-06T09:00:00,",
    ])  # fmt: skip
    assert await import_receipts(channel, receipts) == 3
    row = attempt_row(engine, delivered)
    assert (row.result, row.details["tracking_number"], row.details["received_by"]) == (
        "delivered",
        "MX123456789",
        "Juan Pérez",
    )
    assert row.details["acknowledged_at"] == "2026-12-07T11:20:00-06:00"
    assert attempt_row(engine, returned).result == "failed"
    assert attempt_row(engine, returned).details["error"] == "devuelto al remitente"
    assert (
        attempt_row(engine, moving).result,
        attempt_row(engine, moving).details["tracking_number"],
    ) == ("sent", "MX123456791")


def test_given_a_bad_receipts_file_then_every_bad_line_named_and_nothing_imported() -> None:
    with pytest.raises(UserError) as caught:
        read_receipts([
            "referencia,guia,evento,fecha,recibio",
            "L1-aa,,entregado,2026-12-07,",
            "L2-bb,MX1,perdido,2026-12-07,",
            "L3-cc,MX2,entregado,ayer,",
            "L4-dd,MX3,entregado,2026-12-07,",
        ])  # fmt: skip
    message = str(caught.value)
    assert "line 2: guia missing" in message and "line 3: evento 'perdido'" in message
    assert "line 4: fecha is not an ISO 8601 date" in message and "line 5" not in message
    with pytest.raises(UserError, match="missing columns guia, evento"):
        read_receipts(["referencia,fecha", "L1,2026-12-07"])


async def test_given_a_receipt_for_no_letter_then_the_whole_file_refused(
    engine: Engine, tmp_path: Path
) -> None:
    channel = channel_in(engine, tmp_path)
    attempt_id, reference = await send_letter(engine, channel)
    receipts = read_receipts(["referencia,guia,evento,fecha", f"{reference},G1,entregado,2026-12-07",
                              "L999-ffff,G2,entregado,2026-12-07"])  # fmt: skip
    with pytest.raises(UserError, match="line 3: no letter 'L999-ffff'"):
        await import_receipts(channel, receipts)
    assert attempt_row(engine, attempt_id).result == "sent"
    assert "tracking_number" not in attempt_row(engine, attempt_id).details


def test_given_the_cli_then_batch_and_import_work_and_a_bad_file_exits_2(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path))
    channel = channel_in(engine, tmp_path)
    attempt_id, reference = asyncio.run(send_letter(engine, channel))
    assert main(["letters", "batch", "--day", TODAY.isoformat()]) == 0
    assert "1 letters of" in capsys.readouterr().out
    receipts = tmp_path / "acuses.csv"
    receipts.write_text(f"referencia,guia,evento,fecha,recibio\n{reference},G7,entregado,2026-12-07,Ana\n",
                        encoding="utf-8")  # fmt: skip
    assert main(["letters", "import", str(receipts)]) == 0
    assert attempt_row(engine, attempt_id).result == "delivered"
    receipts.write_text("referencia,guia\nx,y\n", encoding="utf-8")
    assert main(["letters", "import", str(receipts)]) == 2
    assert "missing columns" in capsys.readouterr().err


async def test_given_an_address_like_a_formula_then_the_manifest_shows_it_as_text(
    engine: Engine, tmp_path: Path
) -> None:
    attempt = message_attempt(engine, ContactChannel.letter, "=HYPERLINK(\"http://x\")\nCol. Centro",
                              sender="Cobranza Ejemplo SA")  # fmt: skip
    await channel_in(engine, tmp_path).send(Note(attempt, "Estimado cliente."))
    batch = batch_day(engine, tmp_path / "letters", TODAY)
    with batch.manifest.open(encoding="utf-8") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["direccion"] == '\'=HYPERLINK("http://x"), Col. Centro'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('referencia,guia,evento,fecha\nR1,"' + "x" * 200_000 + '",entregado,2026-12-07\n', "line 2 is not CSV"),
        ('referencia,"' + "x" * 200_000 + '"\n', "line 1 is not CSV"),
        ("referencia,guia,evento,fecha\nR1,G\x001,entregado,2026-12-07\n", "NUL character"),
    ],
)  # fmt: skip
def test_given_a_hostile_receipts_file_then_a_user_error_with_the_line(
    text: str, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        read_receipts(text.splitlines(keepends=True))


def test_given_thousands_of_bad_receipts_then_fifty_named_and_the_rest_counted() -> None:
    rows = ["referencia,guia,evento,fecha\n"] + [
        f"R{i},G,{'x' * 1000},2026-12-07\n" for i in range(2000)
    ]
    with pytest.raises(UserError) as caught:
        read_receipts(rows)
    message = str(caught.value)
    assert message.count("\nline ") == 50 and message.endswith("... and 1950 more")
    assert len(message) < 10_000


def test_given_a_receipts_file_not_utf8_or_without_line_ends_then_exit_2_with_the_reason(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COBRADOR_DATA_DIR", str(tmp_path))
    receipts = tmp_path / "acuses.csv"
    receipts.write_bytes(
        "referencia,guia,evento,fecha\nR1,G,entregado,2026-12-07,José\n".encode("latin-1")
    )
    assert main(["letters", "import", str(receipts)]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    receipts.write_bytes(b"r" * (2 << 20))
    assert main(["letters", "import", str(receipts)]) == 2
    assert "a line over" in capsys.readouterr().err
