"""Keys the demo makes and keeps in its data dir (`<data_dir>/<name>-key`, 32 random
bytes, base64; the console's cookie key in `<data_dir>/console-secret`, URL-safe
base64; the secret in Kannel's callback URLs in `<data_dir>/callbacks-token`), so a
command run on that data dir finds them where the demo does."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from cobrador.ground.errors import UserError

if TYPE_CHECKING:
    from cobrador.ground.settings import Settings

PORTAL_LINK = "portal-link"  # the portal's link signing key (portal_link_secret)
PORTAL_IDENTITY = "portal-identity"  # the identity check's hash key (portal_identity_key)
CONSOLE_SECRET_FILE = "console-secret"  # the console's cookie key (console_secret)
CALLBACKS_TOKEN_FILE = "callbacks-token"  # the secret in Kannel's callback URLs


def _kept(path: Path, make: Callable[[], str]) -> str:
    """The text kept at `path`, made (0600, never readable by others) the first time.

    Several services may start at once on a fresh data dir (docker compose starts the
    console and outreach together): the file appears whole or not at all. The text is
    written to a private temporary file beside it, then linked to `path`, which never
    replaces a file there; the start that loses reads the winner's. (Creating `path`
    itself and then writing let another start read it empty, or fail on it.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
        try:
            with os.fdopen(fd, "w") as out:
                out.write(make())
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(temporary, path)
            except FileExistsError:
                pass  # another start's is kept
            except OSError:  # a file system without hard links (some bind mounts)
                with contextlib.suppress(FileExistsError):
                    _create(path, Path(temporary).read_text())
        finally:
            os.unlink(temporary)
    text = path.read_text().strip()
    if not text:
        raise UserError(f"{path} is empty: delete it and start again to make a new one")
    return text


def _create(path: Path, text: str) -> None:
    """`path` made with `text` (0600) unless it exists (FileExistsError): where hard
    links fail, a start reading it in the moment before it is written finds it empty
    and stops with _kept's error rather than taking an empty key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def key_path(data_dir: Path, name: str) -> Path:
    return data_dir / f"{name}-key"


def kept_key(data_dir: Path, name: str) -> str:
    """The key kept in the data dir, made the first time (the demo's)."""
    return _kept(key_path(data_dir, name),
                 lambda: base64.b64encode(secrets.token_bytes(32)).decode())  # fmt: skip


def read_kept_key(data_dir: Path, name: str) -> str:
    """The key kept in the data dir; "" when there is none (nothing is made)."""
    try:
        return key_path(data_dir, name).read_text().strip()
    except FileNotFoundError:
        return ""


def console_secret_path(data_dir: Path) -> Path:
    return data_dir / CONSOLE_SECRET_FILE


def kept_console_secret(data_dir: Path) -> str:
    """The console's cookie key kept in the data dir, made the first time (the demo's):
    the sessions of a console on that data dir survive its restart."""
    return _kept(console_secret_path(data_dir),
                 lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())  # fmt: skip


def read_kept_console_secret(data_dir: Path) -> str:
    """The console's cookie key kept in the data dir; "" when there is none."""
    try:
        return console_secret_path(data_dir).read_text().strip()
    except FileNotFoundError:
        return ""


def kept_callbacks_token(data_dir: Path) -> str:
    """The secret in Kannel's callback URLs kept in the data dir, made the first time:
    the delivery reports and replies of messages sent before a restart carry it."""
    return _kept(data_dir / CALLBACKS_TOKEN_FILE, lambda: secrets.token_urlsafe(24))


def with_kept_keys(settings: Settings) -> Settings:
    """`settings` with each key it leaves unset taken from the data dir, where the demo
    keeps its own: a command run on the demo's data dir (`cobrador console run`,
    `cobrador portal identities`) signs, checks and hashes as the demo does, and the
    console keeps the demo's sessions. A key set in settings wins; reading never makes
    one."""
    data_dir = settings.data_dir
    found = {
        "portal_link_secret": lambda: read_kept_key(data_dir, PORTAL_LINK),
        "portal_identity_key": lambda: read_kept_key(data_dir, PORTAL_IDENTITY),
        "console_secret": lambda: read_kept_console_secret(data_dir),
    }
    kept = {
        field: key
        for field, read in found.items()
        if not getattr(settings, field) and (key := read())
    }
    return settings.with_overrides(**kept) if kept else settings
