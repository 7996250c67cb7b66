"""Keep Asterisk's agents.conf in step with the users table and the live
credentials: write it atomically when its text changes, then reload res_pjsip."""

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

    async def sync(self, agent_ids: Iterable[int], passwords: Mapping[int, str]) -> bool:
        """Write and reload when the file would change; True if it did."""
        text = render(agent_ids, passwords, self.secret)
        async with self._lock:
            if await asyncio.to_thread(self._current) == text:
                return False
            await asyncio.to_thread(self._write, text)
            await self.reload()
            self.reloads += 1
            log.info("phone endpoints written to %s (%d with a live credential)",
                     self.path, len(passwords))  # fmt: skip
            return True

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
