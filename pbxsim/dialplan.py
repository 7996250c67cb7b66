"""The dialplan pbxsim runs: a table beside asterisk-conf/extensions.conf, one row per
context there that pbxsim plays, naming the application (pbxsim/apps/) that plays
it; a context not in the table just waits, up, until hung up or redirected."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dialer import channel_vars as cv
from pbxsim.apps import answer, conference, safe_harbor
from pbxsim.apps.names import CONTEXT_SPY, CONTEXT_SUPERVISOR, SAFE_HARBOR
from pbxsim.channel import Channel
from pbxsim.kernel import Kernel, LocationT

# An application: runs the channel from (exten, priority) until the dialplan jumps
# (returns the location) or ends (None).
App = Callable[[Kernel, Channel, str, int], Awaitable[LocationT | None]]


async def _answer(pbx: Kernel, channel: Channel, exten: str, priority: int) -> LocationT | None:
    if exten == "s":
        return await answer.answer(pbx, channel)
    return await answer.action(pbx, channel, exten)


async def _failure(pbx: Kernel, channel: Channel, exten: str, priority: int) -> LocationT | None:
    return answer.failure(pbx, channel)


async def _safe_harbor(
    pbx: Kernel, channel: Channel, exten: str, priority: int
) -> LocationT | None:
    return await safe_harbor.safe_harbor(pbx, channel)


async def _agent(pbx: Kernel, channel: Channel, exten: str, priority: int) -> LocationT | None:
    return await conference.agent(pbx, channel)


async def _supervisor(pbx: Kernel, channel: Channel, exten: str, priority: int) -> LocationT | None:
    return await conference.supervisor(pbx, channel)


async def _spy(pbx: Kernel, channel: Channel, exten: str, priority: int) -> LocationT | None:
    return await conference.spy(pbx, channel)


DIALPLAN: dict[str, App] = {
    cv.CONTEXT_ANSWER: _answer,
    cv.CONTEXT_FAILURE: _failure,
    SAFE_HARBOR: _safe_harbor,
    cv.CONTEXT_AGENT: _agent,
    CONTEXT_SUPERVISOR: _supervisor,
    CONTEXT_SPY: _spy,
}


async def _wait_up(pbx: Kernel, channel: Channel, context: str, exten: str, priority: int) -> None:
    """Anything else: stay up until hung up or redirected."""
    pbx.exten(channel, context, exten, priority, "Wait", "86400")
    await pbx.wait(channel, 86400)


async def _run(pbx: Kernel, channel: Channel, context: str, exten: str,
               priority: int) -> LocationT | None:  # fmt: skip
    """Run from one location until the dialplan jumps (return it) or ends (None)."""
    app = DIALPLAN.get(context)
    if app is None:
        await _wait_up(pbx, channel, context, exten, priority)
        return None
    return await app(pbx, channel, exten, priority)


async def run_dialplan(
    pbx: Kernel, channel: Channel, context: str, exten: str, priority: int
) -> None:
    """Run a channel from a location to its end, following jumps and redirects."""
    location: LocationT | None = (context, exten, priority)
    while location is not None and not channel.hungup:
        location = await _run(pbx, channel, *location)
        if channel.hungup:
            return
        if channel.hangup_cause is not None:
            break
        if channel.redirect is not None:
            location, channel.redirect = channel.redirect, None
            channel.interrupt.clear()
    if not channel.hungup:
        pbx.finish(channel, channel.hangup_cause if channel.hangup_cause is not None else 16)
