"""How many WebSockets a console process holds open: at most a few per user and a
bound in all. Each open socket keeps a task, buffers and, for a wallboard, a Redis
connection of its own; without a bound one signed-in user (or a script with their
cookie) could open them until Redis refuses connections to the dialers too."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

PER_USER = 8  # an agent's console, a supervisor's wallboards in a few tabs
TOTAL = 2000
MAX_MESSAGE_BYTES = 4096  # what a browser sends on these sockets: a ping


class SocketSlots:
    """Counts open sockets per user and in all; `take` refuses past either bound."""

    def __init__(self, per_user: int = PER_USER, total: int = TOTAL) -> None:
        self.per_user = per_user
        self.total = total
        self._open: Counter[int] = Counter()

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
