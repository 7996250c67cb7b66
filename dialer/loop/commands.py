"""Commands from the console and the imports, read from the commands channel: one
small handler per message type; a command for another campaign is left to its loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from dialer.ami.errors import AMIError
from dialer.channels import WithdrawFailed
from dialer.command_replies import ASTERISK, Reply, send_reply, valid_request_id
from dialer.loop.bus import COMMANDS_CHANNEL
from dialer.loop.call_control import CallControl
from dialer.loop.context import LoopContext
from dialer.loop.preview import Previews
from dialer.loop.transfer import Transfer

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
# Told the campaign's new status and dial mode (a "campaign" command).
CampaignChanged = Callable[[str, str], None]


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None


class Commands:
    def __init__(self, ctx: LoopContext, control: CallControl, transfer: Transfer,
                 previews: Previews, campaign_changed: CampaignChanged) -> None:  # fmt: skip
        self.ctx = ctx
        self.control = control
        self.transfers = transfer
        self.previews = previews
        self.campaign_changed = campaign_changed
        stop = self.stop_account
        # Handlers for any campaign's command (they find their call or account, or not);
        # `own` only for this campaign's (named in the command).
        self.handlers: dict[str, Handler] = {
            "payment": stop, "stop_account": stop, "do_not_contact": stop,
            "hangup": self.hangup, "transfer": self.transfer,
            "recording_start": self.recording_start, "recording_stop": self.recording_stop,
        }  # fmt: skip
        self.own: dict[str, Handler] = {
            "preview_request": self.preview_request,
            "preview_dial": self.preview_dial,
            "preview_skip": self.preview_skip,
            "campaign": self.campaign,
        }

    async def run(self, stopping: asyncio.Event) -> None:
        """Polls (never blocks forever), so stopping needs no cancellation, and
        resubscribes after a Redis outage."""
        ctx = self.ctx
        while not stopping.is_set():
            pubsub = ctx.redis.pubsub()
            try:
                await pubsub.subscribe(COMMANDS_CHANNEL)
                while not stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        await self.handle(json.loads(message["data"]))
                    except (ValueError, KeyError, TypeError, AMIError, WithdrawFailed):
                        log.warning("dialer %s: bad or failed command %r", ctx.name,
                                    message.get("data"))  # fmt: skip
            except (RedisError, OSError):
                log.warning("dialer %s: commands channel unavailable; retrying", ctx.name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]

    async def handle(self, command: dict[str, Any]) -> None:
        kind = command.get("type")
        campaign = command.get("campaign")
        if campaign is not None and campaign != self.ctx.name:
            return  # another campaign's dialer acts on it
        handler = self.handlers.get(str(kind))
        if handler is None and campaign == self.ctx.name:
            handler = self.own.get(str(kind))
        if handler is not None:
            await handler(command)

    async def stop_account(self, command: dict[str, Any]) -> None:
        await self.control.stop_account(int(command["account_id"]))

    async def hangup(self, command: dict[str, Any]) -> None:
        agent = _optional_int(command.get("agent_id"))
        await self._carry_out(command, self.control.hangup(int(command["attempt_id"]), agent))

    async def transfer(self, command: dict[str, Any]) -> None:
        await self._carry_out(command, self.transfers.transfer(
            int(command["attempt_id"]), int(command["agent_id"]),
            _optional_int(command.get("to_agent_id"))))  # fmt: skip

    async def recording_start(self, command: dict[str, Any]) -> None:
        await self.control.recording(True, int(command["attempt_id"]), int(command["agent_id"]))

    async def recording_stop(self, command: dict[str, Any]) -> None:
        await self.control.recording(False, int(command["attempt_id"]), int(command["agent_id"]))

    async def preview_request(self, command: dict[str, Any]) -> None:
        await self.previews.request(int(command["agent_id"]))

    async def preview_dial(self, command: dict[str, Any]) -> None:
        await self.previews.dial(int(command["agent_id"]), int(command["account_id"]))

    async def preview_skip(self, command: dict[str, Any]) -> None:
        await self.previews.skip(int(command["agent_id"]), int(command["account_id"]))

    async def campaign(self, command: dict[str, Any]) -> None:
        campaign = self.ctx.campaign
        self.campaign_changed(str(command.get("status", campaign.status)),
                              str(command.get("dial_mode", campaign.dial_mode)))  # fmt: skip

    async def _carry_out(self, command: dict[str, Any], action: Awaitable[Reply | None]) -> None:
        """Run a hangup or a transfer and, for the call this dialer holds, tell the
        console whether it was done (dialer/command_replies.py). None: not our call."""
        try:
            reply = await action
        except (AMIError, WithdrawFailed) as exc:
            log.warning("%s of attempt %s failed: %s", command.get("type"),
                        command.get("attempt_id"), exc)  # fmt: skip
            reply = Reply(False, ASTERISK)
        request_id = valid_request_id(command.get("request_id"))
        if reply is not None and request_id is not None:
            await send_reply(self.ctx.redis, request_id, reply)
