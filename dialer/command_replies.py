"""Replies to the console's call commands (hangup, transfer): the dialer that holds
the call says whether it carried the command out, so an agent never reads "sent"
for something no dialer did. One short-lived Redis list per request: the console
waits on it (BLPOP) for a bounded time; dialers that do not hold the call stay
silent, so silence past the wait means nobody did it."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass

import redis.asyncio as aioredis

from dialer.messages import reply_key

REPLY_TTL_SECONDS = 30
BLOCK_SECONDS = 1.0  # one BLPOP, well under redis-py's 5 s read timeout
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
# Why a dialer that holds the call did not carry the command out (stable codes).
REFUSED = "refused"  # not a live call of that agent
NO_AGENT = "no_agent_ready"  # transfer: nobody to take it
ASTERISK = "asterisk_error"  # the AMI action failed or its fate is unknown


@dataclass(frozen=True)
class Reply:
    ok: bool
    reason: str = ""


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: object) -> str | None:
    """The request id of a command, when it has the one shape we make (else None)."""
    return value if isinstance(value, str) and _REQUEST_ID.fullmatch(value) else None


async def send_reply(redis: aioredis.Redis, request_id: str, reply: Reply) -> None:
    pipe = redis.pipeline(transaction=True)
    pipe.rpush(reply_key(request_id), json.dumps({"ok": reply.ok, "reason": reply.reason}))
    pipe.expire(reply_key(request_id), REPLY_TTL_SECONDS)
    await pipe.execute()


async def wait_reply(redis: aioredis.Redis, request_id: str, seconds: float) -> Reply | None:
    """The first reply within `seconds`, or None (no dialer carried it out). BLPOP
    blocks on Redis (no polling), a second at a time: under the client's read timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        got = await redis.blpop([reply_key(request_id)], timeout=min(left, BLOCK_SECONDS))
        if got:
            try:
                body = json.loads(got[1])
                return Reply(bool(body["ok"]), str(body.get("reason", ""))[:64])
            except (ValueError, KeyError, TypeError):
                return Reply(False, "unreadable")
    return None
