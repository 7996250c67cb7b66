"""Commands from the console and the imports (dialer/messages.py), read from the
commands channel: one small handler per message type; a command for another
campaign is left to its loop, and the phone service's are not the loop's."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import RedisError

from dialer import messages as msg
from dialer.ami.errors import AMIError
from dialer.channels import WithdrawFailed
from dialer.command_replies import ASTERISK, Reply, send_reply, valid_request_id
from dialer.loop.call_control import CallControl
from dialer.loop.context import LoopContext
from dialer.loop.preview import Previews
from dialer.loop.transfer import Transfer

log = logging.getLogger(__name__)

# Told the campaign's new status and dial mode (a CampaignChange).
CampaignChanged = Callable[[str, str], None]


class Commands:
    def __init__(self, ctx: LoopContext, control: CallControl, transfer: Transfer,
                 previews: Previews, campaign_changed: CampaignChanged) -> None:  # fmt: skip
        self.ctx = ctx
        self.control = control
        self.transfers = transfer
        self.previews = previews
        self.campaign_changed = campaign_changed
        # One handler per command type; the others (the phone service's) are ignored.
        self.handlers: dict[type[msg.Message], Callable[[Any], Awaitable[None]]] = {
            msg.StopAccount: self.stop_account,
            msg.Hangup: self.hangup,
            msg.Transfer: self.transfer,
            msg.RecordingStart: self.recording_start,
            msg.RecordingStop: self.recording_stop,
            msg.PreviewRequest: self.preview_request,
            msg.PreviewDial: self.preview_dial,
            msg.PreviewSkip: self.preview_skip,
            msg.CampaignChange: self.campaign,
        }

    async def run(self, stopping: asyncio.Event) -> None:
        """Polls (never blocks forever), so stopping needs no cancellation, and
        resubscribes after a Redis outage."""
        ctx = self.ctx
        while not stopping.is_set():
            pubsub = ctx.redis.pubsub()
            try:
                await pubsub.subscribe(msg.COMMANDS_CHANNEL)
                while not stopping.is_set():
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        await self.handle(msg.parse_command(message["data"]))
                    except (ValueError, KeyError, TypeError, AMIError, WithdrawFailed):
                        # MessageError is a ValueError
                        log.warning("dialer %s: bad or failed command %r", ctx.name,
                                    message.get("data"))  # fmt: skip
            except (RedisError, OSError):
                log.warning("dialer %s: commands channel unavailable; retrying", ctx.name)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stopping.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]

    async def handle(self, command: msg.Command) -> None:
        campaign = getattr(command, "campaign", None)
        if campaign is not None and campaign != self.ctx.name:
            return  # another campaign's dialer acts on it
        handler = self.handlers.get(type(command))
        if handler is not None:
            await handler(command)

    async def stop_account(self, command: msg.StopAccount) -> None:
        await self.control.stop_account(command.account_id)

    async def hangup(self, command: msg.Hangup) -> None:
        await self._carry_out(command, self.control.hangup(command.attempt_id, command.agent_id))

    async def transfer(self, command: msg.Transfer) -> None:
        await self._carry_out(command, self.transfers.transfer(
            command.attempt_id, command.agent_id, command.to_agent_id))  # fmt: skip

    async def recording_start(self, command: msg.RecordingStart) -> None:
        await self.control.recording(True, command.attempt_id, command.agent_id)

    async def recording_stop(self, command: msg.RecordingStop) -> None:
        await self.control.recording(False, command.attempt_id, command.agent_id)

    async def preview_request(self, command: msg.PreviewRequest) -> None:
        await self.previews.request(command.agent_id)

    async def preview_dial(self, command: msg.PreviewDial) -> None:
        await self.previews.dial(command.agent_id, command.account_id)

    async def preview_skip(self, command: msg.PreviewSkip) -> None:
        await self.previews.skip(command.agent_id, command.account_id)

    async def campaign(self, command: msg.CampaignChange) -> None:
        campaign = self.ctx.campaign
        self.campaign_changed(command.status or campaign.status,
                              command.dial_mode or campaign.dial_mode)  # fmt: skip

    async def _carry_out(self, command: msg.Hangup | msg.Transfer,
                         action: Awaitable[Reply | None]) -> None:  # fmt: skip
        """Run a hangup or a transfer and, for the call this dialer holds, tell the
        console whether it was done (dialer/command_replies.py). None: not our call."""
        try:
            reply = await action
        except (AMIError, WithdrawFailed) as exc:
            log.warning("%s of attempt %s failed: %s", command.TYPE, command.attempt_id, exc)
            reply = Reply(False, ASTERISK)
        request_id = valid_request_id(command.request_id)
        if reply is not None and request_id is not None:
            await send_reply(self.ctx.redis, request_id, reply)
