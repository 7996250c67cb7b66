"""Hostile provider callbacks (WhatsApp Cloud API webhook bodies, Kannel's reports and
replies): a WebhookInputError or KannelInputError (a 400: not sent again), never
another exception (a 503: the provider would send the same notification forever),
and nothing PostgreSQL refuses to store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateways.kannel import KannelInputError, parse_mo
from gateways.whatsapp.cloud_api import WebhookInputError, parse_webhook, signature_ok


def notification(value: Any) -> bytes:
    return json.dumps({"object": "whatsapp_business_account",
                       "entry": [{"changes": [{"field": "messages", "value": value}]}]}).encode()  # fmt: skip


def status(**changes: Any) -> dict[str, Any]:
    return {"id": "wamid.1", "status": "delivered", "timestamp": "1764950400",
            "recipient_id": "5215512345678", **changes}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 30_000 + b"]" * 30_000, "not JSON"),
        (notification({"statuses": True}), "statuses is not a list of objects"),
        (notification({"messages": 7}), "messages is not a list of objects"),
        (notification({"statuses": [status(timestamp="99999999999999999")]}), "between 1970"),
        (notification({"statuses": [status(timestamp=-1)]}), "between 1970"),
        (notification({"statuses": [status(id="wamid\x00")]}), "not printable"),
    ],
)
def test_given_a_hostile_whatsapp_notification_then_webhook_input_error(
    body: bytes, message: str
) -> None:
    with pytest.raises(WebhookInputError, match=message):
        parse_webhook(body)


def test_given_a_reply_with_nul_or_a_text_of_the_wrong_shape_then_stored_without_it() -> None:
    message = {"id": "wamid.2", "from": "5215512345678", "timestamp": "1764950400"}
    parsed = parse_webhook(notification({"messages": [
        {**message, "type": "text", "text": {"body": "BA\x00JA"}},
        {**message, "type": "text", "text": "not an object"},
        {**message, "type": "interactive", "interactive": {"button_reply": ["x"]}},
    ]}))  # fmt: skip
    assert [m.text for m in parsed.messages] == ["BAJA", "", ""]


KEYS = st.sampled_from(["statuses", "messages", "id", "status", "timestamp", "recipient_id",
                        "errors", "type", "from", "text", "body", "context", "button",
                        "interactive", "button_reply", "list_reply", "title"])  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False)
    | st.sampled_from(["sent", "delivered", "read", "failed", "text", "1764950400"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=15,
)  # fmt: skip


@settings(max_examples=1000, suppress_health_check=list(HealthCheck))
@given(JSON)
def test_given_any_value_then_parsed_with_times_that_exist_or_webhook_input_error(
    value: Any,
) -> None:
    try:
        parsed = parse_webhook(notification(value))
    except WebhookInputError:
        return
    for event in [*parsed.statuses, *parsed.messages]:
        datetime.fromtimestamp(event.timestamp, UTC)  # what the transport does with it


def test_given_a_kannel_reply_with_nul_then_stored_without_it_and_a_sender_not_printable_refused() -> (
    None
):
    assert parse_mo({"from": "+5215512345678", "text": "BA\x00JA"}).text == "BAJA"
    with pytest.raises(KannelInputError, match="not printable"):
        parse_mo({"from": "+52\x00155", "text": "hola"})


@pytest.mark.parametrize("header", ["sha256=é", "sha256=" + "\udcff" * 64, "ñ" * 71])
def test_given_a_signature_header_not_ascii_then_refused_not_type_error(header: str) -> None:
    """hmac.compare_digest raises TypeError on a non-ASCII str: the webhook's 500."""
    assert signature_ok(b"{}", header, "secret") is False
