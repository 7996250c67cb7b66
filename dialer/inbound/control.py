"""Recordings and the agent's call buttons for inbound calls whose campaign has no
dial loop in this process (a dialer run with `--campaign X` still answers every
DID, since the dialplan sends all inbound calls to one FastAGI address; a campaign
created after the dialer started has no loop anywhere until a restart).

A campaign with a loop here keeps its loop's recorder, and its loop answers the
console's commands for its inbound calls (CampaignDialer.hangup). For the others
this builds the campaign's recorder on the first call and answers "Colgar" and the
on_demand recording buttons itself, the same way, so every inbound call this
process answers is recorded as its campaign says and can be hung up by its agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from dialer import messages as msg
from dialer.ami import AMIClient
from dialer.ami.errors import AMIError
from dialer.command_replies import ASTERISK, REFUSED, Reply, send_reply, valid_request_id
from dialer.recording import Recorder

log = logging.getLogger(__name__)

RETRY_EVERY_SECONDS = 5.0  # finalizes that met a store outage are tried again this often


class InboundControl:
    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        ami: AMIClient,
        loop_recorder: Callable[[str], Recorder | None],
        build: Callable[[str], Awaitable[Recorder | None]],
    ) -> None:
        self.redis = redis
        self.ami = ami
        # campaign -> its dial loop's recorder here (None: no loop for it here)
        self.loop_recorder = loop_recorder
        # campaign -> a new recorder for it (None: no such campaign any more)
        self.build = build
        self.recorders: dict[str, Recorder] = {}  # built here, for campaigns without a loop
        self._building: dict[str, asyncio.Task[Recorder | None]] = {}

    async def recorder(self, campaign: str) -> Recorder | None:
        """The recorder of `campaign`'s calls in this process: its loop's, else one
        built here once (concurrent first calls share the build)."""
        found = self.loop_recorder(campaign) or self.recorders.get(campaign)
        if found is not None:
            return found
        task = self._building.get(campaign)
        if task is None:
            task = asyncio.ensure_future(self.build(campaign))
            self._building[campaign] = task
        try:
            built = await asyncio.shield(task)
        except Exception:  # a store outage or a bad config: never a reason to drop a caller
            # The call goes on unrecorded rather than not at all; the next call tries again.
            log.exception("campaign %s: no recorder for its inbound calls", campaign)
            return None
        finally:
            if task.done():
                self._building.pop(campaign, None)
        if built is not None:
            self.recorders.setdefault(campaign, built)
            return self.recorders[campaign]
        return None

    async def reconcile_recordings(self, campaigns: Iterable[str],
                                   ended: Callable[[list[int]], Any], ended_before: float) -> int:  # fmt: skip
        """Recordings of inbound calls a dead process left open, for campaigns with no
        dial loop here (a loop reconciles its own): each campaign's ledger is read
        through its recorder (built here if need be), and entries whose attempt ended
        before `ended_before` are closed with their file or a reason. Returns how many."""
        closed = 0
        for campaign in campaigns:
            if self.loop_recorder(campaign) is not None:
                continue
            recorder = await self.recorder(campaign)
            if recorder is not None:
                closed += await recorder.reconcile(set(), ended, ended_before=ended_before)
        return closed

    # -- the console's commands ----------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: the commands channel (resubscribed after a Redis outage) and,
        every few seconds, the finalizes to retry; then the finalizes in flight."""
        retry_at = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(msg.COMMANDS_CHANNEL)
                while not stop.is_set():
                    if loop.time() >= retry_at:
                        retry_at = loop.time() + RETRY_EVERY_SECONDS
                        for recorder in list(self.recorders.values()):
                            await recorder.retry()
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                    if message is None or message.get("type") != "message":
                        continue
                    try:
                        await self.handle_command(msg.parse_command(message["data"]))
                    except (ValueError, KeyError, TypeError):  # MessageError too
                        log.warning("inbound control: bad command %r", message.get("data"))
            except (RedisError, OSError):
                log.warning("inbound control: commands channel unavailable; retrying")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[attr-defined]
        for recorder in list(self.recorders.values()):
            await recorder.drain()

    def _leg(self, attempt_id: int) -> tuple[Recorder, str, int] | None:
        """The recorder, caller's channel and agent of an inbound call bridged here
        whose campaign has no loop here (the loops answer for the others)."""
        for campaign, recorder in self.recorders.items():
            if self.loop_recorder(campaign) is not None:
                continue
            leg = recorder.inbound_leg(attempt_id)
            if leg is not None:
                return recorder, leg[0], leg[1]
        return None

    async def handle_command(self, command: msg.Command) -> None:
        if not isinstance(command, msg.Hangup | msg.Transfer | msg.RecordingStart
                          | msg.RecordingStop):  # fmt: skip
            return
        found = self._leg(command.attempt_id)
        if found is None:
            return  # not an inbound call of ours: whoever holds it answers
        recorder, channel, agent_id = found
        attempt_id = command.attempt_id
        mine = command.agent_id is not None and command.agent_id == agent_id
        if isinstance(command, msg.RecordingStart | msg.RecordingStop):
            if not mine:
                log.warning("recording command of inbound attempt %s refused: not a live "
                            "call of agent %s", attempt_id, command.agent_id)  # fmt: skip
            elif isinstance(command, msg.RecordingStart):
                await recorder.start(attempt_id)
            else:
                await recorder.stop(attempt_id)
            return
        if isinstance(command, msg.Transfer):
            # The caller's channel runs [cobrador-inbound-call], whose `h` extension closes
            # the attempt: a Redirect into another bridge would skip it (docs/inbound.md).
            log.warning("transfer of inbound attempt %s refused: inbound calls are not "
                        "transferred", attempt_id)  # fmt: skip
            reply = Reply(False, REFUSED)
        elif not mine:
            log.warning("hangup of inbound attempt %s refused: not a live call of agent %s",
                        attempt_id, command.agent_id)  # fmt: skip
            reply = Reply(False, REFUSED)
        else:
            reply = await self._hangup(attempt_id, channel, agent_id)
        request_id = valid_request_id(command.request_id)
        if request_id is not None:
            await send_reply(self.redis, request_id, reply)

    async def _hangup(self, attempt_id: int, channel: str, agent_id: int) -> Reply:
        """AMI Hangup on the caller's channel; the `h` extension's `inbound_end` then
        closes the attempt (`contact`) and puts the agent in wrap-up."""
        try:
            await self.ami.send_action({"Action": "Hangup", "Channel": channel, "Cause": 16})
        except AMIError as exc:
            log.warning("hangup of inbound attempt %s failed: %s", attempt_id, exc)
            return Reply(False, ASTERISK)
        log.info("inbound attempt %s hung up by agent %s", attempt_id, agent_id)
        return Reply(True)
