"""How many WebSockets a console process holds open: at most a few per user and a
bound in all. Each open socket keeps a task, buffers and, for a wallboard, a Redis
connection of its own; without a bound one signed-in user (or a script with their
cookie) could open them until Redis refuses connections to the dialers too.
The sockets themselves are closed when the process stops (`close_all`)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections import Counter
from collections.abc import Iterator
from typing import Protocol

GOING_AWAY = 1001  # WebSocket close code: the server is going down


class Closable(Protocol):
    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


PER_USER = 8  # an agent's console, a supervisor's wallboards in a few tabs
TOTAL = 2000
MAX_MESSAGE_BYTES = 4096  # what a browser sends on these sockets: a ping


class SocketSlots:
    """Counts open sockets per user and in all; `take` refuses past either bound."""

    def __init__(self, per_user: int = PER_USER, total: int = TOTAL) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[int] = Counter()
        self._sockets: weakref.WeakSet[Closable] = weakref.WeakSet()

    @property
    def open(self) -> int:
        return sum(self._open.values())

    def holding(self, user_id: int) -> int:
        return self._open[user_id]

    @contextlib.contextmanager
    def take(self, user_id: int) -> Iterator[bool]:
        """A slot for the socket's lifetime: yields False (nothing taken) when the user
        or the process already holds as many as allowed."""
        if self._open[user_id] >= self.per_user or self.open >= self.total:
            yield False
            return
        self._open[user_id] += 1
        try:
            yield True
        finally:
            self._open[user_id] -= 1
            if self._open[user_id] <= 0:
                del self._open[user_id]

    def keep(self, socket: Closable) -> None:
        """An open socket, closed by `close_all` (forgotten once it is gone)."""
        self._sockets.add(socket)

    async def close_all(self) -> None:
        """The process stops (SIGTERM): every socket still open is closed now, going
        away. Left open, a socket's handler runs on and the server's shutdown waits for
        it until its timeout (60 s), past `docker stop`'s 10 s: the console was killed
        instead of closing its Redis and SQL connections."""
        # All at once: each close waits for its peer's answer (a dead peer's, up to the
        # socket's timeout), and one slow page must not hold the others.
        await asyncio.gather(
            *(s.close(code=GOING_AWAY, message=b"server shutdown") for s in list(self._sockets)),
            return_exceptions=True,  # a peer gone meanwhile: nothing left to close
        )
