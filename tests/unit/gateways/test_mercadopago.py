"""Mercado Pago's webhook signature, notification and payment parsing: pure, no I/O."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateways import mercadopago as mp

SECRET = "s3cr3t-de-la-aplicacion"
NOW = 1_764_000_000.0


def test_given_the_documented_template_then_the_manifest_is_id_request_id_ts_each_ending_in_semicolon() -> (
    None
):
    assert mp.manifest("123456", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e", "1704908010") == (
        "id:123456;request-id:bb56a2f1-6aae-46ac-982e-9dcd3581d08e;ts:1704908010;"
    )


def test_given_an_alphanumeric_data_id_then_it_is_lower_cased_in_the_manifest() -> None:
    assert mp.manifest("ORD01ABC", "r", "1").startswith("id:ord01abc;")


def test_given_a_signature_made_by_hand_as_documented_then_it_verifies() -> None:
    text = f"id:987;request-id:req-1;ts:{int(NOW)};"
    v1 = hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()
    mp.verify_signature(f"ts={int(NOW)},v1={v1}", "req-1", "987", SECRET, NOW, 300)


def test_given_our_signer_then_it_verifies_and_matches_the_header_layout() -> None:
    header = mp.sign(SECRET, "987", "req-1", int(NOW))
    assert header.startswith(f"ts={int(NOW)},v1=") and len(header.split("v1=")[1]) == 64
    mp.verify_signature(header, "req-1", "987", SECRET, NOW, 300)


def test_given_spaces_around_parts_then_the_header_still_parses() -> None:
    ts, v1 = mp.parse_signature(" ts=1 , v1=" + "a" * 64)
    assert (ts, v1) == ("1", "a" * 64)


def test_given_a_timestamp_in_milliseconds_then_its_age_is_judged_in_seconds() -> None:
    ms = int(NOW * 1000)
    mp.verify_signature(mp.sign(SECRET, "987", "r", ms), "r", "987", SECRET, NOW + 10, 300)
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(mp.sign(SECRET, "987", "r", ms), "r", "987", SECRET, NOW + 301, 300)
    assert exc.value.reason == "stale"


@pytest.mark.parametrize(
    ("header", "request_id", "data_id", "secret", "reason"),
    [
        (None, "r", "987", SECRET, "missing"),
        ("", "r", "987", SECRET, "missing"),
        ("v1=" + "a" * 64, "r", "987", SECRET, "malformed"),  # no ts
        ("ts=1764000000", "r", "987", SECRET, "malformed"),  # no v1
        ("ts=abc,v1=" + "a" * 64, "r", "987", SECRET, "malformed"),
        ("ts=1764000000,v1=xyz", "r", "987", SECRET, "malformed"),
        ("ts=1764000000,v1=" + "a" * 63, "r", "987", SECRET, "malformed"),
        ("ts=1764000000,ts=1764000000,v1=" + "a" * 64, "r", "987", SECRET, "malformed"),
        ("ts=17640000001234567,v1=" + "a" * 64, "r", "987", SECRET, "malformed"),
        ("garbage", "r", "987", SECRET, "malformed"),
        ("ts=1764000000,v1=" + "a" * 64 + "," * 300, "r", "987", SECRET, "malformed"),
        # a well-formed header whose HMAC is not ours
        ("ts=1764000000,v1=" + "a" * 64, "r", "987", SECRET, "mismatch"),
    ],
)
def test_given_a_bad_header_then_it_is_refused_with_its_reason(
    header: str | None, request_id: str, data_id: str, secret: str, reason: str
) -> None:
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(header, request_id, data_id, secret, NOW, 300)
    assert exc.value.reason == reason


def test_given_a_signature_with_another_secret_then_mismatch() -> None:
    header = mp.sign("otro-secreto", "987", "r", int(NOW))
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(header, "r", "987", SECRET, NOW, 300)
    assert exc.value.reason == "mismatch"


@pytest.mark.parametrize(
    ("signed", "checked"),
    [(("987", "r"), ("988", "r")), (("987", "r"), ("987", "r2"))],
)
def test_given_a_signature_of_another_payment_or_request_then_mismatch(
    signed: tuple[str, str], checked: tuple[str, str]
) -> None:
    header = mp.sign(SECRET, *signed, int(NOW))
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(header, checked[1], checked[0], SECRET, NOW, 300)
    assert exc.value.reason == "mismatch"


def test_given_no_request_id_then_missing() -> None:
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(mp.sign(SECRET, "987", "", int(NOW)), None, "987", SECRET, NOW, 300)
    assert exc.value.reason == "missing"


@pytest.mark.parametrize("request_id", ["x" * 129, "bad\nid"])
def test_given_an_unreasonable_request_id_then_malformed(request_id: str) -> None:
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(mp.sign(SECRET, "987", request_id, int(NOW)), request_id, "987",
                            SECRET, NOW, 300)  # fmt: skip
    assert exc.value.reason == "malformed"


def test_given_no_secret_configured_then_nothing_verifies() -> None:
    with pytest.raises(mp.SignatureError):
        mp.verify_signature(mp.sign("", "987", "r", int(NOW)), "r", "987", "", NOW, 300)


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_given_a_timestamp_too_far_from_now_then_stale(offset: int) -> None:
    header = mp.sign(SECRET, "987", "r", int(NOW) + offset)
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(header, "r", "987", SECRET, NOW, 300)
    assert exc.value.reason == "stale"


# --- notifications -----------------------------------------------------------


def body(data_id: object = "987", kind: str = "payment") -> bytes:
    import json

    return json.dumps({"action": "payment.updated", "api_version": "v1", "data": {"id": data_id},
                       "type": kind, "live_mode": True}).encode()  # fmt: skip


def test_given_a_payment_notification_then_its_id_and_topic_come_from_the_url() -> None:
    n = mp.parse_notification({"data.id": "987", "type": "payment"}, body())
    assert n == mp.Notification("payment", "payment.updated", "987")


def test_given_an_empty_body_then_the_url_is_enough() -> None:
    assert mp.parse_notification({"data.id": "987", "type": "payment"}, b"").data_id == "987"


@pytest.mark.parametrize(
    ("query", "raw", "why"),
    [
        ({"type": "payment"}, body(), "no data.id"),
        ({"data.id": "9" * 65, "type": "payment"}, body(), "no data.id"),
        ({"data.id": "98 7", "type": "payment"}, body(), "no data.id"),
        ({"data.id": "987", "type": "payment"}, b"{not json", "not JSON"),
        ({"data.id": "987", "type": "payment"}, b"\xff\xfe", "not JSON"),
        ({"data.id": "987", "type": "payment"}, b"[1, 2]", "not a JSON object"),
        ({"data.id": "987", "type": "payment"}, b'{"data": "987"}', "data is not an object"),
        ({"data.id": "987", "type": "payment"}, body("111"), "differs"),
        ({"data.id": "987"}, b"{}", "no type"),
        ({"data.id": "abc", "type": "payment"}, body("abc"), "digits"),
        ({"data.id": "987", "type": "x" * 41}, body(), "short text"),
    ],
)
def test_given_a_malformed_notification_then_it_says_what(
    query: dict[str, str], raw: bytes, why: str
) -> None:
    with pytest.raises(mp.WebhookInputError, match=why):
        mp.parse_notification(query, raw)


def test_given_a_numeric_id_in_the_body_then_it_matches_the_url_string() -> None:
    assert mp.parse_notification({"data.id": "987", "type": "payment"}, body(987)).data_id == "987"


def test_given_another_topic_then_it_parses_for_the_caller_to_ignore() -> None:
    n = mp.parse_notification({"data.id": "ABC123", "type": "merchant_order"}, body("abc123"))
    assert n.type == "merchant_order"


# --- payments and preferences -------------------------------------------------


PAYMENT = {"id": 90000000001, "status": "approved", "status_detail": "accredited",
           "transaction_amount": 1500.5, "currency_id": "MXN", "external_reference": "cb-x",
           "date_approved": "2026-11-24T11:02:03.000-06:00",
           "date_created": "2026-11-24T11:01:00.000-06:00",
           "card": {"first_six_digits": "450995", "last_four_digits": "3704"}}  # fmt: skip


def test_given_a_payment_object_then_only_what_we_need_is_kept_never_card_data() -> None:
    p = mp.parse_payment(PAYMENT)
    assert p.id == "90000000001" and p.amount == Decimal("1500.5") and p.currency == "MXN"
    assert p.external_reference == "cb-x"
    assert p.date_approved == datetime(2026, 11, 24, 17, 2, 3, tzinfo=UTC)
    assert not any("card" in name for name in vars(p))


@pytest.mark.parametrize(
    "change",
    [
        {"id": None},
        {"id": "12a"},
        {"status": "paid"},
        {"transaction_amount": "lots"},
        {"transaction_amount": -1},
        {"transaction_amount": "NaN"},
        {"currency_id": "PESOS"},
        {"transaction_amount_refunded": "some"},
        {"transaction_amount_refunded": -1},
        {"transaction_amount_refunded": "Infinity"},
        {"transaction_amount_refunded": 1500.51},  # more than the payment
    ],
)
def test_given_an_unreadable_payment_then_unavailable_not_guessed(
    change: dict[str, object],
) -> None:
    with pytest.raises(mp.ApiUnavailable):
        mp.parse_payment({**PAYMENT, **change})


def test_given_a_partly_refunded_payment_then_it_stays_approved_with_the_refunded_total() -> None:
    p = mp.parse_payment({**PAYMENT, "status_detail": "partially_refunded",
                          "transaction_amount_refunded": 500.25})  # fmt: skip
    assert (p.status, p.amount_refunded) == ("approved", Decimal("500.25"))
    assert mp.parse_payment(PAYMENT).amount_refunded == 0  # absent: nothing refunded


def test_given_missing_fields_then_unavailable() -> None:
    with pytest.raises(mp.ApiUnavailable):
        mp.parse_payment({"id": 1})


def test_given_dates_without_zone_or_garbage_then_none() -> None:
    p = mp.parse_payment({**PAYMENT, "date_approved": "2026-11-24T11:02:03", "date_created": 5})
    assert p.date_approved is None and p.date_created is None


def test_given_a_link_then_the_preference_is_one_item_payable_once_and_expiring() -> None:
    start = datetime(2026, 11, 24, 17, tzinfo=UTC)
    end = datetime(2026, 11, 27, 17, tzinfo=UTC)
    pref = mp.preference_body(reference="cb-1", title="Pago", amount=Decimal("1500.50"),
                              currency="MXN", expires_from=start, expires_to=end)  # fmt: skip
    assert pref["items"] == [{"id": "cb-1", "title": "Pago", "quantity": 1, "currency_id": "MXN",
                              "unit_price": 1500.5}]  # fmt: skip
    assert pref["external_reference"] == "cb-1" and pref["expires"] is True
    assert pref["expiration_date_to"] == "2026-11-27T17:00:00.000+00:00"
    assert "back_urls" not in pref and "notification_url" not in pref


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"data": ' * 50_000 + b"1"])
def test_given_a_body_nested_past_the_parsers_depth_then_webhook_input_error(body: bytes) -> None:
    with pytest.raises(mp.WebhookInputError, match="not JSON"):
        mp.parse_notification({"data.id": "123", "type": "payment"}, body)


def test_given_a_timestamp_of_digits_only_to_isdigit_then_malformed_not_a_crash() -> None:
    """A ts of "²" (a digit to str.isdigit(), none to int()) reached int() after
    the signature (signed with the secret) and raised ValueError."""
    header = mp.sign(SECRET, "987", "r", 1).replace("ts=1", "ts=²")
    with pytest.raises(mp.SignatureError) as exc:
        mp.verify_signature(header, "r", "987", SECRET, NOW, 300)
    assert exc.value.reason == "malformed"
