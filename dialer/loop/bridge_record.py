"""The agent on a call's row from the bridge on (`attempt_store.mark_bridged`).

Written off the call's path: the bridge and the screen-pop never wait for SQL. Before,
the row named its agent only when the call ended; a dialer that died mid-call left it
naming nobody, and the agent who had just talked to the debtor could not record the
result (the console checks the row). A failed write is logged: the call's end writes
the same agent.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from dialer import attempt_store as store

log = logging.getLogger(__name__)

_writing: set[asyncio.Task[None]] = set()  # referenced until done (asyncio keeps weak refs)


def record_bridge(sql: Engine, attempt_id: int, agent_id: int, at: float | None) -> None:
    """`at`: the bridge's time (epoch); None for a transfer (the first bridge's stays)."""
    task = asyncio.create_task(_write(sql, attempt_id, agent_id, at))
    _writing.add(task)
    task.add_done_callback(_writing.discard)


async def _write(sql: Engine, attempt_id: int, agent_id: int, at: float | None) -> None:
    try:
        await asyncio.to_thread(store.mark_bridged, sql, attempt_id, agent_id, store.utc(at))
    except (SQLAlchemyError, OSError) as exc:
        log.warning("attempt %s: agent %s not written at the bridge (%s); its end writes it",
                    attempt_id, agent_id, exc)  # fmt: skip
