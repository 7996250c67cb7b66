"""What an agent or an account's change does to a live call: hang it up, stop an
account (out of the hopper, its unanswered call hung up), start or stop recording."""

from __future__ import annotations

import contextlib
import logging

from dialer import call_state as cs
from dialer.call_state import CallState
from dialer.channels import Channel, WithdrawFailed
from dialer.command_replies import REFUSED, Reply
from dialer.loop.context import LoopContext

log = logging.getLogger(__name__)


class CallControl:
    def __init__(self, ctx: LoopContext, channel: Channel) -> None:
        self.ctx = ctx
        self.channel = channel

    async def hangup(self, attempt_id: int, agent_id: int | None) -> Reply | None:
        """The agent's "Colgar": AMI Hangup on the debtor's channel. Outbound: this
        loop's originated channel; the Hangup event ends the attempt as usual. Inbound:
        the caller's channel of a call this process bridged (Recorder.attach_inbound),
        only for the agent who took it; the `h` extension's `inbound_end` then closes
        the attempt (`contact`) and puts the agent in wrap-up, as when the caller hangs up."""
        ctx = self.ctx
        live = ctx.calls.get(attempt_id)
        if live is not None:
            await self.channel.withdraw(attempt_id, live.call.channel)
        else:
            leg = ctx.recorder.inbound_leg(attempt_id) if ctx.recorder is not None else None
            if leg is None:
                return None  # another dialer's (or loop's) call, or over
            channel, owner = leg
            if owner != agent_id:
                log.warning("hangup of inbound attempt %s refused: not a live call of agent %s",
                            attempt_id, agent_id)  # fmt: skip
                return Reply(False, REFUSED)
            await ctx.ami.send_action({"Action": "Hangup", "Channel": channel, "Cause": 16})
        log.info("attempt %s hung up by agent %s", attempt_id, agent_id)
        return Reply(True)

    async def stop_account(self, account_id: int) -> None:
        """Out of the hopper at once; a call to it not yet answered is hung up."""
        ctx = self.ctx
        await ctx.hopper.remove(account_id)
        for attempt_id, live in list(ctx.calls.items()):
            if live.account_id == account_id and live.is_ringing:
                live.call = cs.on_cancelled(live.call)
                with contextlib.suppress(WithdrawFailed):
                    await self.channel.withdraw(attempt_id, live.call.channel)
                log.info("attempt %s hung up before answer: account stopped", attempt_id)

    async def withdraw_ringing(self) -> list[int]:
        """Every call of this loop not yet answered, hung up (`cancelled`): the loop
        is stopping, and a debtor who answered one with no dialer to take the answer
        would hear the safe-harbor message, an abandon."""
        withdrawn = []
        for attempt_id, live in list(self.ctx.calls.items()):
            if live.is_ringing:
                live.call = cs.on_cancelled(live.call)
                with contextlib.suppress(WithdrawFailed):
                    await self.channel.withdraw(attempt_id, live.call.channel)
                withdrawn.append(attempt_id)
        if withdrawn:
            log.info("attempt(s) %s hung up before answer: the dialer is stopping",
                     ", ".join(map(str, withdrawn)))  # fmt: skip
        return withdrawn

    async def recording(self, start: bool, attempt_id: int, agent_id: int) -> None:
        """on_demand recording from the console: only on the agent's own live call,
        outbound (this loop's) or inbound (bridged by this process, see Recorder.attach_inbound)."""
        ctx = self.ctx
        what = "recording_start" if start else "recording_stop"
        live = ctx.calls.get(attempt_id)
        if ctx.recorder is None:
            return
        if live is None:
            owner = ctx.recorder.inbound_agent(attempt_id)
            if owner is None:
                return  # another dialer's call, or over
            if owner != agent_id:
                log.warning("%s of inbound attempt %s refused: not a live call of agent %s",
                            what, attempt_id, agent_id)  # fmt: skip
                return
        elif live.state is not CallState.bridged or live.agent_id != agent_id:
            log.warning("%s of attempt %s refused: not a live call of agent %s",
                        what, attempt_id, agent_id)  # fmt: skip
            return
        if start:
            await ctx.recorder.start(attempt_id)
        else:
            await ctx.recorder.stop(attempt_id)
