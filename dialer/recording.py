"""Call recordings on the dialer's side: when MixMonitor starts and stops, where its
file goes, and handing the closed file to the store without blocking the dial loop.

- `all`: the FastAGI `answer` handler starts MixMonitor on the debtor's channel
  just before it sends the call to the agent's bridge (both legs mixed), or to
  the safe-harbor message when the call is abandoned.
- `on_demand`: the agent starts and stops it from the console; the dialer sends
  AMI `MixMonitor` (append) / `StopMixMonitor` on the debtor's channel: the
  originated channel (`cobrador-<attempt_id>`) of an outbound call, the caller's
  channel of an inbound one (attached by dialer/inbound/calls.py when an agent
  takes it). Safe-harbor legs are recorded.
- `none`: nothing is recorded.

Every recording that was asked for is written down in SQL (the open-recordings
ledger, store/recordings/ledger.py) before MixMonitor starts, so a dialer that
dies between the call's start and the store's row, with or without Redis, leaves
it for `reconcile` to close. The file is hashed and its row written in a thread
(`finalize`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from compliance.profile import RECORDING_NOTICES
from dialer import channel_vars as cv
from dialer.ami import AMIClient
from dialer.ami.errors import AMIError
from dialer.fastagi import AGISession
from dialer.fastagi.errors import AGIError
from store.recordings import ledger

log = logging.getLogger(__name__)

MODES = ("all", "none", "on_demand")
DEFAULT_MODE = "all"
# MixMonitor's `a` appends: an on_demand recording started again after a stop
# keeps the first part in the same file. A first start never appends, so a file
# left at the same path (a store reset, a test database) is replaced, never grown.
APPEND = "a"
# Why a recording that was asked for has no usable file (the row's failure_reason).
REASON_NOT_STARTED = "mixmonitor_not_started"
REASON_DIALER_RESTARTED = "dialer_restarted_before_close"
REASON_NO_FILE = "no_file_when_call_ended"


def recording_mode(config: dict[str, Any] | None) -> str:
    """The campaign's `recording` setting; an unknown value records everything
    (a typo must not lose evidence) and says so in the log."""
    raw = (config or {}).get("recording", DEFAULT_MODE)
    if raw in MODES:
        return str(raw)
    log.warning("campaign recording setting %r is not one of %s; recording all", raw, MODES)
    return DEFAULT_MODE


def recording_notice(profile_notice: str, config: dict[str, Any] | None) -> str:
    """`script` or `prompt`: the campaign's choice, else its country profile's default."""
    raw = (config or {}).get("recording_notice")
    if raw is None:
        return profile_notice
    if raw in RECORDING_NOTICES:
        return str(raw)
    log.warning("campaign recording_notice %r is not one of %s; using the profile's %r",
                raw, RECORDING_NOTICES, profile_notice)  # fmt: skip
    return profile_notice


class Ledger(Protocol):
    """Where the recordings asked for and not yet finalized are written down (durable)."""

    async def write(self, rec: OpenRecording) -> None: ...

    async def note_failure(self, attempt_id: int, reason: str) -> None: ...

    async def remove(self, attempt_id: int) -> None: ...

    async def entries(self) -> list[OpenRecording]: ...


class Storage(Protocol):
    """What the recorder needs of the recordings storage (store.recordings.storage)."""

    def key_for(self, attempt_id: int, started_at: datetime, ext: str = "wav") -> str: ...

    def path(self, key: str) -> Path: ...


class Finalize(Protocol):
    """store.recordings.finalize.finalize_recording with its engine and storage bound."""

    def __call__(
        self,
        *,
        attempt_id: int,
        key: str,
        started_at: datetime,
        ended_at: datetime,
        reason: str | None,
    ) -> object: ...


@dataclass(frozen=True)
class OpenRecording:
    """A recording that was asked for and not yet finalized (one ledger entry)."""

    attempt_id: int
    key: str  # storage key, YYYY/MM/DD/<attempt_id>.wav
    pbx_path: str  # the same file as Asterisk sees it
    started_at: float
    owner: str
    failure: str | None = None  # known at start: MixMonitor could not run


class SqlLedger:
    """One campaign's open-recordings ledger in SQL (store.recordings.ledger)."""

    def __init__(self, engine: Engine, campaign: str) -> None:
        self.engine = engine
        self.campaign = campaign

    async def write(self, rec: OpenRecording) -> None:
        await asyncio.to_thread(ledger.write_entry, self.engine, attempt_id=rec.attempt_id,
                                campaign=self.campaign, storage_key=rec.key, pbx_path=rec.pbx_path,
                                started_at=datetime.fromtimestamp(rec.started_at, UTC), owner=rec.owner)  # fmt: skip

    async def note_failure(self, attempt_id: int, reason: str) -> None:
        await asyncio.to_thread(ledger.note_failure, self.engine, attempt_id, reason)

    async def remove(self, attempt_id: int) -> None:
        await asyncio.to_thread(ledger.remove_entries, self.engine, [attempt_id])

    async def entries(self) -> list[OpenRecording]:
        rows = await asyncio.to_thread(ledger.open_entries, self.engine, self.campaign)
        return [OpenRecording(r.attempt_id, r.storage_key, r.pbx_path, r.started_at.timestamp(),
                              r.owner, r.failure) for r in rows]  # fmt: skip


