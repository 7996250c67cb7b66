"""sim-customers: the far end of a debtor's call once it answered (a person's
greeting and talk, a machine's message, a quick hang-up), as extensions.conf's
b<NNN> extensions play it on real Asterisk."""

from __future__ import annotations

from dialer import channel_vars as cv
from pbxsim import scenario as sc
from pbxsim.channel import Channel
from pbxsim.kernel import Kernel


async def far_end(pbx: Kernel, two: Channel, plan: sc.CustomerPlan, b: str) -> None:
    """The person or machine after answering: a greeting, then `talk_seconds` of
    MusicOnHold (SIM_TALK_SECONDS / SIM_MACHINE_SECONDS), then hangs up."""
    two.owned = True
    ctx = cv.CONTEXT_SIM_CUSTOMERS
    if plan.behaviour == sc.MACHINE:
        greeting = [("vm-intro&vm-theperson&vm-isunavail", 4.5), ("beep", 0.5)]
    elif plan.behaviour == sc.QUICK_HANGUP:
        greeting = [("hello", 0.6)]
    else:
        greeting = [("hello", 0.6), ("silence/2", 2.0)]

    def stopped_by_peer() -> bool:
        # The ;1 half was hung up but the AGI still holds it: Asterisk stops what
        # this half plays and lets its dialplan run on to Hangup().
        peer = two.peer
        return (
            two.hangup_cause is None
            and peer is not None
            and peer.hangup_cause is not None
            and not peer.hungup
        )

    ok = True
    for priority, (sound, seconds) in enumerate(greeting, start=4):
        pbx.exten(two, ctx, b, priority, "Playback", sound)
        ok = await pbx.wait(two, seconds)
        if two.hungup:
            return
        pbx.set_var(two, "PLAYBACKSTATUS", "SUCCESS")
        if not ok and not stopped_by_peer():
            break
    else:
        if plan.behaviour == sc.QUICK_HANGUP:  # hangs up right after "hello"
            pbx.dialplan_hangup(two, 16, (ctx, b, 5))
            return
        pbx.exten(two, ctx, b, 6, "MusicOnHold", f"default,{round(plan.talk_seconds)}")
        pbx.emit("MusicOnHoldStart", "call,all", [*two.snapshot(), ("Class", "default")])
        ok = await pbx.wait(two, plan.talk_seconds)
        if not two.hungup:
            pbx.emit("MusicOnHoldStop", "call,all", two.snapshot())
    if two.hungup:
        return
    if ok or stopped_by_peer():
        pbx.dialplan_hangup(two, 16, (ctx, b, 7))
    else:
        pbx.finish(two, two.hangup_cause if two.hangup_cause is not None else 16)
