"""Wrong identity answers on one call or chat: after MAX_FAILED_CHECKS the person is
treated as a third party. The same cap for an outbound call's right party, an inbound
caller and a chat that names no account: the answers are not guessed by trying.

A try is taken before the answers are checked, in one INCR, so parallel requests
never get more checks through than the cap; a try that was not a wrong answer (a
match, or a refusal before any check) is given back.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from console.i18n import N_
from console.pophub import VERIFIED_TTL_SECONDS, verify_failures_key

MAX_FAILED_CHECKS = 3  # per call or chat
TOO_MANY_ON_CALL = N_("Demasiados intentos de verificación en esta llamada; trátela como tercero.")
TOO_MANY_IN_CHAT = N_(
    "Demasiados intentos de verificación en esta conversación; ciérrela sin cuenta."
)


async def take(redis: aioredis.Redis, attempt_id: int) -> bool:
    """One check of the answers on this attempt; False once its wrong answers are spent."""
    key = verify_failures_key(attempt_id)
    taken = int(await redis.incr(key))
    await redis.expire(key, VERIFIED_TTL_SECONDS)
    return taken <= MAX_FAILED_CHECKS


async def give_back(redis: aioredis.Redis, attempt_id: int) -> None:
    """The try was not a wrong answer: it does not count."""
    await redis.decr(verify_failures_key(attempt_id))
