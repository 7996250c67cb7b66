"""Preview mode: an agent asks for an account, sees it, then chooses to call it
(placed for that agent) or to skip it (back in an hour)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from dialer import messages as msg
from dialer.loop.context import LoopContext, Preview
from dialer.loop.placing import Placer

log = logging.getLogger(__name__)

PREVIEW_SKIP_SECONDS = 3600.0  # a skipped account comes back an hour later
PREVIEW_HOLD_SECONDS = 300.0  # an unanswered preview returns to the hopper


class Previews:
    def __init__(self, ctx: LoopContext, placer: Placer) -> None:
        self.ctx = ctx
        self.placer = placer

    async def request(self, agent_id: int) -> None:
        ctx = self.ctx
        if any(p.agent_id == agent_id for p in ctx.previews.values()):
            return  # one account at a time per agent
        now = ctx.clock()
        claims, _ = await ctx.hopper.claim(1, ctx.options.owner, now, ctx.options.lease_seconds)
        if not claims:
            await self.placer.hopper_empty()
            return
        claim = claims[0]
        ctx.previews[claim.account_id] = Preview(agent_id, claim, now)
        await ctx.notifier.send(msg.PreviewOffer(
            agent_id=agent_id, account_id=claim.account_id, campaign=ctx.name,
            published_at=time.time(),
        ))  # fmt: skip

    async def dial(self, agent_id: int, account_id: int) -> None:
        held = self.ctx.previews.get(account_id)
        if held is None or held.agent_id != agent_id:
            log.warning("preview dial refused: account %s is not previewed by agent %s",
                        account_id, agent_id)  # fmt: skip
            return
        del self.ctx.previews[account_id]
        claim = held.claim
        # The agent who chose to call is the one the debtor is bridged to.
        await self.placer.place(replace(claim, payload={**claim.payload, "agent_id": agent_id}))

    async def skip(self, agent_id: int, account_id: int) -> None:
        ctx = self.ctx
        held = ctx.previews.get(account_id)
        if held is None or held.agent_id != agent_id:
            return
        del ctx.previews[account_id]
        await ctx.hopper.release(ctx.options.owner, account_id, ctx.clock() + PREVIEW_SKIP_SECONDS)

    async def expire(self, now: float) -> None:
        """Previews the agent walked away from go back to the hopper."""
        ctx = self.ctx
        for account_id, held in list(ctx.previews.items()):
            if now - held.since > PREVIEW_HOLD_SECONDS:
                del ctx.previews[account_id]
                await ctx.hopper.release(ctx.options.owner, account_id, now)
