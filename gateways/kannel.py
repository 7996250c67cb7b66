"""Kannel's HTTP interface (smsbox): the sendsms request, and the two requests Kannel
makes back to us, a delivery report (dlr-url) and a mobile-originated message
(an sms-service's get-url). Kannel speaks SMPP (or another SMSC protocol) to the
carrier; we speak HTTP to Kannel. Also the configuration that runs a bearerbox and a
smsbox against an SMSC, for the tests and the demo.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from urllib.parse import urlencode


class DlrType(IntEnum):
    """Kannel's delivery report types (the `%d` of a dlr-url)."""

    delivered = 1
    failed = 2
    buffered = 4
    smsc_accepted = 8
    smsc_rejected = 16


# Final outcomes plus the SMSC's refusal of the submit itself.
DLR_MASK = DlrType.delivered | DlrType.failed | DlrType.smsc_rejected
# A reference we put in the dlr-url; Kannel gives it back untouched.
MAX_REF = 64
MAX_TEXT = 1600


class KannelInputError(ValueError):
    """A request from Kannel that does not parse: the message says which field."""


@dataclass(frozen=True)
class KannelSettings:
    sendsms_url: str  # http://host:13013/cgi-bin/sendsms
    username: str
    password: str
    callback_base: str  # how Kannel reaches us: http://host:port (no trailing slash)
    callback_token: str  # a secret in every callback URL: Kannel's calls carry it
    timeout_seconds: float = 10.0


def new_reference(attempt_id: int) -> str:
    return f"{attempt_id}-{secrets.token_hex(6)}"


def sendsms_query(settings: KannelSettings, *, sender: str, to: str, text: str,
                  reference: str, validity_minutes: int | None = None) -> dict[str, str]:  # fmt: skip
    """The sendsms parameters: UTF-8 text (UCS-2 on the air unless plain ASCII), a
    delivery report asked for its final outcome to our dlr-url with `reference`;
    `validity_minutes`: the SMSC gives up delivering after that long."""
    ascii_only = all(ord(ch) < 128 for ch in text)
    dlr_url = f"{settings.callback_base}/kannel/dlr?" + urlencode(
        {"token": settings.callback_token, "ref": reference}
    ) + "&type=%d&reply=%A"  # fmt: skip
    return {
        "username": settings.username, "password": settings.password,
        "from": sender, "to": to, "text": text, "charset": "UTF-8",
        "coding": "0" if ascii_only else "2",
        "dlr-mask": str(int(DLR_MASK)), "dlr-url": dlr_url,
        **({"validity": str(validity_minutes)} if validity_minutes is not None else {}),
    }  # fmt: skip


def mo_get_url(callback_base: str, token: str) -> str:
    """The sms-service get-url that sends us every mobile-originated message."""
    return f"{callback_base}/kannel/mo?token={token}&from=%p&to=%P&text=%a"


@dataclass(frozen=True)
class DeliveryReport:
    reference: str
    type: DlrType
    reply: str  # the SMSC's words: the receipt text, or the refusal


def parse_dlr(query: Mapping[str, str]) -> DeliveryReport:
    reference = query.get("ref", "")
    if not reference or len(reference) > MAX_REF:
        raise KannelInputError("dlr: ref missing or too long")
    try:
        kind = DlrType(int(query.get("type", "")))
    except ValueError as exc:
        raise KannelInputError(
            f"dlr: type {query.get('type', '')[:10]!r} is not a DLR type"
        ) from exc
    return DeliveryReport(reference, kind, query.get("reply", "")[:500].replace("\x00", ""))


@dataclass(frozen=True)
class MobileOriginated:
    sender: str
    to: str
    text: str


def parse_mo(query: Mapping[str, str]) -> MobileOriginated:
    sender = query.get("from", "")
    if not sender or len(sender) > 24 or not sender.isprintable():
        raise KannelInputError("mo: from missing, too long or not printable")
    text = query.get("text", "")
    if len(text) > MAX_TEXT:
        raise KannelInputError(f"mo: text over {MAX_TEXT} characters")
    # No NUL in what is stored (PostgreSQL refuses it: a 503 Kannel would retry forever).
    return MobileOriginated(sender, query.get("to", "")[:24].replace("\x00", ""),
                            text.replace("\x00", ""))  # fmt: skip


def receipt_error(reply: str) -> str:
    """The `stat:` and `err:` of a receipt text Kannel passed on ("UNDELIV err:011")."""
    words = dict(w.split(":", 1) for w in reply.split() if ":" in w)
    stat, err = words.get("stat"), words.get("err")
    return " ".join(p for p in (stat, f"err:{err}" if err else None) if p) or reply[:80]


@dataclass(frozen=True)
class KannelBoxes:
    """Ports and files of a bearerbox + smsbox pair bound to one SMPP SMSC."""

    directory: Path
    admin_port: int
    smsbox_port: int
    sendsms_port: int
    smsc_port: int
    smsc_username: str
    smsc_password: str
    sendsms_username: str
    sendsms_password: str
    mo_url: str

    @property
    def config_path(self) -> Path:
        return self.directory / "kannel.conf"

    def config(self) -> str:
        d = self.directory
        return f"""group = core
admin-port = {self.admin_port}
admin-password = {secrets.token_hex(8)}
admin-interface = 127.0.0.1
smsbox-port = {self.smsbox_port}
smsbox-interface = 127.0.0.1
log-file = "{d}/bearerbox.log"
log-level = 1
box-allow-ip = 127.0.0.1
store-type = spool
store-location = "{d}/spool"
dlr-storage = internal
sms-resend-retry = 3
sms-resend-freq = 2

group = smsc
smsc = smpp
smsc-id = carrier
host = 127.0.0.1
port = {self.smsc_port}
transceiver-mode = yes
smsc-username = {self.smsc_username}
smsc-password = {self.smsc_password}
system-type = ""
msg-id-type = 0x00
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.smsbox_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-file = "{d}/smsbox.log"
log-level = 1
mo-recode = true
# A reply our endpoint could not record (it answers 503) is asked again.
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {self.sendsms_username}
password = {self.sendsms_password}
user-allow-ip = 127.0.0.1
max-messages = 10
concatenation = true

group = sms-service
keyword = default
catch-all = true
get-url = "{self.mo_url}"
max-messages = 0
accept-x-kannel-headers = false
"""

    def write(self) -> Path:
        (self.directory / "spool").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config(), encoding="utf-8")
        return self.config_path
