"""The one phone mask (cobrador/ground/masking.py): logs, screens and audit payloads."""

from __future__ import annotations

import pytest

from cobrador.ground.masking import mask_phone


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+525512345678", "+52******5678"),
        ("+573001234567", "+57******4567"),
        ("+51987654321", "+51*****4321"),
        ("+12025550123", "+12*****0123"),
        ("+1234567", "+12*4567"),  # eight characters: the ends show
        ("+123456", "*******"),
        ("+12345", "******"),
        ("", ""),
        (None, ""),
    ],
)
def test_given_a_number_when_masked_then_only_its_start_and_last_four_show(
    e164: str | None, shown: str
) -> None:
    assert mask_phone(e164) == shown


def test_given_any_number_then_no_more_than_seven_characters_show() -> None:
    for n in range(0, 20):
        e164 = "+" + "9" * n
        masked = mask_phone(e164)
        assert len(masked) == len(e164)
        assert len(masked.replace("*", "")) <= 7


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("juana.perez@example.com", "j***@example.com"),
        ("j@example.com", "j***@example.com"),
        ("no-at-sign", "**********"),
        ("@example.com", "************"),
        ("", ""),
        (None, ""),
    ],
)
def test_given_an_email_when_masked_then_only_its_first_letter_and_domain_show(
    address: str | None, shown: str
) -> None:
    from cobrador.ground.masking import mask_email

    assert mask_email(address) == shown


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        (
            "Av. Reforma 100, Col. Juárez, 06600 Ciudad de México, CDMX",
            "***, 06600 Ciudad de México, CDMX",
        ),
        ("Calle 72 # 10-20, Bogotá", "***, Bogotá"),
        ("Jr. Lampa 500\nCercado de Lima\nLima", "***, Cercado de Lima, Lima"),
        ("Calle sin ciudad 12", "*******************"),  # one part: hidden whole
        (" , ,Calle 1, , Lima ", "***, Lima"),
        ("   ", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_given_a_postal_address_when_masked_then_the_street_never_shows(
    address: str | None, shown: str
) -> None:
    from cobrador.ground.masking import mask_postal

    assert mask_postal(address) == shown


def test_given_a_hostile_postal_address_when_masked_then_what_shows_is_bounded() -> None:
    from cobrador.ground.masking import POSTAL_SHOWN, mask_postal

    assert len(mask_postal("Calle 1, " + "x" * 300)) == len("***, ") + POSTAL_SHOWN
    assert len(mask_postal("y" * 300)) == POSTAL_SHOWN
