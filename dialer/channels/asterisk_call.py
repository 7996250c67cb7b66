"""The Asterisk call: an attempt placed as an AMI Originate into the answer context,
named by its attempt id so every event of the channel finds its attempt."""

from __future__ import annotations

from dialer import channel_vars as cv
from dialer.ami import AMIClient


class AsteriskCall:
    def __init__(self, ami: AMIClient, *, campaign: str, ring_timeout_seconds: float,
                 agi_host: str, agi_port: int) -> None:  # fmt: skip
        self.ami = ami
        self.campaign = campaign
        self.ring_timeout_seconds = ring_timeout_seconds
        self.agi_host = agi_host
        self.agi_port = agi_port

    async def originate(self, attempt_id: int, phone: str, caller_id: str) -> None:
        """Raises AMIError when the reply did not come: the debtor may be ringing
        all the same, so the caller never re-sends it."""
        await self.ami.send_action({
            "Action": "Originate",
            "Channel": cv.debtor_channel(phone),
            "Context": cv.CONTEXT_ANSWER,
            "Exten": "s",
            "Priority": 1,
            "Async": "true",
            "Timeout": int(self.ring_timeout_seconds * 1000),
            "ChannelId": cv.originate_channel_id(attempt_id),
            "CallerID": f'"{self.campaign}" <{caller_id}>',
            "Variable": (
                f"{cv.ATTEMPT_ID}={attempt_id},{cv.CAMPAIGN}={self.campaign},"
                f"{cv.AGI_HOST}={self.agi_host},{cv.AGI_PORT}={self.agi_port}"
            ),
        })  # fmt: skip

    async def hang_up(self, attempt_id: int, channel: str | None) -> None:
        """Asterisk accepts the Uniqueid (our ChannelId) as Hangup's Channel."""
        channel = channel or cv.originate_channel_id(attempt_id)
        await self.ami.send_action({"Action": "Hangup", "Channel": channel, "Cause": 16})
