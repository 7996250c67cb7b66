"""A local stand-in for the WhatsApp Business Cloud API, for tests and the demo: serves
`POST /{version}/{phone-number-id}/messages` as the published API does (bearer token,
Meta's error objects, approved templates only, session messages only within 24 h of
the user's last message) and calls the webhook back, signed with the app secret, with
each message's statuses (sent, delivered or failed, read) and with the user's
replies (`reply()`); a webhook answered with anything but 2xx is sent again, as Meta
does, a few times."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from gateways.whatsapp.cloud_api import (
    MAX_TEXT,
    SIGNATURE_HEADER,
    InboundMessage,
    StatusEvent,
    message_webhook,
    signature,
    status_webhook,
)

log = logging.getLogger(__name__)

VERSION = "v21.0"
SESSION_SECONDS = 24 * 3600
# A recipient's fate: None (delivered) or the (code, title) of its failure.
Fate = Callable[[str], tuple[int, str] | None]


def always_delivered(wa_id: str) -> tuple[int, str] | None:
    return None


@dataclass
class WebhookCall:
    payload: dict[str, Any]
    answers: list[int] = field(default_factory=list)  # HTTP status of each try


class LocalCloudApi:
    def __init__(self, *, phone_number_id: str, access_token: str, app_secret: str,
                 templates: dict[str, set[str]] | None = None, fate: Fate = always_delivered,
                 reads: Callable[[str], bool] = lambda wa_id: False,
                 webhook_url: str = "", retries: int = 5) -> None:  # fmt: skip
        """`templates`: approved template name -> its languages; `fate(wa_id)`: None or
        (error code, title) of the failed status; `reads(wa_id)`: the user reads it."""
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.app_secret = app_secret
        self.templates = templates if templates is not None else {"recordatorio": {"es_MX"}}
        self.fate = fate
        self.reads = reads
        self.webhook_url = webhook_url
        self.retries = retries
        self.accepted: list[dict[str, Any]] = []  # request bodies answered 200
        self.webhooks: list[WebhookCall] = []
        self._last_inbound: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.base_url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """The API base to configure (http://host:port/v21.0)."""
        app = web.Application(client_max_size=256 * 1024)
        app.router.add_post(f"/{VERSION}/{{phone_number_id}}/messages", self._messages)
        # A stand-in for the cloud: the cloud's own access log is not ours to keep,
        # and in `cobrador demo` it buried the system's log under a line per request.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0][1]
        self.base_url = f"http://{host}:{bound}/{VERSION}"
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self.base_url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def settle(self) -> None:
        """Waits until every webhook scheduled so far has been delivered or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- the user's side ---

    async def reply(self, wa_id: str, text: str, *, context_id: str | None = None) -> str:
        """The user writes (opening the 24 h session window): the inbound message's id."""
        self._last_inbound[wa_id] = time.time()
        message = InboundMessage(self._wamid(), wa_id, int(time.time()), "text", text, context_id)
        await self._deliver(message_webhook(self.phone_number_id, message, "Deudor"))
        return message.message_id

    # --- the API ---

    def _wamid(self) -> str:
        return f"wamid.{next(self._ids):08d}{secrets.token_hex(8)}"

    @staticmethod
    def _error(status: int, code: int, message: str, kind: str = "OAuthException") -> web.Response:
        body = {"error": {"message": message, "type": kind, "code": code,
                          "error_data": {"messaging_product": "whatsapp", "details": message},
                          "fbtrace_id": secrets.token_hex(6)}}  # fmt: skip
        return web.json_response(body, status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.access_token}":
            return self._error(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["phone_number_id"] != self.phone_number_id:
            return self._error(400, 100, "Unsupported post request. Object does not exist",
                               "GraphMethodException")  # fmt: skip
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, 100, "Invalid parameter: body is not JSON")
        problem = self._problem(body)
        if problem is not None:
            return self._error(400, *problem)
        to = body["to"]
        wamid = self._wamid()
        self.accepted.append(body)
        self._spawn(self._statuses(wamid, to, body["type"]))
        return web.json_response({"messaging_product": "whatsapp",
                                  "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})  # fmt: skip

    def _problem(self, body: Any) -> tuple[int, str] | None:
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            return 100, "Invalid parameter: messaging_product must be whatsapp"
        to = body.get("to")
        if not isinstance(to, str) or not to.isdigit() or not 8 <= len(to) <= 15:
            return 131009, "Parameter value is not valid: to"
        kind = body.get("type")
        if kind == "text":
            text = (body.get("text") or {}).get("body")
            if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
                return 131009, "Parameter value is not valid: text.body"
            return None
        if kind == "template":
            template = body.get("template") or {}
            name, language = template.get("name"), (template.get("language") or {}).get("code")
            if language not in self.templates.get(str(name), set()):
                return (
                    132001,
                    f"Template name does not exist in the translation: {name} ({language})",
                )
            return None
        return 100, f"Invalid parameter: type {kind!r} not supported here"

    async def _statuses(self, wamid: str, to: str, kind: str) -> None:
        now = int(time.time())
        await self._deliver(
            status_webhook(self.phone_number_id, StatusEvent(wamid, "sent", now, to))
        )
        failure = self.fate(to)
        session_open = time.time() - self._last_inbound.get(to, 0.0) < SESSION_SECONDS
        if failure is None and kind == "text" and not session_open:
            failure = (131047, "Re-engagement message")
        if failure is not None:
            event = StatusEvent(wamid, "failed", now, to, failure[0], failure[1])
            await self._deliver(status_webhook(self.phone_number_id, event))
            return
        await self._deliver(
            status_webhook(self.phone_number_id, StatusEvent(wamid, "delivered", now, to))
        )
        if self.reads(to):
            await self._deliver(
                status_webhook(self.phone_number_id, StatusEvent(wamid, "read", now, to))
            )

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, payload: dict[str, Any]) -> None:
        call = WebhookCall(payload)
        self.webhooks.append(call)
        if not self.webhook_url or self._http is None:
            return
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json",
                   SIGNATURE_HEADER: signature(body, self.app_secret)}  # fmt: skip
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(0.2)
            try:
                async with self._http.post(self.webhook_url, data=body, headers=headers) as answer:
                    call.answers.append(answer.status)
                    if answer.status < 300:
                        return
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("webhook not delivered (%s); again", exc)
                call.answers.append(0)
