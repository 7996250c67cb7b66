"""The browser phone's use cases: give an agent's console session its SIP
credential, renew and revoke it, keep Asterisk's endpoints in step, hold.

Adapters (Redis store, file provisioner, AMI) come in as arguments."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from console.phone.credentials import Credential, CredentialStore
from console.phone.ice import IceConfig
from console.phone.pbx import PhonePbx
from console.phone.provisioner import Provisioner

log = logging.getLogger(__name__)

HOLD_KEY = "cobrador:phone:hold:{agent_id}"

AgentIds = Callable[[], Awaitable[Iterable[int]]]


@dataclass(frozen=True)
class PhoneConfig:
    """What the page needs besides the credential."""

    ws_url: str
    ice: IceConfig = IceConfig()  # STUN/TURN for agents behind NAT

    @property
    def sip_domain(self) -> str:
        return urlsplit(self.ws_url).hostname or "cobrador"

    def uri(self, credential: Credential) -> str:
        return f"sip:{credential.username}@{self.sip_domain}"


class PhoneService:
    def __init__(
        self,
        config: PhoneConfig,
        store: CredentialStore,
        provisioner: Provisioner,
        pbx: PhonePbx,
        agent_ids: AgentIds,
        redis: aioredis.Redis,
    ) -> None:
        self.config = config
        self.store = store
        self.provisioner = provisioner
        self.pbx = pbx
        self.agent_ids = agent_ids
        self.redis = redis
        # Read-then-write of the endpoints file, one at a time: a render from an older
        # read never replaces a newer one (the reload, shared, waits outside).
        self._writing = asyncio.Lock()

    async def issue(self, agent_id: int, session: str, now: float) -> Credential:
        credential = await self.store.issue(agent_id, session, now)
        await self.sync(now)
        return credential

    async def renew(self, agent_id: int, session: str, now: float) -> Credential:
        return await self.store.renew(agent_id, session, now)

    async def revoke(self, agent_id: int, session: str | None, now: float) -> None:
        if await self.store.revoke(agent_id, session):
            await self.sync(now)

    async def sync(self, now: float) -> bool:
        """Write the endpoints (every agent; live passwords) if they changed, and
        return once Asterisk has them (one reload shared by a burst of logins)."""
        async with self._writing:
            live = await self.store.live(now)
            agents = set(await self.agent_ids()) | set(live)
            wrote = await self.provisioner.write(agents, {a: c.password for a, c in live.items()})
            written = self.provisioner.written
        await self.provisioner.loaded(written)
        return wrote

    async def hold(self, agent_id: int) -> None:
        key = HOLD_KEY.format(agent_id=agent_id)
        if await self.redis.get(key) is not None:
            return
        channel_id = await self.pbx.start_hold(agent_id)
        await self.redis.set(key, channel_id, ex=4 * 3600)

    async def unhold(self, agent_id: int) -> None:
        key = HOLD_KEY.format(agent_id=agent_id)
        channel_id = await self.redis.getdel(key)
        if channel_id is not None:
            value = channel_id.decode() if isinstance(channel_id, bytes) else str(channel_id)
            await self.pbx.end_hold(value)

    async def held(self, agent_id: int) -> bool:
        return await self.redis.exists(HOLD_KEY.format(agent_id=agent_id)) > 0

    async def sweep_forever(self, clock: Callable[[], float], every: float) -> None:
        """Expire credentials that were not renewed (a closed tab, a lost network)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.sync(clock())
            except Exception:
                log.exception("phone endpoint sweep failed; retrying in %.0f s", every)
