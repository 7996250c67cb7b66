"""The dial loop's command table: each message type reaches its one handler; a
command for another campaign, or one the loop does not handle, does nothing."""

from __future__ import annotations

from typing import Any

import pytest

from dialer import messages as msg
from dialer.loop.commands import Commands


class _Recorded:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        async def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


class _Ctx:
    name = "norte"

    class campaign:  # noqa: N801 - the campaign row's two fields read here
        status, dial_mode = "running", "progressive"


def _commands() -> tuple[Commands, _Recorded, list[tuple[str, str]]]:
    seen = _Recorded()
    changed: list[tuple[str, str]] = []
    commands = Commands(_Ctx(), seen, seen, seen,  # type: ignore[arg-type]
                        lambda status, mode: changed.append((status, mode)))  # fmt: skip
    return commands, seen, changed


@pytest.mark.parametrize(("command", "expected"), [
    (msg.StopAccount(account_id=7, reason="payment"), ("stop_account", (7,))),
    (msg.StopAccount(account_id=7, reason="do_not_contact", campaign="norte"),
     ("stop_account", (7,))),
    (msg.RecordingStart(attempt_id=3, agent_id=9), ("recording", (True, 3, 9))),
    (msg.RecordingStop(attempt_id=3, agent_id=9), ("recording", (False, 3, 9))),
    (msg.PreviewRequest(agent_id=9, campaign="norte"), ("request", (9,))),
    (msg.PreviewDial(agent_id=9, account_id=7, campaign="norte"), ("dial", (9, 7))),
    (msg.PreviewSkip(agent_id=9, account_id=7, campaign="norte"), ("skip", (9, 7))),
])  # fmt: skip
async def test_given_a_command_when_handled_then_its_one_handler_runs(
    command: msg.Command, expected: tuple[str, tuple[Any, ...]]
) -> None:
    commands, seen, _ = _commands()
    await commands.handle(command)
    assert seen.calls == [expected]


async def test_given_a_campaign_change_when_handled_then_status_and_mode_change() -> None:
    commands, _, changed = _commands()
    await commands.handle(msg.CampaignChange(campaign="norte", dial_mode="predictive"))
    assert changed == [("running", "predictive")]


@pytest.mark.parametrize("command", [
    msg.StopAccount(account_id=7, reason="payment", campaign="sur"),  # another campaign's
    msg.PreviewRequest(agent_id=9, campaign="sur"),
    msg.CampaignChange(campaign="sur", status="stopped"),
    msg.AgentLegReconnect(agent_id=9),  # the phone service's
])  # fmt: skip
async def test_given_a_command_not_for_this_loop_when_handled_then_nothing_runs(
    command: msg.Command,
) -> None:
    commands, seen, changed = _commands()
    await commands.handle(command)
    assert seen.calls == [] and changed == []
