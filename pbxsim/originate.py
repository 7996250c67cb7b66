"""Originate in pbxsim: the Local pair into cobrador-outbound (the `;2` half runs
sim-customers, the `;1` half runs cobrador-answer once answered) or a phone
(PJSIP/agent-7, Local/<id>@sim-agents), with the events and the OriginateResponse
Asterisk 22 sends for each outcome."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dialer import channel_vars as cv
from dialer.ami.codec import Header, Message
from pbxsim import scenario as sc
from pbxsim.apps.customers import far_end
from pbxsim.channel import CHANNEL_VARS, STATE_RINGING, STATE_UP, Channel
from pbxsim.dialplan import run_dialplan
from pbxsim.kernel import Kernel

_LOCAL = re.compile(r"^Local/(?P<exten>[^@]+)@(?P<context>[^/;]+)(?:/n)?$")
DEFAULT_ORIGINATE_TIMEOUT = 30.0
# OriginateResponse Reason as Asterisk 22 reports it for Local channels: 4 answered,
# 3 rang out (Originate Timeout), 0 for every other failure (busy, congestion...).
REASON_FAILED = 0
REASON_RINGING = 3
REASON_ANSWERED = 4


class OriginateError(ValueError):
    """The Originate action itself is unusable (Response: Error)."""


@dataclass
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int
    action_id: str | None
    channel_id: str | None
    other_channel_id: str | None
    caller_num: str
    caller_name: str
    variables: list[tuple[str, str]]
    timeout: float

    @classmethod
    def from_action(cls, action: Message) -> OriginateRequest:
        channel = action.get("Channel")
        if not channel:
            raise OriginateError("Channel not specified")
        if action.get("Application"):
            raise OriginateError("pbxsim supports Originate to Context/Exten only")
        context, exten = action.get("Context"), action.get("Exten")
        if not context or not exten:
            raise OriginateError("Context and Exten are required")
        try:
            priority = int(action.get("Priority") or "1")
            timeout = float(action.get("Timeout") or DEFAULT_ORIGINATE_TIMEOUT * 1000) / 1000
        except ValueError:
            raise OriginateError("Invalid priority or timeout") from None
        variables: list[tuple[str, str]] = []
        for raw in action.get_all("Variable"):
            for item in raw.split(","):
                name, sep, value = item.partition("=")
                if sep and name.strip():
                    variables.append((name.strip(), value))
        caller_num, caller_name = _parse_callerid(action.get("CallerID") or "")
        return cls(
            channel,
            context,
            exten,
            priority,
            action.action_id,
            action.get("ChannelId"),
            action.get("OtherChannelId"),
            caller_num,
            caller_name,
            variables,
            timeout,
        )


def _parse_callerid(raw: str) -> tuple[str, str]:
    match = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', raw)
    if match:
        return match.group(2), match.group(1)
    return raw.strip(), ""


def plan_exten(plan: sc.CustomerPlan) -> str:
    """The sim-customers extension (b<NNN>) that produces this plan on real Asterisk."""
    ring = min(99, round(plan.ring_seconds))
    return {
        sc.HUMAN: f"b1{ring:02d}",
        sc.MACHINE: f"b2{ring:02d}",
        sc.QUICK_HANGUP: f"b7{ring:02d}",
        sc.BUSY: "b301",
        sc.NO_ANSWER: "b401",
        sc.CONGESTION: "b501",
        sc.DECLINED: "b801",
    }.get(plan.behaviour, "b601")


def start_originate(pbx: Kernel, request: OriginateRequest,
                    done: Callable[[bool], None] | None = None) -> None:  # fmt: skip
    """Start an Originate in the background (the action's reply is the caller's job)."""
    pbx.spawn(_originate(pbx, request, done), f"originate-{request.channel_id}")


def _originate_response(
    pbx: Kernel, request: OriginateRequest, channel: Channel, success: bool, reason: int
) -> None:
    headers: list[Header] = []
    if request.action_id:
        headers.append(("ActionID", request.action_id))
    headers += [
        ("Response", "Success" if success else "Failure"),
        ("Channel", request.channel),
        ("Context", request.context),
        ("Exten", request.exten),
        ("Application", ""),
        ("Data", ""),
        ("Reason", str(reason)),
        ("Uniqueid", channel.uniqueid),
        ("CallerIDNum", request.caller_num or "<unknown>"),
        ("CallerIDName", request.caller_name or "<unknown>"),
    ]
    if success:
        for name in CHANNEL_VARS:
            value = channel.variables.get(name, "")
            headers.append((f"ChanVariable({channel.name})", f"{name}={value}"))
    pbx.emit("OriginateResponse", "call,all", headers)


def _dial_end(pbx: Kernel, dest: Channel, status: str) -> None:
    pbx.emit("DialEnd", "call,all", [*dest.snapshot("Dest"), ("DialStatus", status)])


async def _originate(
    pbx: Kernel, request: OriginateRequest, done: Callable[[bool], None] | None
) -> None:
    local = _LOCAL.match(request.channel)
    if local is not None:
        one, two = _local_pair(pbx, request, local["exten"], local["context"])
        if local["context"] == cv.CONTEXT_OUTBOUND:
            answered = await _customer_leg(pbx, request, one, two)
        else:
            answered = await _phone_leg(pbx, request, one, two)
    else:
        one = _endpoint(pbx, request)
        answered = await _phone_leg(pbx, request, one, None)
    if done is not None:
        done(answered)
    if answered:
        await run_dialplan(pbx, one, request.context, request.exten, request.priority)


def _local_pair(
    pbx: Kernel, request: OriginateRequest, exten: str, context: str
) -> tuple[Channel, Channel]:
    seq = pbx.next_seq()
    base = f"Local/{exten}@{context}-{seq:08x}"
    uid = request.channel_id or pbx.new_uniqueid()
    uid2 = request.other_channel_id or f"{uid};2"
    one = pbx.new_channel(f"{base};1", uid, uid, context, exten, 0)
    two = pbx.new_channel(f"{base};2", uid2, uid, context, exten, 4)
    one.peer, two.peer = two, one
    one.owned = True  # the originate task runs ;1 from now on
    pbx.exten(one, context, exten, 1, "AppDial2", "(Outgoing Line)")
    # Asterisk keeps channel variables newest-first, so the VarSets on ;1 come
    # out reversed; the copies on ;2 come in list order.
    for name, value in reversed(request.variables):
        pbx.set_var(one, name, value)
    pbx.set_callerid(one, request.caller_num, request.caller_name)
    for name, value in request.variables:
        pbx.set_var(two, name, value)
    pbx.set_callerid(two, request.caller_num, request.caller_name)
    pbx.emit(
        "LocalBridge",
        "call,all",
        [
            *one.snapshot("LocalOne"),
            *two.snapshot("LocalTwo"),
            ("Context", context),
            ("Exten", exten),
            ("LocalOptimization", "Yes"),
        ],
    )
    pbx.emit("DialBegin", "call,all", [*one.snapshot("Dest"), ("DialString", f"{exten}@{context}")])
    return one, two


def _endpoint(pbx: Kernel, request: OriginateRequest) -> Channel:
    """A phone (PJSIP/agent-7): one channel."""
    uid = request.channel_id or pbx.new_uniqueid()
    name = f"{request.channel}-{pbx.next_seq():08x}"
    channel = pbx.new_channel(name, uid, uid, request.context, request.exten, 0)
    channel.owned = True
    for var, value in reversed(request.variables):
        pbx.set_var(channel, var, value)
    pbx.set_callerid(channel, request.caller_num, request.caller_name)
    pbx.emit(
        "DialBegin",
        "call,all",
        [*channel.snapshot("Dest"), ("DialString", request.channel.split("/", 1)[-1])],
    )
    return channel


def _answered(pbx: Kernel, request: OriginateRequest, one: Channel, two: Channel | None) -> None:
    _originate_response(pbx, request, one, True, REASON_ANSWERED)
    if two is not None:
        pbx.set_state(two, STATE_UP)
    pbx.set_state(one, STATE_UP)
    _dial_end(pbx, one, "ANSWER")


async def _phone_leg(
    pbx: Kernel, request: OriginateRequest, one: Channel, two: Channel | None
) -> bool:
    """An agent's phone (or Local/<id>@sim-agents): answers after a moment and waits."""
    if request.channel in pbx.unavailable_endpoints:
        await pbx.wait(one, pbx.scenario.agent_answer_seconds)
        _dial_end(pbx, one, "CHANUNAVAIL")
        if two is not None:
            pbx.hangup(two, 20)
        pbx.hangup(one, 20)
        _originate_response(pbx, request, one, False, REASON_FAILED)
        return False
    if two is None:
        pbx.set_state(one, STATE_RINGING)
    if not await pbx.wait(one, pbx.scenario.agent_answer_seconds):
        _fail_ringing(pbx, request, one, two)
        return False
    if two is not None:
        pbx.exten(two, two.context, two.exten, 1, "Answer")
    _answered(pbx, request, one, two)
    if two is not None:
        pbx.spawn(_phone_wait(pbx, two), f"phone-{two.uniqueid}")
    return True


