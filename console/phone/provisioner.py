"""Keep Asterisk's agents.conf in step with the users table and the live
credentials: write it atomically when its text changes, then reload res_pjsip.

A reload costs Asterisk a re-read of every PJSIP object, so a burst of logins
shares reloads: each caller waits for a reload that started after its write, at
most one runs at a time, and every write made while one runs is covered by the
single next one (a burst of N logins: at most two reloads, not N)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from console.phone.pjsip_agents import render

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[None]]


class Provisioner:
    def __init__(self, path: Path, reload: Reload, secret: bytes) -> None:
        self.path = path
        self.reload = reload
        self.secret = secret
        self.reloads = 0
        self._lock = asyncio.Lock()
        self._written = 0  # writes so far
        self._loaded = 0  # writes a finished reload has shown Asterisk
        self._reloading: asyncio.Future[None] | None = None

    async def sync(self, agent_ids: Iterable[int], passwords: Mapping[int, str]) -> bool:
        """Write when the file would change, and return once Asterisk has reloaded it
        (also when another caller wrote the same text and its reload is not done yet);
        True if this call wrote."""
        wrote = await self.write(agent_ids, passwords)
        await self.loaded(self.written)
        return wrote

    @property
    def written(self) -> int:
        """How many times the file has been written (`loaded` waits for a number)."""
        return self._written

    async def write(self, agent_ids: Iterable[int], passwords: Mapping[int, str]) -> bool:
        """Write the file if its text changes (no reload); True if it did."""
        text = render(agent_ids, passwords, self.secret)
        async with self._lock:
            if await asyncio.to_thread(self._current) == text:
                return False
            await asyncio.to_thread(self._write, text)
            self._written += 1
            log.info("phone endpoints written to %s (%d with a live credential)",
                     self.path, len(passwords))  # fmt: skip
            return True

    async def loaded(self, written: int) -> None:
        """Until a reload that started after write number `written` has finished;
        raises what the reload raised (Asterisk unreachable: the next call retries)."""
        while self._loaded < written:
            if self._reloading is None:
                self._reloading = asyncio.ensure_future(self._reload_once())
            await asyncio.shield(self._reloading)

    async def _reload_once(self) -> None:
        covers = self._written  # every write made before the reload starts
        try:
            await self.reload()
        finally:
            self._reloading = None
        self.reloads += 1
        self._loaded = max(self._loaded, covers)

    def _current(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None

    def _write(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".agents-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            os.chmod(tmp, 0o640)  # passwords: not world-readable
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
