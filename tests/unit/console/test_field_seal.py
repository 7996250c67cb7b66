"""The field app's queue sealed to the console: opened only by a console sharing the
secret, for the agent, visit and operation it was sealed for; every bad seal a
SealError with its reason."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from console.field_seal import FieldSeal, SealError, UnknownSealKey, associated

SECRET = b"s" * 32
BODY = {"key": "k-" + "0" * 32, "answers": {"notes": "Atendió en la puerta."}}


def test_given_two_consoles_with_one_secret_then_either_opens_what_the_other_handed_out() -> None:
    one, other = FieldSeal.from_secret(SECRET), FieldSeal.from_secret(SECRET)
    assert one.public_raw == other.public_raw and len(one.public_raw) == 65
    sealed = one.seal(BODY, associated(7, 3, "result"))
    assert "Atendió" not in str(sealed)
    assert other.open(sealed, associated(7, 3, "result")) == BODY


def test_given_another_secret_then_another_key_and_its_seal_unknown() -> None:
    mine, theirs = FieldSeal.from_secret(SECRET), FieldSeal.from_secret(b"t" * 32)
    assert mine.kid != theirs.kid
    with pytest.raises(UnknownSealKey):
        mine.open(theirs.seal(BODY, associated(7, 3, "result")), associated(7, 3, "result"))


@pytest.mark.parametrize(
    "aad", [associated(8, 3, "result"), associated(7, 4, "result"), associated(7, 3, "checkin")]
)
def test_given_a_seal_for_another_agent_visit_or_operation_then_not_opened(aad: bytes) -> None:
    seal = FieldSeal.from_secret(SECRET)
    with pytest.raises(SealError, match="no se puede abrir"):
        seal.open(seal.seal(BODY, associated(7, 3, "result")), aad)


def _tampered(sealed: dict[str, Any], field: str, value: object) -> dict[str, Any]:
    return {**sealed, field: value}


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("v", 2, "versión 1"),
        ("epk", "no base64!", "epk"),
        ("epk", base64.b64encode(b"\x04" + b"\x00" * 64).decode(), "P-256"),
        ("epk", base64.b64encode(b"\x04" * 10).decode(), "65 bytes"),
        ("iv", base64.b64encode(b"1" * 11).decode(), "12 bytes"),
        ("iv", 12, "base64"),
        ("ct", base64.b64encode(b"x" * 40).decode(), "no se puede abrir"),
        ("ct", "A" * 1_500_004, "base64"),
    ],
)
def test_given_a_bad_or_tampered_seal_then_refused_with_its_reason(
    field: str, value: object, said: str
) -> None:
    seal = FieldSeal.from_secret(SECRET)
    sealed = seal.seal(BODY, associated(7, 3, "result"))
    with pytest.raises(SealError, match=said):
        seal.open(_tampered(sealed, field, value), associated(7, 3, "result"))


@pytest.mark.parametrize("sealed", [None, [], "x", {"v": 1}])
def test_given_no_seal_object_then_refused(sealed: object) -> None:
    with pytest.raises(SealError):
        FieldSeal.from_secret(SECRET).open(sealed, associated(7, 3, "result"))


def test_given_a_sealed_body_that_is_no_object_then_refused() -> None:
    seal = FieldSeal.from_secret(SECRET)
    sealed = seal.seal(BODY, associated(7, 3, "result"))
    # Sealed properly, but a list: what the console's handlers cannot read.
    listed = seal.seal([1, 2], associated(7, 3, "result"))  # type: ignore[arg-type]
    assert sealed != listed
    with pytest.raises(SealError, match="objeto JSON"):
        seal.open(listed, associated(7, 3, "result"))
