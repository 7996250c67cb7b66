"""A hopper claimer in a process of its own (tests/component/dialer/test_hopper.py):
connects and says "ready", claims once told "go" on stdin (every claimer at once),
then prints the account ids it got as JSON.

    python hopper_claimer.py REDIS_URL CAMPAIGN OWNER ROUNDS PER_CLAIM NOW
"""

from __future__ import annotations

import asyncio
import json
import sys

import redis.asyncio as aioredis

from dialer.hopper import Hopper


async def claim(url: str, campaign: str, owner: str, rounds: int, per_claim: int,
                now: float) -> list[int]:  # fmt: skip
    client = aioredis.Redis.from_url(url)
    try:
        hopper = Hopper(client, campaign)
        await client.ping()
        print("ready", flush=True)
        sys.stdin.readline()  # "go"
        got: list[int] = []
        for _ in range(rounds):
            claims, _ = await hopper.claim(per_claim, owner, now, 30)
            got += [c.account_id for c in claims]
        return got
    finally:
        await client.aclose()


if __name__ == "__main__":
    url, campaign, owner, rounds, per_claim, now = sys.argv[1:]
    got = asyncio.run(claim(url, campaign, owner, int(rounds), int(per_claim), float(now)))
    print(json.dumps(got), flush=True)
