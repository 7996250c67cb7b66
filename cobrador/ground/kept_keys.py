"""Keys the demo makes and keeps in its data dir (`<data_dir>/<name>-key`, 32 random
bytes, base64; the console's cookie key in `<data_dir>/console-secret`, URL-safe
base64), so a command run on that data dir finds them where the demo does."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cobrador.ground.settings import Settings

PORTAL_LINK = "portal-link"  # the portal's link signing key (portal_link_secret)
PORTAL_IDENTITY = "portal-identity"  # the identity check's hash key (portal_identity_key)
CONSOLE_SECRET_FILE = "console-secret"  # the console's cookie key (console_secret)


def key_path(data_dir: Path, name: str) -> Path:
    return data_dir / f"{name}-key"


def kept_key(data_dir: Path, name: str) -> str:
    """The key kept in the data dir, made the first time (the demo's)."""
    path = key_path(data_dir, name)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


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
    path = console_secret_path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def read_kept_console_secret(data_dir: Path) -> str:
    """The console's cookie key kept in the data dir; "" when there is none."""
    try:
        return console_secret_path(data_dir).read_text().strip()
    except FileNotFoundError:
        return ""


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
