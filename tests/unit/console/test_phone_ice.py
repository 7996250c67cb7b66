"""The browser phone's ICE settings: every wrong combination stops the console at
start with a message; the TURN REST credential is the one coturn checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from cobrador.ground.settings import Settings, SettingsError
from console.phone.ice import ice_config


def settings(**values: object) -> Settings:
    return Settings(data_dir=Path("/tmp/unused")).with_overrides(**values)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"phone_turn_urls": "turn.example.com:3478", "phone_turn_secret": "s"}, "not a stun:"),
        ({"phone_turn_urls": "http://turn.example.com", "phone_turn_secret": "s"}, "not a stun:"),
        ({"phone_turn_urls": "turn:", "phone_turn_secret": "s"}, "not a stun:"),
        ({"phone_turn_urls": "turn:t.example:3478"}, "no credentials"),
        ({"phone_turn_urls": "turn:t.example:3478", "phone_turn_username": "u"}, "no credentials"),
        ({"phone_turn_urls": "turn:t.example:3478", "phone_turn_secret": "s",
          "phone_turn_username": "u", "phone_turn_password": "p"}, "give one"),
        ({"phone_turn_secret": "s"}, "names no turn: server"),
        ({"phone_turn_urls": "stun:s.example:3478", "phone_turn_secret": "s"}, "no turn: server"),
        ({"phone_turn_urls": "turn:t.example:3478", "phone_turn_secret": "s",
          "phone_turn_ttl": 0}, "phone_turn_ttl"),
    ],
)  # fmt: skip
def test_given_wrong_turn_settings_when_the_console_starts_then_it_says_what_is_wrong(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        ice_config(settings(**values))


def test_given_no_ice_settings_then_no_servers() -> None:
    assert ice_config(settings()).servers(7, 1_800_000_000.0) == []


def test_given_stun_only_then_no_credentials_are_sent() -> None:
    config = ice_config(settings(phone_turn_urls="stun:stun.example.com:3478"))
    assert config.servers(7, 0.0) == [{"urls": ["stun:stun.example.com:3478"]}]


def test_given_a_shared_secret_then_the_credential_follows_the_turn_rest_convention() -> None:
    config = ice_config(settings(phone_turn_urls="turns:t.example:5349",
                                 phone_turn_secret="north", phone_turn_ttl=600))  # fmt: skip
    username, password = config.credential(42, 1_800_000_000.9)
    assert username == "1800000600:42"  # expiry first: coturn refuses it after then
    expected = hmac.new(b"north", b"1800000600:42", hashlib.sha1).digest()
    assert base64.b64decode(password) == expected
