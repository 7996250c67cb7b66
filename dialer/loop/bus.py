"""The Redis names the dial loop shares with the console (pops, commands, the
wallboard), and the pop it publishes when an agent gets a debtor."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

POPS_CHANNEL = "cobrador:pops"
COMMANDS_CHANNEL = "cobrador:commands"


def wallboard_key(campaign: str) -> str:
    return f"cobrador:wallboard:{{{campaign}}}"


async def publish_pop(redis: aioredis.Redis, **fields: Any) -> None:
    """One message on the pops channel; `published_at` stamped here (pop latency)."""
    await redis.publish(POPS_CHANNEL, json.dumps({**fields, "published_at": time.time()}))
