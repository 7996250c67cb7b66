"""Whether a received e-mail comes from the address its From: names, as the receiving
mail server judged it (RFC 8601 Authentication-Results, read with `authres`).

Anyone can write any From:. Our listener sits behind the operator's MTA, which checks
DMARC, DKIM and SPF and prepends its verdict as an Authentication-Results header
under its authserv-id (and, as RFC 8601 section 5 requires, removes headers bearing
that id from incoming mail). Only the topmost such header is read: the MTA's own, added
last. The From address is taken as proven when that header says one of:

- ``dmarc=pass`` (with ``header.from`` the From domain, when it names one);
- ``dkim=pass`` with ``header.d`` the From domain (strict alignment);
- ``spf=pass`` with ``smtp.mailfrom`` in the From domain (strict alignment).

Anything else (no header from that id, a header that cannot be read, fail, none,
softfail, a pass for another domain, several From addresses) is not proof.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.utils import getaddresses

import authres


@dataclass(frozen=True)
class Verdict:
    proven: bool
    why: str  # the method that proved it, or why nothing did (evidence, no address)


def from_proven(message: Message, authserv_id: str) -> Verdict:
    """The verdict of the MTA named `authserv_id` on the message's From address."""
    froms = message.get_all("From") or []
    addresses = [a for _, a in getaddresses([str(f) for f in froms]) if a]
    if len(froms) != 1 or len(addresses) != 1 or "@" not in addresses[0]:
        return Verdict(False, "not exactly one From address")
    domain = addresses[0].rpartition("@")[2].strip().lower().rstrip(".")
    wanted = authserv_id.strip().lower()
    for raw in message.get_all("Authentication-Results") or []:
        value = " ".join(str(raw).split())
        if not _names(value, wanted):
            continue
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except authres.AuthResError:
            return Verdict(False, f"Authentication-Results of {wanted} unreadable")
        return _judge(header, domain)
    return Verdict(False, f"no Authentication-Results of {wanted}")


def _names(value: str, wanted: str) -> bool:
    """Whether the header's authserv-id (its first token, before any version) is ours."""
    head = value.split(";", 1)[0].strip().lower().split()
    return bool(head) and head[0] == wanted


def _judge(header: authres.AuthenticationResultsHeader, domain: str) -> Verdict:
    seen = []
    for result in header.results:
        method, outcome = str(result.method).lower(), str(result.result).lower()
        props = {(str(p.type).lower(), str(p.name).lower()): str(p.value).lower().rstrip(".")
                 for p in result.properties}  # fmt: skip
        seen.append(f"{method}={outcome}")
        if outcome != "pass":
            continue
        if method == "dmarc" and props.get(("header", "from"), domain) == domain:
            return Verdict(True, "dmarc=pass")
        if method == "dkim" and props.get(("header", "d")) == domain:
            return Verdict(True, "dkim=pass")
        mailfrom = props.get(("smtp", "mailfrom"), "")
        if method == "spf" and mailfrom.rpartition("@")[2] == domain:
            return Verdict(True, "spf=pass")
    return Verdict(False, " ".join(seen) or "no result")
