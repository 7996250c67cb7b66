"""The ICE servers the browser phone is given (RTCPeerConnection `iceServers`), so an
agent behind NAT still gets audio: STUN to learn its public address, TURN to relay
the media when no direct path works.

TURN credentials are either static (a username and password every browser gets)
or, better, time-limited per the TURN REST API convention that coturn implements
(`use-auth-secret` + `static-auth-secret`): username `<expiry unix time>:<user id>`,
password base64(HMAC-SHA1(shared secret, username)). The secret never leaves the
console; a leaked password stops working at its expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from cobrador.ground.settings import Settings, SettingsError

SCHEMES = ("stun:", "turn:", "turns:")


@dataclass(frozen=True)
class IceConfig:
    urls: tuple[str, ...] = ()  # stun:, turn:, turns: URLs (RFC 7064 / 7065)
    secret: str = ""  # TURN REST shared secret (time-limited credentials)
    username: str = ""  # static TURN credentials (when there is no secret)
    password: str = ""
    ttl_seconds: int = 86400

    @property
    def turn_urls(self) -> tuple[str, ...]:
        return tuple(u for u in self.urls if not u.startswith("stun:"))

    def servers(self, user_id: int, now: float) -> list[dict[str, Any]]:
        """`iceServers` for one user at `now`: STUN as is, TURN with its credential."""
        out: list[dict[str, Any]] = []
        stun = [u for u in self.urls if u.startswith("stun:")]
        if stun:
            out.append({"urls": stun})
        if self.turn_urls:
            username, password = self.credential(user_id, now)
            out.append({"urls": list(self.turn_urls), "username": username,
                        "credential": password})  # fmt: skip
        return out

    def credential(self, user_id: int, now: float) -> tuple[str, str]:
        if not self.secret:
            return self.username, self.password
        username = f"{int(now) + self.ttl_seconds}:{int(user_id)}"
        digest = hmac.new(self.secret.encode(), username.encode(), hashlib.sha1).digest()
        return username, base64.b64encode(digest).decode()


def ice_config(settings: Settings) -> IceConfig:
    """The phone's ICE settings, checked: a wrong one stops the console at start with
    a message, rather than agents without audio and no reason given."""
    urls = tuple(u.strip() for u in settings.phone_turn_urls.split(",") if u.strip())
    for url in urls:
        if not url.startswith(SCHEMES) or len(url.split(":", 1)[1]) == 0:
            raise SettingsError(
                f"phone_turn_urls: {url!r} is not a stun:, turn: or turns: URL "
                "(e.g. turn:turn.example.com:3478?transport=udp)"
            )
    config = IceConfig(urls, settings.phone_turn_secret, settings.phone_turn_username,
                       settings.phone_turn_password, settings.phone_turn_ttl)  # fmt: skip
    static = bool(config.username or config.password)
    if config.secret and static:
        raise SettingsError("phone_turn_secret and phone_turn_username/password: give one "
                            "(time-limited credentials from the secret, or static ones)")  # fmt: skip
    if config.turn_urls and not config.secret and not (config.username and config.password):
        raise SettingsError("phone_turn_urls has a TURN server but no credentials: set "
                            "phone_turn_secret (coturn static-auth-secret) or "
                            "phone_turn_username and phone_turn_password")  # fmt: skip
    if (config.secret or static) and not config.turn_urls:
        raise SettingsError("TURN credentials given but phone_turn_urls names no turn: server")
    return config
