"""The keys the demo keeps in its data dir, as a command run on that dir finds them:
a key set in settings wins, and reading never makes one."""

from __future__ import annotations

import base64
import errno
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.polling import WITHIN

from cobrador.ground.errors import UserError
from cobrador.ground.kept_keys import (
    PORTAL_IDENTITY,
    PORTAL_LINK,
    _kept,
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


def test_given_two_starts_at_once_on_a_fresh_data_dir_then_both_keep_one_whole_key(
    tmp_path: Path,
) -> None:
    """Two services started together (docker compose) both found no file: the first
    created it empty and then wrote, so the second read it empty (a console with an
    empty cookie key) or failed with FileExistsError. Both are held inside `make`
    here until the other is there too, so both have found no file: the file appears
    whole, once, and both read the same key."""
    path = tmp_path / "fresh-data" / "some-key"
    both_making = threading.Barrier(2, timeout=WITHIN)  # a bound for a hang, never a figure
    made = iter(("first", "second"))
    lock = threading.Lock()

    def make() -> str:
        with lock:
            text = next(made)
        both_making.wait()
        return text

    with ThreadPoolExecutor(2) as pool:
        kept = list(pool.map(lambda _: _kept(path, make), range(2)))

    assert kept[0] == kept[1] and kept[0] in ("first", "second")
    assert path.read_text() == kept[0]
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["some-key"]  # no temporary left


def test_given_many_starts_at_once_then_every_one_reads_the_same_key(tmp_path: Path) -> None:
    for n in range(20):
        data = tmp_path / f"data-{n}"
        with ThreadPoolExecutor(8) as pool:
            secrets = set(pool.map(kept_console_secret, [data] * 8))
        assert len(secrets) == 1 and len(base64.urlsafe_b64decode(secrets.pop() + "==")) == 32


def test_given_an_empty_kept_file_then_a_user_error_naming_it(tmp_path: Path) -> None:
    """A file left empty by a start that died before writing (before the temporary
    file) is never taken as the key."""
    console_secret_path(tmp_path).write_text("")
    with pytest.raises(UserError, match="console-secret is empty"):
        kept_console_secret(tmp_path)


def test_given_a_file_system_without_hard_links_then_the_key_is_still_made_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    first = kept_console_secret(tmp_path)
    assert len(base64.urlsafe_b64decode(first + "==")) == 32
    assert console_secret_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert kept_console_secret(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == ["console-secret"]  # no temporary left
