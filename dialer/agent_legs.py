"""The agents' nailed-up legs, placed by the dialer.

When an agent logs in (or goes ready without a live leg) the dialer calls the
agent's phone once into context cobrador-agent (their ConfBridge agent-<id>).
When that leg hangs up (tab closed, network lost, phone unreachable) the agent
goes ``no_audio``: only ``ready`` agents can be reserved, so no debtor is
bridged to a dead leg. A reconnect (the console's button) calls the phone
again, and so does the dialer itself when Asterisk restarted (legs found gone
when AMI comes back are called at once, and again when the phone registers);
once it answers the agent is back where they were: ready stays ready,
paused stays paused with the same reason, and an agent who was in a call comes
back paused (``reconexión``) to record its outcome first.

Each agent's leg is a small hash in Redis (``cobrador:agent-leg:{<id>}``) so
every dialer process and the console see it; a short lock makes only one
dialer call a given agent. An event changes the leg only when it names that
very call (its ChannelId, or the Originate's ActionID, which is the same id):
a late event of an agent's older call must never drop the newer one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from dialer import channel_vars as cv
from dialer.agent_state import AgentState, AgentStateError, AgentStates
from dialer.ami import AMIClient, Message
from dialer.ami.errors import AMIError

log = logging.getLogger(__name__)

LEG_PREFIX = "cobrador-leg-"
DIALING, UP, DOWN = "dialing", "up", "down"
RECONNECT_REASON = "reconexión"
# ContactStatus meaning the phone is gone (its registration removed: a closed
# tab's WebSocket). Not "Unreachable": a busy browser may miss a qualify.
LOST_CONTACT = ("Removed",)
# ContactStatus meaning the phone registered (again): after an Asterisk restart a
# leg that Asterisk dropped is called back as soon as the phone is back.
BACK_CONTACT = ("Created", "Reachable")
ANSWER_TIMEOUT_MS = 30_000
CALL_LOCK_MS = 5_000
# A leg still dialing after this long with no channel in Asterisk is lost.
DIALING_GRACE_SECONDS = 60.0
# How long a dead dialer's leg, once called again, is not called again for it.
RETIRED_MS = int(2 * DIALING_GRACE_SECONDS * 1000)
# The leg's status, set only while the hash still holds the call named (ARGV[1]):
# another call of the agent's placed meanwhile keeps its own.
_SET_STATUS_LUA = """
if redis.call('HGET', KEYS[1], 'channel_id') ~= ARGV[1] then return 'other' end
if redis.call('HGET', KEYS[1], 'status') == ARGV[2] then return 'same' end
redis.call('HSET', KEYS[1], 'status', ARGV[2])
return 'set'
"""

PhoneOf = Callable[[int], Awaitable[str | None]]
# (campaign, owners) -> those of the owners known dead: their heartbeat gone
# (dialer/liveness.py Liveness.silent); none when it cannot be told.
SilentOwners = Callable[[str, set[str]], Awaitable[set[str]]]


def leg_key(agent_id: int) -> str:
    return f"cobrador:agent-leg:{{{agent_id}}}"


def _lock_key(agent_id: int) -> str:
    return f"cobrador:agent-leg-call:{{{agent_id}}}"


def _retired_key(channel_id: str) -> str:
    """Taken by the one that calls again a leg left by a dead dialer (_call_again)."""
    return f"cobrador:agent-leg-retired:{{{channel_id}}}"


def _agent_of_leg_key(key: bytes | str) -> int | None:
    text = key.decode() if isinstance(key, bytes) else key
    head, _, tail = text.partition(leg_key(0).replace("{0}", ""))
    digits = tail.strip("{}")
    return int(digits) if not head and digits.isdigit() else None


def _seconds(duration: str) -> int:
    """CoreShowChannel's Duration, HH:MM:SS; an unreadable one sorts last."""
    parts = duration.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return 1 << 62
    hours, minutes, seconds = (int(p) for p in parts)
    return hours * 3600 + minutes * 60 + seconds


def leg_channel_id(agent_id: int, serial: str) -> str:
    """ChannelId of one call to the agent's phone (a new one per call)."""
    return f"{LEG_PREFIX}{agent_id}-{serial}"


