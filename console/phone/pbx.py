"""What the browser phone asks of Asterisk, over AMI: reload the PJSIP
endpoints, and put an agent's debtor on hold (music into the agent's bridge)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Protocol

from dialer import channel_vars as cv
from dialer.ami import AMIClient, AMIError

log = logging.getLogger(__name__)


class PhonePbxError(Exception):
    """Asterisk could not be asked (AMI down, action refused)."""


class PhonePbx(Protocol):
    async def reload_endpoints(self) -> None: ...
    async def start_hold(self, agent_id: int) -> str: ...
    async def end_hold(self, channel_id: str) -> None: ...
    async def close(self) -> None: ...


def hold_originate(agent_id: int, channel_id: str) -> dict[str, str]:
    """Music on hold joining agent-<id> (asterisk-conf/extensions.conf cobrador-hold)."""
    return {
        "Action": "Originate",
        "Channel": f"Local/{int(agent_id)}@cobrador-hold-music",
        "Context": "cobrador-hold",
        "Exten": str(int(agent_id)),
        "Priority": "1",
        "Async": "true",
        "ChannelId": channel_id,
    }


class AmiPhonePbx:
    """One AMI session, opened on first use and again after it dropped."""

    def __init__(self, host: str, port: int, username: str, secret: str) -> None:
        self._args = (host, port, username, secret)
        self._client: AMIClient | None = None
        self._lock = asyncio.Lock()

    async def _ami(self) -> AMIClient:
        async with self._lock:
            if self._client is not None and self._client.connected:
                return self._client
            if self._client is not None:
                await self._client.close()
            client = AMIClient(*self._args, event_filter=("FullyBooted",))
            try:
                await client.connect()
            except AMIError as exc:
                raise PhonePbxError(f"AMI: {exc}") from exc
            self._client = client
            return client

    async def _send(self, action: dict[str, str]) -> None:
        client = await self._ami()
        try:
            await client.send_action(action)
        except AMIError as exc:
            raise PhonePbxError(f"AMI {action['Action']}: {exc}") from exc

    async def reload_endpoints(self) -> None:
        await self._send({"Action": "Reload", "Module": "res_pjsip.so"})

    async def start_hold(self, agent_id: int) -> str:
        channel_id = f"{cv.HOLD_CHANNEL_PREFIX}{int(agent_id)}-{secrets.token_hex(4)}"
        await self._send(hold_originate(agent_id, channel_id))
        return channel_id

    async def end_hold(self, channel_id: str) -> None:
        try:
            await self._send({"Action": "Hangup", "Channel": channel_id})
        except PhonePbxError as exc:
            # Already gone (the debtor hung up and the bridge emptied): not an error.
            log.info("hold channel %s not hung up: %s", channel_id, exc)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
