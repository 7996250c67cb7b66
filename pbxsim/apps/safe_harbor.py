"""safe-harbor: the recorded message a person hears when no agent is free (the
company's name and a number to call back), scaled to the scenario's length."""

from __future__ import annotations

from dialer import channel_vars as cv
from pbxsim.apps.names import SAFE_HARBOR
from pbxsim.channel import Channel
from pbxsim.kernel import Kernel, LocationT


async def safe_harbor(pbx: Kernel, channel: Channel) -> LocationT | None:
    """The message to a person no agent could take, then Hangup."""
    attempt = pbx.get_var(channel, cv.ATTEMPT_ID) or ""
    pbx.exten(channel, SAFE_HARBOR, "s", 1, "NoOp", f"safe-harbor attempt={attempt}")
    pbx.exten(channel, SAFE_HARBOR, "s", 2, "Set", "COBRADOR_ABANDONED=1")
    pbx.set_var(channel, "COBRADOR_ABANDONED", "1")
    pbx.exten(channel, SAFE_HARBOR, "s", 3, "GotoIf", "0?recorded")
    prompts = [
        ("Playback", "hello"),
        ("SayAlpha", pbx.company_name),
        ("Playback", "im-sorry&all-circuits-busy-now&please-try-call-later&telephone-number"),
        ("SayDigits", pbx.callback_number),
        ("Playback", "goodbye"),
    ]
    # Relative lengths of the stock prompts (about 22 s in all on Asterisk 22).
    weights = [0.7, 5.6, 7.5, 8.0, 0.7]
    scale = pbx.scenario.safe_harbor_seconds / sum(weights)
    for priority, ((app, data), weight) in enumerate(zip(prompts, weights, strict=True), 4):
        pbx.exten(channel, SAFE_HARBOR, "s", priority, app, data)
        if not await pbx.wait(channel, weight * scale):
            return None
        if app == "Playback":
            pbx.set_var(channel, "PLAYBACKSTATUS", "SUCCESS")
    pbx.dialplan_hangup(channel, 16, (SAFE_HARBOR, "s", 9))
    return None
