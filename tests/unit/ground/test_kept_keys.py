"""The keys the demo keeps in its data dir, as a command run on that dir finds them:
a key set in settings wins, and reading never makes one."""

from __future__ import annotations

import base64
from pathlib import Path

from cobrador.ground.kept_keys import (
    PORTAL_IDENTITY,
    PORTAL_LINK,
    console_secret_path,
    kept_console_secret,
    kept_key,
    read_kept_console_secret,
    with_kept_keys,
)
from cobrador.ground.settings import Settings


def test_given_a_data_dir_without_a_console_secret_when_kept_then_made_once_and_private(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo-data"

    first = kept_console_secret(data)

    assert len(base64.urlsafe_b64decode(first + "==")) == 32
    assert console_secret_path(data).stat().st_mode & 0o777 == 0o600
    assert kept_console_secret(data) == first  # the same key at the next start
    assert read_kept_console_secret(data) == first


def test_given_a_data_dir_without_keys_when_read_then_none_is_made(tmp_path: Path) -> None:
    data = tmp_path / "other-data"

    settings = with_kept_keys(Settings(data_dir=data))

    assert (settings.console_secret, settings.portal_link_secret,
            settings.portal_identity_key) == ("", "", "")  # fmt: skip
    assert read_kept_console_secret(data) == ""
    assert not data.exists()


def test_given_the_demos_data_dir_when_read_then_unset_keys_are_the_kept_ones(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo-data"
    secret, link, identity = (kept_console_secret(data), kept_key(data, PORTAL_LINK),
                              kept_key(data, PORTAL_IDENTITY))  # fmt: skip

    settings = with_kept_keys(Settings(data_dir=data))

    assert (settings.console_secret, settings.portal_link_secret,
            settings.portal_identity_key) == (secret, link, identity)  # fmt: skip


def test_given_a_console_secret_in_settings_when_read_then_it_wins_over_the_kept_one(
    tmp_path: Path,
) -> None:
    data = tmp_path / "demo-data"
    kept_console_secret(data)
    link = kept_key(data, PORTAL_LINK)
    given = base64.urlsafe_b64encode(b"s" * 32).decode()

    settings = with_kept_keys(Settings(data_dir=data, console_secret=given))

    assert settings.console_secret == given
    assert settings.portal_link_secret == link  # each key on its own
