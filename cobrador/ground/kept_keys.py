"""Keys the demo makes and keeps in its data dir (`<data_dir>/<name>-key`, 32 random
bytes, base64; the console's cookie key in `<data_dir>/console-secret`, URL-safe
base64; the secret in Kannel's callback URLs in `<data_dir>/callbacks-token`), so a
command run on that data dir finds them where the demo does."""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cobrador.ground.settings import Settings

PORTAL_LINK = "portal-link"  # the portal's link signing key (portal_link_secret)
PORTAL_IDENTITY = "portal-identity"  # the identity check's hash key (portal_identity_key)
CONSOLE_SECRET_FILE = "console-secret"  # the console's cookie key (console_secret)
CALLBACKS_TOKEN_FILE = "callbacks-token"  # the secret in Kannel's callback URLs


def _kept(path: Path, make: Callable[[], str]) -> str:
    """The text kept at `path`, made (0600, never readable by others) the first time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make())
    return path.read_text().strip()


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
