"""The dial loop's command table: each message type reaches its one handler; a
command for another campaign, an unknown type or one missing its fields does nothing."""

from __future__ import annotations

from typing import Any

import pytest

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
    ({"type": "payment", "account_id": 7}, ("stop_account", (7,))),
    ({"type": "do_not_contact", "account_id": "7"}, ("stop_account", (7,))),
    ({"type": "recording_start", "attempt_id": 3, "agent_id": 9}, ("recording", (True, 3, 9))),
    ({"type": "recording_stop", "attempt_id": 3, "agent_id": 9}, ("recording", (False, 3, 9))),
    ({"type": "preview_request", "agent_id": 9, "campaign": "norte"}, ("request", (9,))),
    ({"type": "preview_dial", "agent_id": 9, "account_id": 7, "campaign": "norte"},
     ("dial", (9, 7))),
    ({"type": "preview_skip", "agent_id": 9, "account_id": 7, "campaign": "norte"},
     ("skip", (9, 7))),
])  # fmt: skip
async def test_given_a_command_when_handled_then_its_one_handler_runs(
    command: dict[str, Any], expected: tuple[str, tuple[Any, ...]]
) -> None:
    commands, seen, _ = _commands()
    await commands.handle(command)
    assert seen.calls == [expected]


async def test_given_a_campaign_command_when_handled_then_status_and_mode_change() -> None:
    commands, _, changed = _commands()
    await commands.handle({"type": "campaign", "campaign": "norte", "dial_mode": "predictive"})
    assert changed == [("running", "predictive")]


@pytest.mark.parametrize("command", [
    {"type": "payment", "account_id": 7, "campaign": "sur"},  # another campaign's
    {"type": "preview_request", "agent_id": 9},  # a preview names its campaign
    {"type": "campaign", "status": "stopped"},
    {"type": "no_such_type", "campaign": "norte"},
    {},
])  # fmt: skip
async def test_given_a_command_not_for_this_loop_when_handled_then_nothing_runs(
    command: dict[str, Any],
) -> None:
    commands, seen, changed = _commands()
    await commands.handle(command)
    assert seen.calls == [] and changed == []


async def test_given_a_command_missing_its_fields_when_handled_then_it_raises_for_the_log() -> None:
    commands, seen, _ = _commands()
    with pytest.raises(KeyError):
        await commands.handle({"type": "payment"})
    with pytest.raises(ValueError):
        await commands.handle({"type": "hangup", "attempt_id": "x"})
    assert seen.calls == []
