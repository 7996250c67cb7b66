"""Hostile inbound e-mail: whatever reaches our mailbox, parse_inbound returns a reply,
bounces, or MailInputError (the listener drops it); never another exception (the
listener would answer 451 and the sender would send it again forever), and never a
message the parser takes gigabytes or minutes on."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.smtp import (
    MAX_BOUNCES,
    MAX_FIELD_BYTES,
    MAX_HEADER_SECTION_BYTES,
    MAX_PARTS,
    InboundMail,
    MailInputError,
    parse_inbound,
)

HEAD = b"From: Ana <ana@example.mx>\r\nSubject: hola\r\n"
WORD = b"=?utf-8?b?w6k=?= "  # an encoded word: the parser's costly case


def reply(raw: bytes) -> InboundMail:
    parsed = parse_inbound(raw)
    assert isinstance(parsed, InboundMail)
    return parsed


def multipart(*parts: bytes) -> bytes:
    body = b"".join(b"--b\r\n" + part + b"\r\n" for part in parts)
    return HEAD + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + body + b"--b--\r\n"


@pytest.mark.parametrize("charset", [b"x-klingon", b'"\xff\xfe"', b"*=x-klingon''abc"])
def test_given_a_charset_python_does_not_know_then_the_text_is_kept_as_utf8(
    charset: bytes,
) -> None:
    param = b"charset" + charset if charset.startswith(b"*") else b"charset=" + charset
    raw = HEAD + b"Content-Type: text/plain; " + param + b"\r\n\r\nBAJA por favor\r\n"
    assert reply(raw).text.startswith("BAJA por favor")


def test_given_a_subject_of_fifty_thousand_encoded_words_then_refused_not_parsed() -> None:
    raw = b"From: ana@example.mx\r\nSubject: " + WORD * 50_000 + b"\r\n\r\nhola"
    with pytest.raises(MailInputError, match="header section over"):
        parse_inbound(raw)


def test_given_one_field_over_the_bound_in_a_short_header_then_refused() -> None:
    raw = HEAD + b"References: " + WORD * (MAX_FIELD_BYTES // len(WORD) + 1) + b"\r\n\r\nhola"
    assert len(raw) < MAX_HEADER_SECTION_BYTES
    with pytest.raises(MailInputError, match="header field over"):
        parse_inbound(raw)


@pytest.mark.parametrize("field", [b"Content-Type: text/plain; " + b"a=b; " * 150_000,
                                   b"Content-Disposition: inline; filename=" + WORD * 50_000])  # fmt: skip
def test_given_a_parts_field_over_the_bound_then_refused_before_it_is_parsed(field: bytes) -> None:
    with pytest.raises(MailInputError, match="header field over"):
        parse_inbound(multipart(field + b"\r\n\r\nhola"))


def test_given_multiparts_nested_thousands_deep_then_refused_not_a_recursion_error() -> None:
    nest = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(5000)
    )
    with pytest.raises(MailInputError, match="MIME parts"):
        parse_inbound(HEAD + nest)


def test_given_more_parts_than_the_bound_then_refused() -> None:
    parts = [b"Content-Type: text/plain\r\n\r\nx"] * (MAX_PARTS + 1)
    with pytest.raises(MailInputError, match="MIME parts"):
        parse_inbound(multipart(*parts))


def test_given_a_reply_with_a_few_parts_then_its_plain_text() -> None:
    raw = multipart(b"Content-Type: text/html\r\n\r\n<p>x</p>",
                    b"Content-Type: text/plain; charset=utf-8\r\n\r\nya pagu\xc3\xa9")  # fmt: skip
    assert reply(raw).text.startswith("ya pagué")


def test_given_a_delivery_report_with_thousands_of_recipients_then_refused() -> None:
    groups = b"Final-Recipient: rfc822; x@example.mx\r\nAction: failed\r\n\r\n" * 10_000
    raw = (HEAD + b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"'
           b"\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x"
           b"\r\n\r\n" + groups + b"--b--\r\n")  # fmt: skip
    with pytest.raises(MailInputError, match=f"over {MAX_BOUNCES} recipient groups"):
        parse_inbound(raw)


@pytest.mark.parametrize("sender", [b"<\x00>", b"nadie"])
def test_given_a_from_that_is_no_address_then_refused(sender: bytes) -> None:
    with pytest.raises(MailInputError, match="without a From address"):
        parse_inbound(b"From: " + sender + b"\r\n\r\nhola")


def test_given_nul_bytes_in_subject_and_text_then_stored_without_them() -> None:
    parsed = reply(b"From: ana@example.mx\r\nSubject: ho\x00la\r\n\r\nBA\x00JA\r\n")
    assert "\x00" not in parsed.subject + parsed.text
    assert parsed.text.startswith("BAJA")


PIECES = st.sampled_from([
    HEAD, b"From: ", b"\r\n", b"\n", b"\r\n\r\n", b"Content-Type: multipart/mixed; boundary=b",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b", b"--b\r\n",
    b"--b--", b"Content-Type: message/delivery-status", b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; charset=x-klingon", b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable", b"=?utf-8?q?=FF?=", b"=?x?b?@@?=",
    b"Final-Recipient: rfc822; a@b", b"Action: failed", b"In-Reply-To: <", b"\x00", b"\xff",
    b"Subject: ", b"charset*=''%FF", b"=ZZ", b"====",
])  # fmt: skip


@settings(max_examples=400, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(PIECES, st.binary(max_size=20)), max_size=40))
def test_given_any_bytes_then_a_reading_or_mail_input_error_never_another_exception(
    pieces: list[bytes],
) -> None:
    with contextlib.suppress(MailInputError):
        parse_inbound(b"".join(pieces))
