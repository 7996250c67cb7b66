"""An SMTP sink for tests and the demo: accepts every message and keeps it, and for
the recipients `fate` says bounce, sends a delivery status notification back to the
envelope sender's mailbox (our SMTP listener), as a real MTA would."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from email.message import Message
from typing import Any

import aiosmtplib

from gateways.smtp import SmtpListener, build_dsn

log = logging.getLogger(__name__)

# A recipient's fate: None (delivered) or (status, diagnostic) of its bounce.
Fate = Callable[[str], tuple[str, str] | None]


def no_bounces(recipient: str) -> tuple[str, str] | None:
    return None


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


class SmtpSink:
    def __init__(self, *, fate: Fate = no_bounces, bounce_to: tuple[str, int] | None = None,
                 hostname: str = "sink.cobrador.invalid",
                 refuse: Callable[[str], str | None] | None = None) -> None:  # fmt: skip
        """`fate(recipient)`: None, or the (status, diagnostic) of the bounce sent to
        `bounce_to` after accepting; `refuse(recipient)`: an SMTP refusal at RCPT."""
        self.fate = fate
        self.bounce_to = bounce_to
        self.hostname = hostname
        self.received: list[Received] = []
        self.bounces_sent = 0
        self.listener = SmtpListener(self._on_mail, hostname=hostname, rcpt_check=refuse)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        return self.listener.port

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        return await self.listener.start(host, port)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.listener.stop()

    async def _on_mail(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append(Received(mail_from, rcpt_tos, message))
        for recipient in rcpt_tos:
            fate = self.fate(recipient)
            if fate is not None and mail_from and self.bounce_to is not None:
                self._spawn(self._bounce(message, mail_from, recipient, *fate))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bounce(self, original: Message, mail_from: str, recipient: str, status: str,
                      diagnostic: str) -> None:  # fmt: skip
        assert self.bounce_to is not None
        dsn = build_dsn(original, recipient=recipient, status=status, diagnostic=diagnostic,
                        reporting_mta=self.hostname, postmaster=f"postmaster@{self.hostname}",
                        to=mail_from)  # fmt: skip
        host, port = self.bounce_to
        for _ in range(5):  # the mailbox may answer 451 (not recorded): try again
            try:
                # The null reverse-path (MAIL FROM:<>) of every bounce.
                client = aiosmtplib.SMTP(hostname=host, port=port, start_tls=False, timeout=10)
                async with client:
                    await client.sendmail("", [mail_from], dsn)
                self.bounces_sent += 1
                return
            except (aiosmtplib.SMTPException, OSError) as exc:
                log.info("bounce to %s not taken (%s); again", mail_from, exc)
                await asyncio.sleep(0.2)