def pbx_path(pbx_root: PurePosixPath, key: str) -> str:
    """The file as Asterisk sees it (the chroot, a container's volume mount)."""
    path = str(pbx_root.joinpath(*key.split("/")))
    if any(c in path for c in ",|\r\n\"'") or not path.startswith("/"):
        # MixMonitor's arguments are comma-separated; Originate's too.
        raise ValueError(f"recordings path {path!r} must be absolute without , | or quotes")
    return path


def file_size(path: Path) -> int | None:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


async def file_settled(
    path: Path, polls: int, interval: float, executor: Executor | None = None
) -> int | None:
    """Wait until the file's size stops changing (MixMonitor's thread closes it
    just after the channel goes); its last size, or None when there is none.
    Sleeps on the event loop: no thread is held while waiting."""
    loop = asyncio.get_running_loop()
    last: int | None = None
    for _ in range(max(1, polls)):
        size = await loop.run_in_executor(executor, file_size, path)
        if size is not None and size == last:
            return size
        last = size
        await asyncio.sleep(interval)
    return last


class Recorder:
    """One campaign's recordings in one dialer process."""

    def __init__(
        self,
        *,
        campaign: str,
        owner: str,
        ledger: Ledger,
        ami: AMIClient,
        storage: Storage,
        pbx_root: PurePosixPath,
        finalize: Finalize,
        mode: Callable[[], str],
        notice: Callable[[], str] = lambda: "script",
        notice_sound: str = "custom/recording-notice",
        clock: Callable[[], float] = time.time,
        settle_polls: int = 40,
        settle_interval: float = 0.05,
        executor: Executor | None = None,
    ) -> None:
        self.campaign = campaign
        self.owner = owner
        self.ledger = ledger
        self.ami = ami
        self.storage = storage
        self.pbx_root = pbx_root
        self.finalize = finalize
        self.mode = mode
        self.notice = notice
        self.notice_sound = notice_sound
        self.clock = clock
        self.settle_polls = settle_polls
        self.settle_interval = settle_interval
        # Its own threads: a burst of hangups hashing files never queues the dial
        # loop's other work (attempt rows, compliance) in asyncio's default pool.
        self.executor = executor or ThreadPoolExecutor(4, thread_name_prefix="recordings")
        self.open: dict[int, OpenRecording] = {}
        self.running: set[int] = set()  # MixMonitor is writing (MixMonitorStart seen)
        self._closing: dict[int, asyncio.Task[None]] = {}
        self._retry: dict[int, tuple[OpenRecording, float]] = {}
        # Inbound calls bridged by this process: attempt id -> (caller's channel, agent).
        self.inbound: dict[int, tuple[str, int]] = {}

    # -- starting ---------------------------------------------------------------

    async def _register(self, attempt_id: int) -> OpenRecording:
        if attempt_id in self.open:
            return self.open[attempt_id]
        now = self.clock()
        key = self.storage.key_for(attempt_id, datetime.fromtimestamp(now, UTC), "wav")
        rec = OpenRecording(attempt_id, key, pbx_path(self.pbx_root, key), now, self.owner)
        # Written down before MixMonitor starts: a crash from here on is reconciled.
        await self.ledger.write(rec)
        self.open[attempt_id] = rec
        return rec

    def pop_fields(self) -> dict[str, str]:
        """What the agent's screen-pop shows: the mode, and the notice line to read."""
        mode = self.mode()
        if mode == "none":
            return {"recording": mode}
        return {"recording": mode, "recording_notice": self.notice()}

    async def at_answer(self, agi: AGISession, attempt_id: int, action: str) -> None:
        """Called by the `answer` handler before it sets COBRADOR_ACTION: start
        MixMonitor on this channel when the campaign's mode says so, then play the
        recording notice when the campaign gives it as a prompt (so it is recorded)."""
        mode = self.mode()
        if mode == "none" or action not in (cv.ACTION_BRIDGE, cv.ACTION_SAFE_HARBOR):
            return
        if mode == "all" or action == cv.ACTION_SAFE_HARBOR:
            await self._start_in_call(agi, attempt_id)
        if action == cv.ACTION_BRIDGE and self.notice() == "prompt":
            try:
                await agi.exec("Playback", self.notice_sound)
            except AGIError as exc:
                log.warning("attempt %s: recording notice not played: %s", attempt_id, exc)

    async def _start_in_call(self, agi: AGISession, attempt_id: int) -> None:
        try:
            rec = await self._register(attempt_id)
        except (SQLAlchemyError, OSError) as exc:
            # Without the ledger entry a crash could lose the row; the call still
            # goes on (recording is evidence, never a reason to drop a debtor).
            log.warning("attempt %s: recording not started (ledger unavailable: %s)",
                        attempt_id, exc)  # fmt: skip
            return
        try:
            reply = await agi.exec("MixMonitor", rec.pbx_path)
        except AGIError as exc:
            await self._failed(rec, f"{REASON_NOT_STARTED}: {type(exc).__name__}")
            return
        if reply.result != 0:  # -2: the application is not loaded
            await self._failed(rec, f"{REASON_NOT_STARTED}: AGI EXEC result {reply.result}")

    async def _failed(self, rec: OpenRecording, reason: str) -> None:
        log.warning("attempt %s: %s", rec.attempt_id, reason)
        self.open[rec.attempt_id] = replace(rec, failure=reason)
        with contextlib.suppress(SQLAlchemyError, OSError):  # else closed as restarted
            await self.ledger.note_failure(rec.attempt_id, reason)

    def attach_inbound(self, attempt_id: int, channel: str, agent_id: int) -> None:
        """An inbound call was bridged to an agent: `start`/`stop` act on the caller's
        channel (its Uniqueid, as Asterisk accepts for a channel name), so does the dial
        loop's hangup (CampaignDialer.hangup); `close` forgets it."""
        self.inbound[attempt_id] = (channel, agent_id)

    def inbound_agent(self, attempt_id: int) -> int | None:
        """The agent of an inbound call bridged by this process (None: not one)."""
        leg = self.inbound.get(attempt_id)
        return leg[1] if leg is not None else None

    def inbound_leg(self, attempt_id: int) -> tuple[str, int] | None:
        """The caller's channel and the agent of an inbound call bridged by this process
        (the dial loop's hangup acts on it too)."""
        return self.inbound.get(attempt_id)

    def _channel(self, attempt_id: int) -> str:
        leg = self.inbound.get(attempt_id)
        return leg[0] if leg is not None else cv.originate_channel_id(attempt_id)

    async def start(self, attempt_id: int) -> bool:
        """on_demand: the agent asked to record (again: the file is appended to)."""
        if self.mode() != "on_demand" or attempt_id in self.running:
            return False
        again = attempt_id in self.open
        try:
            rec = await self._register(attempt_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("attempt %s: recording not started (ledger unavailable: %s)",
                        attempt_id, exc)  # fmt: skip
            return False
        try:
            await self.ami.send_action({
                "Action": "MixMonitor", "Channel": self._channel(attempt_id),
                "File": rec.pbx_path, "Options": APPEND if again else "",
            })  # fmt: skip
        except AMIError as exc:
            log.warning("attempt %s: MixMonitor not started: %s", attempt_id, exc)
            return False
        self.running.add(attempt_id)
        return True

    async def stop(self, attempt_id: int) -> bool:
        """on_demand: the agent stopped it; the file stays open for a restart."""
        if attempt_id not in self.open:
            return False
        try:
            await self.ami.send_action(
                {"Action": "StopMixMonitor", "Channel": self._channel(attempt_id)}
            )
        except AMIError as exc:
            log.warning("attempt %s: StopMixMonitor failed: %s", attempt_id, exc)
            return False
        self.running.discard(attempt_id)
        return True

    def on_event(self, attempt_id: int, name: str) -> None:
        """MixMonitorStart / MixMonitorStop on the call's channel (Asterisk 22 sends
        no MixMonitorStop at hangup: the call's Hangup closes the recording)."""
        if name == "MixMonitorStart":
            self.running.add(attempt_id)
        elif name == "MixMonitorStop":
            self.running.discard(attempt_id)

    # -- closing -----------------------------------------------------------------

    def close(self, attempt_id: int, ended_at: float) -> None:
        """The call ended: finalize its recording in the background (hash in a thread)."""
        rec = self.open.pop(attempt_id, None)
        self.running.discard(attempt_id)
        self.inbound.pop(attempt_id, None)
        if rec is None or attempt_id in self._closing:
            return
        self._spawn_close(rec, ended_at)

    def _spawn_close(self, rec: OpenRecording, ended_at: float) -> None:
        attempt_id = rec.attempt_id
        task = asyncio.ensure_future(self._close(rec, ended_at))
        self._closing[attempt_id] = task

        def done(_task: asyncio.Future[None]) -> None:
            self._closing.pop(attempt_id, None)

        task.add_done_callback(done)

    async def _close(self, rec: OpenRecording, ended_at: float) -> None:
        try:
            if rec.failure is None:
                await file_settled(self.storage.path(rec.key), self.settle_polls,
                                   self.settle_interval, self.executor)  # fmt: skip
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self.executor, self._finalize_sync, rec, ended_at)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("attempt %s: recording not finalized yet (%s); retried",
                        rec.attempt_id, exc)  # fmt: skip
            self._retry[rec.attempt_id] = (rec, ended_at)
            return
        except Exception:  # a bug must not leave the entry forever unexplained
            log.exception("attempt %s: recording finalize failed", rec.attempt_id)
            self._retry[rec.attempt_id] = (rec, ended_at)
            return
        # Left in place if SQL fails here: a later reconcile finalizes it again,
        # which writes nothing new for the same file.
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self.ledger.remove(rec.attempt_id)

    def _finalize_sync(self, rec: OpenRecording, ended_at: float) -> None:
        # The store keeps `reason` only when the file turns out missing or empty.
        reason = rec.failure or REASON_NO_FILE
        self.finalize(
            attempt_id=rec.attempt_id,
            key=rec.key,
            started_at=datetime.fromtimestamp(rec.started_at, UTC),
            ended_at=datetime.fromtimestamp(max(ended_at, rec.started_at), UTC),
            reason=reason,
        )

    async def retry(self) -> None:
        """Finalizes that failed (SQL away) are tried again; called by the tick."""
        for attempt_id, (rec, ended_at) in list(self._retry.items()):
            if attempt_id in self._closing:
                continue
            del self._retry[attempt_id]
            self._spawn_close(rec, ended_at)

    async def drain(self) -> None:
        """Wait for the finalizes in flight (stopping, tests, benchmarks)."""
        while self._closing:
            await asyncio.gather(*list(self._closing.values()), return_exceptions=True)

    # -- after a restart or a reconnect --------------------------------------------

    async def reconcile(self, live: Iterable[int], ended: Callable[[list[int]], Any],
                        ended_before: float | None = None) -> int:  # fmt: skip
        """Close ledger entries nobody will close: their call is not live here and
        its attempt has ended (`ended(ids)` -> {attempt_id: ended_at or None}, read
        from SQL). Another dialer's live call on another Asterisk is left alone.
        `ended_before`: only attempts that ended before then (the periodic pass leaves
        a recording its own dialer is closing right now to that dialer)."""
        live_ids = set(live) | set(self.open) | set(self._closing) | set(self._retry)
        entries = [r for r in await self.ledger.entries() if r.attempt_id not in live_ids]
        if not entries:
            return 0
        ended_at = await asyncio.to_thread(ended, [r.attempt_id for r in entries])
        closed = 0
        for rec in entries:
            at = ended_at.get(rec.attempt_id)
            if at is None or (ended_before is not None and at >= ended_before):
                continue  # still going somewhere else, or its attempt not closed yet
            # Its file, if any, is as the call left it; if there is none, say why.
            rec = replace(rec, failure=rec.failure or REASON_DIALER_RESTARTED)
            log.warning("attempt %s: recording left open by a stopped dialer; closing it",
                        rec.attempt_id)  # fmt: skip
            self._spawn_close(rec, at)
            closed += 1
        return closed