def agent_of_leg(uniqueid: str) -> int | None:
    """The agent whose leg this Uniqueid names (the phone's channel or a Local ;1)."""
    if not uniqueid.startswith(LEG_PREFIX) or ";" in uniqueid:
        return None
    head = uniqueid[len(LEG_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def leg_named(event: Message) -> str:
    """The leg (its ChannelId) an AMI event is about, or "". Asterisk 22 reports a failed
    Originate under the ChannelId it was given even when the phone's channel never came
    up (test_originate_response_asterisk.py); an OriginateResponse that names none
    (``<null>``, as Asterisk writes a missing channel) is known by its ActionID, which
    is the leg's ChannelId too (_call): never by the phone's endpoint, which the
    agent's older calls share."""
    uid = event.get("Uniqueid") or ""
    if agent_of_leg(uid) is not None:
        return uid
    action_id = event.get("ActionID") or ""
    if event.get("Event") == "OriginateResponse" and agent_of_leg(action_id) is not None:
        return action_id
    return ""


def spy_group(agent_id: int) -> str:
    """SPYGROUP of the agent's leg: what ChanSpy's g() option matches (cobrador-spy)."""
    return f"agent{agent_id}"


def restore_after_drop(state: AgentState, reason: str) -> tuple[AgentState, str]:
    """Where a reconnect brings an agent whose leg dropped while in `state`."""
    if state is AgentState.ready:
        return AgentState.ready, ""
    if state in (AgentState.paused, AgentState.pausing):
        # A pause asked and not begun: the calls it waited for are over by the reconnect.
        return AgentState.paused, reason or RECONNECT_REASON
    return AgentState.paused, RECONNECT_REASON


@dataclass(frozen=True)
class Leg:
    agent_id: int
    status: str  # dialing | up | down
    channel_id: str
    endpoint: str
    since: float
    restore_state: str
    restore_reason: str
    owner: str = ""  # the dialer that placed it
    pbx: str = ""  # the Asterisk it was placed through

    @property
    def live(self) -> bool:
        return self.status == UP


def _decoded(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


def _text(raw: Mapping[Any, Any], name: str) -> str:
    value = raw.get(name.encode(), raw.get(name, b""))
    return value.decode() if isinstance(value, bytes) else str(value or "")


class AgentLegs:
    """Places, watches and re-places agent legs; protocol-free decisions."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        ami: AMIClient,
        states: AgentStates,
        phone_of: PhoneOf,
        campaigns: Collection[str],
        owner: str,
        clock: Callable[[], float] = time.time,
        pbx: str = "",
        silent_owners: SilentOwners | None = None,
    ) -> None:
        self.redis = redis
        self.ami = ami
        self.states = states
        self.phone_of = phone_of
        self.campaigns = set(campaigns)
        self.owner = owner
        self.clock = clock
        self.pbx = pbx
        self.silent_owners = silent_owners
        self._set_status = redis.register_script(_SET_STATUS_LUA)
        # Endpoint -> agent of the legs placed here: a phone whose registration
        # goes away (a browser tab closed: its WebSocket, hence its contact,
        # is gone) leaves a channel Asterisk would keep up; we hang it up.
        self._placed: dict[str, int] = {}
        # Agents whose leg Asterisk dropped (a restart): called again when the phone is back.
        self._lost_by_pbx: set[int] = set()

    # -- reading ----------------------------------------------------------------

    async def get(self, agent_id: int) -> Leg | None:
        raw = await self.redis.hgetall(leg_key(agent_id))
        if not raw:
            return None
        return Leg(
            agent_id=agent_id,
            status=_text(raw, "status") or DOWN,
            channel_id=_text(raw, "channel_id"),
            endpoint=_text(raw, "endpoint"),
            since=float(_text(raw, "since") or 0.0),
            restore_state=_text(raw, "restore_state"),
            restore_reason=_text(raw, "restore_reason"),
            owner=_text(raw, "owner"),
            pbx=_text(raw, "pbx"),
        )

    def serves(self, campaign: str) -> bool:
        return campaign in self.campaigns

    # -- agent-state events -----------------------------------------------------

    async def on_agent_event(self, event: Mapping[str, Any]) -> None:
        try:
            agent_id = int(event["agent_id"])
            state = AgentState(str(event["state"]))
        except (KeyError, TypeError, ValueError):
            return
        if not self.serves(str(event.get("campaign") or "")):
            return
        if state is AgentState.logged_out:
            await self.hang_up(agent_id)
            return
        leg = await self.get(agent_id)
        if state is AgentState.ready and (leg is None or not leg.live):
            # Ready needs a live leg: hold the agent until the phone answers.
            await self._hold(agent_id, AgentState.ready, "")
            if leg is None or leg.status == DOWN:
                await self._call(agent_id)
        elif state is AgentState.paused and (leg is None or not leg.channel_id):
            await self._call(agent_id)  # a login: the leg comes up while paused

    async def usable(self, agent_id: int) -> bool:
        """For the dial loop, right after reserving: False (and the agent held in
        no_audio) when the agent's leg is not up."""
        leg = await self.get(agent_id)
        if leg is not None and leg.live:
            return True
        log.warning("agent %s reserved without a live leg: held in no_audio", agent_id)
        # Back where they were before the reservation: ready, or the pause they asked.
        after = (await self.states.get(agent_id)).pause_after
        await self._hold(agent_id, AgentState.paused if after else AgentState.ready, after)
        if leg is None:  # never had one; a dropped leg waits for the agent's reconnect
            await self._call(agent_id)
        return False

    async def reconnect(self, agent_id: int) -> bool:
        """The console's reconnect: call the agent's phone again unless a leg is up
        or ringing. False when the agent is not logged in to a campaign served here."""
        snap = await self.states.get(agent_id)
        if snap.state is AgentState.logged_out or not self.serves(snap.campaign):
            return False
        leg = await self.get(agent_id)
        if leg is not None and leg.live:
            await self._restore(agent_id)
            return True
        if leg is not None and leg.status == DIALING and not self._stale(leg):
            # Left dialing by a dialer known dead, with no channel in Asterisk: no
            # event of it will ever come, so the phone is called again now, not once
            # the grace is out (reconcile's and sweep's verdict).
            if await self._owner_dead(snap.campaign, leg) and not await self._rings(leg):
                await self._call_again(leg)
            return True  # else the phone is ringing
        # A leg left dialing past its grace (its originate timed out long ago, the
        # dialer that placed it stopped before any event came back) is called again.
        await self._call(agent_id)
        return True

    async def _rings(self, leg: Leg) -> bool:
        """Asterisk still has the leg's channel (or cannot say: kept, never dialed twice)."""
        try:
            _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
        except AMIError:
            return True
        return leg.channel_id in {c.get("Uniqueid") for c in channels}

    def _stale(self, leg: Leg) -> bool:
        return self.clock() - leg.since > DIALING_GRACE_SECONDS

    async def hang_up(self, agent_id: int) -> None:
        """The agent logged out: forget the leg and hang it up."""
        leg = await self.get(agent_id)
        await self.redis.delete(leg_key(agent_id))
        if leg is not None and leg.status != DOWN and leg.channel_id:
            with contextlib.suppress(AMIError):
                await self.ami.send_action({"Action": "Hangup", "Channel": leg.channel_id})

    # -- AMI events ---------------------------------------------------------------

    async def on_ami_event(self, event: Message) -> None:
        name = event.get("Event")
        if name == "ContactStatus":
            await self._contact_status(event)
            return
        uid = leg_named(event)
        agent_id = agent_of_leg(uid)
        if agent_id is None:
            return
        leg = await self.get(agent_id)
        if leg is None or leg.channel_id != uid:
            return  # an older leg of this agent, or one forgotten at logout
        if name == "Newstate" and event.get("ChannelState") == "6":
            await self._up(leg)
        elif name == "Hangup":
            await self._dropped(leg, f"hangup cause {event.get('Cause') or '?'}")
        elif name == "OriginateResponse" and event.get("Response") == "Failure":
            await self._dropped(leg, f"originate failed, reason {event.get('Reason') or '?'}")

    async def _contact_status(self, event: Message) -> None:
        status = event.get("ContactStatus")
        agent_id = self._placed.get(f"PJSIP/{event.get('AOR') or ''}")
        if agent_id is None:
            return
        if status in BACK_CONTACT:
            await self._phone_back(agent_id)
            return
        if status not in LOST_CONTACT:
            return
        leg = await self.get(agent_id)
        if leg is None or leg.status == DOWN or not leg.channel_id:
            return
        log.warning("agent %s: phone registration %s; hanging up its leg",
                    agent_id, (event.get("ContactStatus") or "").lower())  # fmt: skip
        with contextlib.suppress(AMIError):
            await self.ami.send_action({"Action": "Hangup", "Channel": leg.channel_id})

    async def reconcile(self, channels: list[Message]) -> None:
        """After (re)connecting to Asterisk: legs whose channel is gone dropped
        while we were away; logged-in agents with no leg get one; legs of agents
        no longer logged in forgotten."""
        live = {c.get("Uniqueid") for c in channels}
        now = self.clock()
        await self._forget_legs_of_logged_out(live, now)
        for campaign in sorted(self.campaigns):
            for snap in await self.states.list(campaign):
                leg = await self.get(snap.agent_id)
                if leg is None:
                    await self.on_agent_event(snap.as_dict())
                elif leg.status == UP and leg.channel_id not in live:
                    # Asterisk restarted (or hung the leg up while we were away): call
                    # the phone again at once; once it answers the agent is back where
                    # they were. A phone not registered yet is called when it is.
                    await self._dropped(leg, "gone while AMI was away")
                    self._lost_by_pbx.add(snap.agent_id)
                    await self._call(snap.agent_id)
                elif leg.status == DIALING and leg.channel_id not in live:
                    if await self._owner_dead(snap.campaign, leg):
                        await self._call_again(leg)
                    elif now - leg.since > DIALING_GRACE_SECONDS:
                        await self._dropped(leg, "never answered")

    async def sweep(self) -> None:
        """Every few seconds: a leg left dialing by a dialer known dead since (its
        heartbeat gone; at start the verdict waits for this dialer's own beats) is
        called again once Asterisk has no channel of it, not after its grace."""
        orphans = [
            leg
            for campaign in sorted(self.campaigns)
            for snap in await self.states.list(campaign)
            if (leg := await self.get(snap.agent_id)) is not None
            and leg.status == DIALING
            and await self._owner_dead(campaign, leg)
        ]
        if not orphans:
            return
        _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
        live = {c.get("Uniqueid") for c in channels}
        for leg in orphans:
            again = await self.get(leg.agent_id)
            if again == leg and leg.channel_id not in live:
                await self._call_again(leg)

    async def _owner_dead(self, campaign: str, leg: Leg) -> bool:
        """The dialer that placed this dialing leg is known dead. Only a leg placed
        through this Asterisk is judged (another's channels are out of sight), and
        fail closed: no verdict (a young dialer, Redis unsure) keeps the grace."""
        if (self.silent_owners is None or not self.pbx or leg.pbx != self.pbx
                or not leg.owner or leg.owner == self.owner):  # fmt: skip
            return False
        return leg.owner in await self.silent_owners(campaign, {leg.owner})

    async def _call_again(self, leg: Leg) -> None:
        """Its dialer died while the phone rang and Asterisk has no channel of it: no
        event will ever come. Called again at once, as a leg Asterisk dropped; once:
        reconcile, the sweep and a reconnect (here or in another dialer) may judge the
        same leg at the same time, and the later one would drop the leg the first just
        placed and ring the phone twice."""
        if not await self.redis.set(_retired_key(leg.channel_id), self.owner, nx=True,
                                    px=RETIRED_MS):  # fmt: skip
            return
        await self._dropped(leg, f"its dialer {leg.owner} died while it rang")
        await self._call(leg.agent_id)

    async def _forget_legs_of_logged_out(self, live: set[str | None], now: float) -> None:
        """An agent who logged out while no dialer ran (the logout's event, pub/sub,
        reached nobody) leaves their leg in Redis, often UP on a channel Asterisk
        dropped meanwhile. Trusted at the next login it would make them ready with
        no phone, and debtors would be bridged into an empty conference. So a leg
        of an agent not logged in is forgotten (and hung up if Asterisk still has
        it); a login's call placed just now (dialing, inside its grace) is left."""
        async for key in self.redis.scan_iter(match=leg_key(0).replace("{0}", "*"), count=500):
            agent_id = _agent_of_leg_key(key)
            if agent_id is None:
                continue
            if (await self.states.get(agent_id)).state is not AgentState.logged_out:
                continue
            leg = await self.get(agent_id)
            if leg is None or (leg.status == DIALING and now - leg.since <= DIALING_GRACE_SECONDS):
                continue
            await self.redis.delete(leg_key(agent_id))
            log.info("agent %s: not logged in; leg left by an earlier run forgotten", agent_id)
            if leg.status != DOWN and leg.channel_id in live:
                with contextlib.suppress(AMIError):
                    await self.ami.send_action({"Action": "Hangup", "Channel": leg.channel_id})

    async def _phone_back(self, agent_id: int) -> None:
        """The phone registered again: a leg Asterisk dropped (not the agent) is
        called again, if the agent still waits in no_audio without a leg ringing."""
        if agent_id not in self._lost_by_pbx:
            return
        leg = await self.get(agent_id)
        snap = await self.states.get(agent_id)
        if leg is None or leg.status != DOWN or snap.state is not AgentState.no_audio:
            self._lost_by_pbx.discard(agent_id)
            return
        log.info("agent %s: phone registered again; calling its leg", agent_id)
        await self._call(agent_id)

    # -- steps -------------------------------------------------------------------

    async def _hold(self, agent_id: int, state: AgentState, reason: str) -> None:
        """No audio until the leg is up, then back to `state` (with `reason`). The leg
        may come up while this runs (its AMI event is handled beside the agent events):
        read again after, so that this hold or the leg's `_up` sees the other's write
        and restores the agent (written first here, read first there). A hold that
        read the leg ringing just before it came up left the agent in no_audio with a
        live leg, never offered a call (the demo's bots, logging in as it started)."""
        await self.redis.hset(
            leg_key(agent_id), mapping={"restore_state": state.value, "restore_reason": reason}
        )
        with contextlib.suppress(AgentStateError):
            await self.states.no_audio(agent_id)
        leg = await self.get(agent_id)
        if leg is not None and leg.live:
            await self._restore(agent_id)

    async def _call(self, agent_id: int) -> None:
        if not await self.redis.set(_lock_key(agent_id), self.owner, nx=True, px=CALL_LOCK_MS):
            return  # another dialer is calling this phone right now
        channel = await self.phone_of(agent_id)
        if channel is None:
            log.warning("agent %s has no usable phone endpoint; no leg placed", agent_id)
            return
        known = await self.get(agent_id)
        if (known is None or not known.channel_id) and await self._adopt(agent_id, channel):
            return
        channel_id = leg_channel_id(agent_id, uuid.uuid4().hex[:10])
        await self.redis.hset(
            leg_key(agent_id),
            mapping={"status": DIALING, "channel_id": channel_id, "endpoint": channel,
                     "owner": self.owner, "pbx": self.pbx, "since": repr(self.clock())},
        )  # fmt: skip
        self._placed[channel] = agent_id
        action = {
            "Action": "Originate",
            # Echoed by its OriginateResponse, also when it names no channel (leg_named).
            "ActionID": channel_id,
            "Channel": channel,
            "Context": cv.CONTEXT_AGENT,
            "Exten": "s",
            "Priority": 1,
            "Async": "true",
            "Timeout": ANSWER_TIMEOUT_MS,
            "ChannelId": channel_id,
            "CallerID": '"cobrador" <cobrador>',
            "Variable": f"{cv.AGENT_ID}={agent_id},SPYGROUP={spy_group(agent_id)}",
        }
        try:
            await self.ami.send_action(action)
        except AMIError as exc:
            # Never re-sent: the phone may be ringing; its events still count.
            log.warning("agent %s: leg originate failed or uncertain (%s)", agent_id, exc)
            leg = await self.get(agent_id)
            if leg is not None:
                await self._dropped(leg, "originate not accepted")
            return
        log.info("agent %s: calling %s for the nailed-up leg", agent_id, channel)

    async def _adopt(self, agent_id: int, endpoint: str) -> bool:
        """Redis lost the leg (a flush, an empty failover) while Asterisk kept it up.
        Called again, the agent's phone, still in that call, refuses a second one
        (the browser phone answers 486: one leg per agent) and the agent would sit
        without audio, a reconnect refused the same way. So a leg this agent has up
        in Asterisk is taken back instead (the newest; any other hung up)."""
        try:
            _, channels = await self.ami.send_list_action({"Action": "CoreShowChannels"})
        except AMIError:
            return False
        mine = [c for c in channels
                if agent_of_leg(c.get("Uniqueid") or "") == agent_id
                and c.get("ChannelState") == "6"]  # fmt: skip
        if not mine:
            return False
        mine.sort(key=lambda c: _seconds(c.get("Duration") or ""))
        keep, *others = mine
        for other in others:
            with contextlib.suppress(AMIError):
                await self.ami.send_action({"Action": "Hangup", "Channel": other.get("Uniqueid")})
        await self.redis.hset(
            leg_key(agent_id),
            mapping={"status": UP, "channel_id": keep.get("Uniqueid") or "", "endpoint": endpoint,
                     "owner": self.owner, "pbx": self.pbx, "since": repr(self.clock())},
        )  # fmt: skip
        self._placed[endpoint] = agent_id
        log.warning("agent %s: leg found up in Asterisk with no record of it (Redis lost it); "
                    "taken back", agent_id)  # fmt: skip
        await self._restore(agent_id)
        return True

    async def _status(self, leg: Leg, status: str) -> str:
        """The leg's status set to `status` if the agent's leg is still this call, read
        and written in one step: a call placed since (by any dialer, or the console's
        reconnect) keeps its own. 'set', 'same' (already so) or 'other' (another call)."""
        done = await self._set_status(keys=[leg_key(leg.agent_id)], args=[leg.channel_id, status])
        return _decoded(done)

    async def _up(self, leg: Leg) -> None:
        if await self._status(leg, UP) == "other":
            return
        self._lost_by_pbx.discard(leg.agent_id)
        log.info("agent %s: leg up", leg.agent_id)
        await self._restore(leg.agent_id)

    async def _restore(self, agent_id: int) -> None:
        """Back to the state before the drop, if the agent is still waiting in no_audio.
        Where to is read now, not from a leg read earlier: a hold written since (the
        agent went ready while the leg rang) would otherwise be restored as a pause.
        Only from no_audio, once (AgentStates.out_of_no_audio)."""
        snap = await self.states.get(agent_id)
        if snap.state is not AgentState.no_audio:
            return
        state, reason = (
            _decoded(v) for v in await self.redis.hmget(leg_key(agent_id), "restore_state", "restore_reason")
        )  # fmt: skip
        try:
            if state == AgentState.ready.value:
                await self.states.out_of_no_audio(agent_id, AgentState.ready)
            else:
                await self.states.out_of_no_audio(
                    agent_id, AgentState.paused, reason or RECONNECT_REASON
                )
        except AgentStateError:
            return  # restored by the other, or moved on meanwhile
        await self.redis.hdel(leg_key(agent_id), "restore_state", "restore_reason")

    async def _dropped(self, leg: Leg, why: str) -> None:
        """This call of the agent's is over. Nothing when it already was, or when the
        agent's leg is another call by now (this one's late Hangup or failed
        OriginateResponse must not drop the newer call, nor free its lock)."""
        if leg.status == DOWN or await self._status(leg, DOWN) != "set":
            return
        await self.redis.delete(_lock_key(leg.agent_id))  # a reconnect may call at once
        snap = await self.states.get(leg.agent_id)
        if snap.state is AgentState.logged_out:
            await self.redis.delete(leg_key(leg.agent_id))
            return
        if snap.state is not AgentState.no_audio:
            state, reason = restore_after_drop(snap.state, snap.reason)
            await self._hold(leg.agent_id, state, reason)
        log.warning("agent %s: leg dropped (%s); agent has no audio", leg.agent_id, why)