async def _phone_wait(pbx: Kernel, two: Channel) -> None:
    two.owned = True
    pbx.exten(two, two.context, two.exten, 2, "Wait", "86400")
    await pbx.wait(two, 86400)
    if not two.hungup:
        pbx.finish(two, two.hangup_cause if two.hangup_cause is not None else 16)


def _fail_ringing(
    pbx: Kernel, request: OriginateRequest, one: Channel, two: Channel | None
) -> None:
    """Hung up (AMI Hangup) before answer: the originate fails."""
    cause = one.hangup_cause if one.hangup_cause is not None else 0
    _dial_end(pbx, one, "NOANSWER")
    if two is not None:
        pbx.emit("HangupRequest", "call,all", [*two.snapshot(), ("Cause", str(cause))])
        pbx.soft_hangup(two)
        pbx.hangup(two, cause)
    _originate_response(pbx, request, one, False, REASON_FAILED)
    pbx.hangup(one, cause)


async def _customer_leg(pbx: Kernel, request: OriginateRequest, one: Channel, two: Channel) -> bool:
    """The ;2 half in sim-customers; returns True once the far end answered."""
    number = two.exten
    plan = pbx.scenario.plan(number, pbx.rng)
    one.behaviour = two.behaviour = plan.behaviour
    attempt = two.variables.get(cv.ATTEMPT_ID, "")
    by_suffix = pbx.scenario.suffix_rules and number not in pbx.scenario.numbers
    b = f"b{number[-3:]}" if by_suffix else plan_exten(plan)
    pbx.exten(
        two,
        cv.CONTEXT_OUTBOUND,
        number,
        1,
        "NoOp",
        f"cobrador-outbound attempt={attempt} route=sim",
    )
    pbx.exten(two, cv.CONTEXT_OUTBOUND, number, 2, "GotoIf", f"1?sim-customers,{number},1")
    pbx.exten(
        two,
        cv.CONTEXT_SIM_CUSTOMERS,
        number,
        1,
        "NoOp",
        f"sim-customers behaviour={number[-3:]}",
    )
    pbx.exten(two, cv.CONTEXT_SIM_CUSTOMERS, number, 2, "Goto", f"{b},1")
    failures = {
        sc.BUSY: (17, "BUSY"),
        sc.CONGESTION: (34, "CONGESTION"),
        sc.UNALLOCATED: (1, "NOANSWER"),
        # SIP 603 Decline: Q.850 21; app_dial counts a cause it does not name as no channel.
        sc.DECLINED: (21, "CHANUNAVAIL"),
    }
    if plan.behaviour in failures:
        cause, status = failures[plan.behaviour]
        await pbx.wait(one, plan.ring_seconds)
        pbx.exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 1, "Hangup", str(cause))
        pbx.soft_hangup(two)
        pbx.emit("HangupRequest", "call,all", [*one.snapshot(), ("Cause", str(cause))])
        pbx.hangup(two, cause)
        _dial_end(pbx, one, status)
        pbx.hangup(one, cause)
        _originate_response(pbx, request, one, False, REASON_FAILED)
        return False

    pbx.exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 1, "Ringing")
    pbx.set_state(one, STATE_RINGING)
    answers = (
        plan.behaviour in (sc.HUMAN, sc.MACHINE, sc.QUICK_HANGUP)
        and plan.ring_seconds < request.timeout
    )
    pbx.exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 2, "Wait", b[2:] if answers else "86400")
    pbx.emit("DialState", "call,all", [*one.snapshot("Dest"), ("DialStatus", "RINGING")])
    if not await pbx.wait(one, plan.ring_seconds if answers else request.timeout):
        _fail_ringing(pbx, request, one, two)
        return False
    if not answers:
        # Originate's Timeout ran out while ringing.
        pbx.emit("HangupRequest", "call,all", [*two.snapshot(), ("Cause", "19")])
        pbx.soft_hangup(two)
        pbx.hangup(two, 19)
        _originate_response(pbx, request, one, False, REASON_RINGING)
        pbx.hangup(one, 19)
        return False
    pbx.exten(two, cv.CONTEXT_SIM_CUSTOMERS, b, 3, "Answer")
    _answered(pbx, request, one, two)
    pbx.spawn(far_end(pbx, two, plan, b), f"customer-{two.uniqueid}")
    return True
