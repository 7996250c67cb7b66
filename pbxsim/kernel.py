"""pbxsim's kernel: channels, ConfBridges, MixMonitor and the AMI events Asterisk 22
sends for each of their steps (the recorded traces in tests/fixtures/ami are the
reference), Newexten included. Its public methods are all the dialplan applications
(pbxsim/apps/), the originate machinery, FastAGI and inbound calls use.

Each channel's script runs in its own task; a hangup asked from outside (AMI,
the other Local half, the far end) sets `hangup_cause` and wakes the task,
which tears the channel down, as Asterisk's PBX thread does.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from dialer import channel_vars as cv
from dialer.ami.codec import Header
from pbxsim import scenario as sc
from pbxsim.channel import CAUSE_TEXT, STATE_UP, Bridge, Channel
from pbxsim.clock import Clock, ScaledClock
from pbxsim.recording import DEFAULT_CAP_SECONDS, FAULTS, MixMonitor

log = logging.getLogger(__name__)

EventSink = Callable[[list[Header]], None]
LocationT = tuple[str, str, int]  # context, exten, priority


class Kernel:
    def __init__(
        self,
        scenario: sc.Scenario | None = None,
        *,
        clock: Clock | None = None,
        agi_host: str = "127.0.0.1",
        agi_port: int = cv.FASTAGI_PORT,
        rng: random.Random | None = None,
        company_name: str = "cobrador",
        callback_number: str = "8005550100",
        recordings_dir: Path | None = None,
        recording_cap_seconds: float = DEFAULT_CAP_SECONDS,
    ) -> None:
        self.scenario = scenario or sc.Scenario()
        self.clock: Clock = clock or ScaledClock()
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.rng = rng or random.Random(self.scenario.seed)
        self.company_name = company_name
        self.callback_number = callback_number
        # MixMonitor (AGI EXEC or the AMI action) writes a synthetic wav at the
        # path it is given; a relative path is taken under recordings_dir, as
        # Asterisk takes it under its monitor directory (see pbxsim/recording.py).
        self.recordings_dir = recordings_dir
        self.recording_cap_seconds = recording_cap_seconds
        self.recordings: list[Path] = []
        # Test hook: COBRADOR_ATTEMPT_ID (or "*") -> "missing" | "empty".
        self.recording_faults: dict[str, str] = {}
        self.channels: dict[str, Channel] = {}  # by name
        self.bridges: dict[str, Bridge] = {}
        self.global_vars: dict[str, str] = {
            cv.AGI_HOST: agi_host,
            cv.AGI_PORT: str(agi_port),
        }
        self.unavailable_endpoints: set[str] = set()
        self.spied: dict[str, str] = {}  # spy channel uniqueid -> spied channel uniqueid
        self.event_log: list[list[Header]] | None = None  # set to [] to record
        self.calls_placed = 0
        self._sinks: set[EventSink] = set()
        self._seq = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- events ----------------------------------------------------------------

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.add(sink)

    def unsubscribe(self, sink: EventSink) -> None:
        self._sinks.discard(sink)

    def emit(self, name: str, privilege: str, headers: list[Header]) -> None:
        event = [("Event", name), ("Privilege", privilege), *headers]
        if self.event_log is not None:
            self.event_log.append(event)
        for sink in list(self._sinks):
            sink(event)

    # -- channel primitives ----------------------------------------------------

    def new_uniqueid(self) -> str:
        return f"{int(self.clock.now())}.{next(self._seq)}"

    def next_seq(self) -> int:
        """The next number of the PBX's sequence (channel name suffixes)."""
        return next(self._seq)

    def new_channel(
        self, name: str, uniqueid: str, linkedid: str, context: str, exten: str, state: int
    ) -> Channel:
        channel = Channel(
            name, uniqueid, linkedid, context, exten, state=state, created=self.clock.now()
        )
        self.channels[name] = channel
        self.emit("Newchannel", "call,all", channel.snapshot())
        return channel

    def set_var(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[name] = value
        self.emit(
            "VarSet", "dialplan,all", [*channel.snapshot(), ("Variable", name), ("Value", value)]
        )

    def get_var(self, channel: Channel | None, name: str) -> str | None:
        if channel is not None and name in channel.variables:
            return channel.variables[name]
        return self.global_vars.get(name)

    def set_state(self, channel: Channel, state: int) -> None:
        if channel.hungup or channel.state == state:
            return
        channel.state = state
        self.emit("Newstate", "call,all", channel.snapshot())

    def exten(
        self, channel: Channel, context: str, exten: str, priority: int, app: str, data: str = ""
    ) -> None:
        """The channel runs one dialplan priority (Newexten)."""
        if channel.hungup:
            return
        channel.context, channel.exten, channel.priority = context, exten, priority
        channel.application, channel.app_data = app, data
        if channel.quiet_location is not None:
            if channel.quiet_location == (context, exten, priority):
                channel.quiet_location = None
                return
            channel.quiet_location = None
        self.emit(
            "Newexten",
            "dialplan,all",
            [*channel.snapshot(), ("Extension", exten), ("Application", app), ("AppData", data)],
        )

    def set_callerid(self, channel: Channel, num: str, name: str) -> None:
        if not num and not name:
            return
        channel.caller_num, channel.caller_name = num, name
        self.emit(
            "NewCallerid",
            "call,all",
            [*channel.snapshot(), ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
        )
        channel.connected_num, channel.connected_name = num, name
        self.emit("NewConnectedLine", "call,all", channel.snapshot())

    def hangup(self, channel: Channel, cause: int = 16) -> None:
        """Emit the channel's Hangup (leaving its bridge first) and wake whoever waits on it."""
        if channel.hungup:
            return
        if channel.bridge is not None:
            self.leave_bridge(channel, "HANGUP")
        channel.hungup = True
        channel.cause = cause
        self.channels.pop(channel.name, None)
        self.emit(
            "Hangup",
            "call,all",
            [
                *channel.snapshot(),
                ("Cause", str(cause)),
                ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown")),
            ],
        )
        channel.gone.set()
        channel.interrupt.set()
        if channel.mixmonitor is not None:
            # No MixMonitorStop at hangup on Asterisk 22: the file is just closed.
            self._close_mixmonitor(channel)

    # -- MixMonitor --------------------------------------------------------------

    def start_mixmonitor(self, channel: Channel, file: str, options: str = "") -> bool:
        """MixMonitor(<file>,<options>) on a live channel; False without a file name."""
        if not file or channel.hungup:
            return False
        path = Path(file)
        if not path.is_absolute():
            path = (self.recordings_dir or Path(".")) / path
        attempt = channel.variables.get(cv.ATTEMPT_ID, "")
        fault = self.recording_faults.get(attempt) or self.recording_faults.get("*")
        current = channel.mixmonitor
        if current is not None and current.since is not None:
            current.stop(self.clock.now())  # a second MixMonitor: keep it simple, one file
        seconds = current.seconds if current is not None and "a" in options else 0.0
        channel.mixmonitor = MixMonitor(
            path, since=self.clock.now(), seconds=seconds, fault=fault if fault in FAULTS else None
        )
        self.set_var(channel, "MIXMONITOR_FILENAME", str(path))
        self.emit("MixMonitorStart", "call,all", channel.snapshot())
        return True

    def stop_mixmonitor(self, channel: Channel) -> bool:
        """StopMixMonitor: the file is closed (and stays); False when none runs."""
        monitor = channel.mixmonitor
        if monitor is None or monitor.since is None:
            return False
        self._close_mixmonitor(channel)
        self.emit("MixMonitorStop", "call,all", channel.snapshot())
        return True

    def _close_mixmonitor(self, channel: Channel) -> None:
        monitor = channel.mixmonitor
        if monitor is None or monitor.since is None:
            return
        monitor.stop(self.clock.now())
        try:
            monitor.write(self.recording_cap_seconds)
            self.recordings.append(monitor.path)
        except OSError as exc:
            log.warning("pbxsim: could not write %s: %s", monitor.path, exc)

    def request_hangup(
        self, channel: Channel, cause: int | None = None, *, announce: bool = False
    ) -> None:
        """Ask a channel to hang up; its own task does it (see module docstring).

        Without a cause (AMI Hangup without Cause) an answered channel ends with 16
        and one that never answered with 0, as on Asterisk 22.
        """
        if channel.hungup:
            return
        if cause is None:
            cause = 16 if channel.state == STATE_UP else 0
        if channel.hangup_cause is not None:
            if announce:
                self.emit("HangupRequest", "call,all", [*channel.snapshot(), ("Cause", str(cause))])
            return
        if not channel.owned and channel.peer is not None and not channel.peer.hungup:
            # Nothing runs this half yet (a ringing ;2): the hangup reaches the call
            # through the half that does.
            self.request_hangup(channel.peer, cause, announce=announce)
            return
        if announce:
            self.emit("HangupRequest", "call,all", [*channel.snapshot(), ("Cause", str(cause))])
        channel.hangup_cause = cause
        channel.interrupt.set()
        if channel.in_agi and channel.peer is not None:
            # The AGI holds this half until the script ends; the other half of the
            # Local channel stops what it plays and hangs up meanwhile.
            channel.peer.interrupt.set()

    def soft_hangup(self, channel: Channel) -> None:
        self.emit("SoftHangupRequest", "call,all", [*channel.snapshot(), ("Cause", "16")])

    def finish(self, channel: Channel, cause: int) -> None:
        """A channel's own task ends it: SoftHangupRequest, the other half asked, Hangup."""
        if channel.hungup:
            return
        if channel.bridge is not None:
            self.leave_bridge(channel, "HANGUP")
        self.soft_hangup(channel)
        peer = channel.peer
        if peer is not None and not peer.hungup:
            self.request_hangup(peer, cause, announce=True)
        self.hangup(channel, cause)

    def dialplan_hangup(self, channel: Channel, cause: int, where: LocationT) -> None:
        """The Hangup(<cause>) application."""
        self.exten(channel, *where, "Hangup", str(cause))
        self.finish(channel, cause)

    def find_channel(self, name: str) -> Channel | None:
        if name in self.channels:
            return self.channels[name]
        for channel in self.channels.values():
            if channel.uniqueid == name:
                return channel
        return None

    async def wait(self, channel: Channel, seconds: float) -> bool:
        """Sleep simulated seconds; False if a hangup or a redirect came meanwhile."""
        if channel.interrupt.is_set():
            return False
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waker = asyncio.ensure_future(channel.interrupt.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()
        return not channel.interrupt.is_set()

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pbxsim task %s failed", task.get_name(), exc_info=task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- bridges ---------------------------------------------------------------

    def join_bridge(self, channel: Channel, name: str, profile: str) -> Bridge:
        bridge = self.bridges.get(name)
        if bridge is None:
            bridge = Bridge(name, str(uuid.uuid4()))
            self.bridges[name] = bridge
            self.emit("BridgeCreate", "call,all", bridge.headers(conference=False))
            bridge.announcer = 1  # ConfBridge's CBAnn channel joins first
            self.emit("ConfbridgeStart", "call,all", bridge.headers())
        bridge.members.append(channel)
        bridge.profiles[channel] = profile
        bridge.joined[channel] = self.clock.now()
        channel.bridge = name
        channel.kicked = False
        muted = "Yes" if profile == "supervisor" else "No"
        self.emit("BridgeEnter", "call,all", [*bridge.headers(False), *channel.snapshot()])
        self.emit(
            "ConfbridgeJoin",
            "call,all",
            [*bridge.headers(), *channel.snapshot(), ("Admin", "No"), ("Muted", muted)],
        )
        return bridge

    def leave_bridge(self, channel: Channel, result: str) -> None:
        """Leave the ConfBridge, in the event order Asterisk 22 uses for each case."""
        bridge = self.bridges.get(channel.bridge or "")
        channel.bridge = None
        if bridge is None or channel not in bridge.members:
            return
        leave = [*bridge.headers(), *channel.snapshot(), ("Admin", "No")]
        last = len(bridge.members) == 1
        was_marked = bridge.profiles.get(channel) == "agent"
        bridge.members.remove(channel)
        bridge.profiles.pop(channel, None)
        bridge.joined.pop(channel, None)
        bridge_leave = [*bridge.headers(False), *channel.snapshot()]
        if channel.kicked:
            # Ended by end_marked: CONFBRIDGE_RESULT was set when the agent left.
            self.emit("ConfbridgeLeave", "call,all", leave)
            if last:
                self._end_bridge(bridge, destroy=False)
            self.emit("BridgeLeave", "call,all", bridge_leave)
            if last:
                bridge.announcer = 0
                self.emit("BridgeDestroy", "call,all", bridge.headers(conference=False))
            return
        if channel.redirect is not None:
            self.emit("ConfbridgeLeave", "call,all", leave)
            context, exten, priority = channel.redirect
            self.exten(channel, context, exten, priority, channel.application, channel.app_data)
            channel.quiet_location = channel.redirect
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
        elif last:
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
            self.emit("ConfbridgeLeave", "call,all", leave)
        else:
            self.emit("ConfbridgeLeave", "call,all", leave)
            self.emit("BridgeLeave", "call,all", bridge_leave)
            self.set_var(channel, "CONFBRIDGE_RESULT", result)
        if was_marked and not bridge.marked():
            # Debtors and supervisors have end_marked: they leave with the agent.
            for member in list(bridge.members):
                self.set_var(member, "CONFBRIDGE_RESULT", "ENDMARKED")
                member.kicked = True
                member.interrupt.set()
        if last:
            self._end_bridge(bridge, destroy=True)

    def _end_bridge(self, bridge: Bridge, destroy: bool) -> None:
        self.bridges.pop(bridge.name, None)
        self.emit("ConfbridgeEnd", "call,all", bridge.headers())
        if destroy:
            bridge.announcer = 0
            self.emit("BridgeDestroy", "call,all", bridge.headers(conference=False))

    async def conference(self, channel: Channel, name: str, profile: str) -> None:
        """ConfBridge(): stay until hung up, redirected or ended by end_marked."""
        self.join_bridge(channel, name, profile)
        await channel.interrupt.wait()
        if channel.bridge is not None and channel.hangup_cause is None:
            self.leave_bridge(channel, "HANGUP")
            if channel.redirect is None:
                channel.interrupt.clear()

    def redirect(self, channel: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: the channel leaves what it runs for that location."""
        channel.redirect = (context, exten, priority)
        channel.interrupt.set()
