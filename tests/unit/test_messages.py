"""The dialer<->console contract (dialer/messages.py): typed messages survive the
wire, bad input is refused with a reason, every message sent is handled on the
other side, and no other module spells a channel name or a message type."""

from __future__ import annotations

import ast
import json
import typing
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from dialer import messages as msg

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cobrador", "store", "compliance", "dialer", "console", "metrics", "pbxsim", "deploy")
MODULE = ROOT / "dialer" / "messages.py"
SENDERS_AND_RECEIVERS = {
    # channel: (who sends, who handles)
    msg.COMMANDS_CHANNEL: (("console", "cobrador", "dialer/commands.py"), ("dialer",)),
    msg.POPS_CHANNEL: (("dialer",), ("console",)),
}


def sample(cls: type[msg.Message]) -> msg.Message:
    """An instance with every field set (optional ones too), to cross the wire."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for n, f in enumerate(fields(cls)):
        hint = hints[f.name]
        if typing.get_origin(hint) is not None and type(None) in typing.get_args(hint):
            (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            values[f.name] = (7, 8) if item is int else ("a", "b")
        else:
            values[f.name] = {int: n + 1, float: n + 0.5, str: f"v{n}"}[hint]
    return cls(**values)


@pytest.mark.parametrize("cls", msg.MESSAGE_TYPES, ids=lambda c: c.TYPE)
def test_given_a_message_when_sent_then_it_is_read_back_equal(cls: type[msg.Message]) -> None:
    message = sample(cls)
    assert msg.parse(message.to_json()) == message
    assert json.loads(message.to_json())["type"] == cls.TYPE


def test_given_commands_and_pops_then_each_is_parsed_only_as_its_own_kind() -> None:
    pop = sample(msg.Pop).to_json()
    hangup = sample(msg.Hangup).to_json()
    assert isinstance(msg.parse_pop(pop), msg.Pop)
    assert isinstance(msg.parse_command(hangup), msg.Hangup)
    with pytest.raises(msg.MessageError, match="unknown message type 'pop'"):
        msg.parse_command(pop)
    with pytest.raises(msg.MessageError, match="unknown message type 'hangup'"):
        msg.parse_pop(hangup)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"agent_id": 1}', "unknown message type None"),
        ('{"type": "launch_missiles"}', "unknown message type 'launch_missiles'"),
        ('{"type": 7}', "unknown message type 7"),
        ('{"type": "hangup"}', "hangup: missing attempt_id"),
        ('{"type": "hangup", "attempt_id": "12"}', "hangup.attempt_id: expected int"),
        ('{"type": "hangup", "attempt_id": true}', "hangup.attempt_id: expected int"),
        ('{"type": "hangup", "attempt_id": 1.5}', "hangup.attempt_id: expected int"),
        ('{"type": "hangup", "attempt_id": 1, "agent_id": "x"}', "hangup.agent_id: expected int"),
        ('{"type": "preview_request", "agent_id": 1, "campaign": null}', "expected str"),
        ('{"type": "stop_account", "account_id": 1, "reason": ["x"]}', "expected str"),
        (
            '{"type": "inbound", "attempt_id": 1, "agent_id": 2, "campaign": "c", '
            '"ani_status": "ok", "account_ids": 5, "account_id": null, "verification": [], '
            '"waited_seconds": 1, "published_at": 1}',
            "inbound.account_ids: expected a list",
        ),
        (
            '{"type": "inbound", "attempt_id": 1, "agent_id": 2, "campaign": "c", '
            '"ani_status": "ok", "account_ids": ["x"], "account_id": null, "verification": [], '
            '"waited_seconds": 1, "published_at": 1}',
            "inbound.account_ids: expected int",
        ),
    ],
)
def test_given_bad_input_when_parsed_then_the_error_says_why(raw: str | bytes, reason: str) -> None:
    with pytest.raises(msg.MessageError, match=reason.replace("[", r"\[")):
        msg.parse(raw)


def test_given_fields_it_does_not_know_then_they_are_ignored() -> None:
    """A newer sender may add fields; an older receiver reads what it knows."""
    raw = json.dumps({**sample(msg.Hangup).to_dict(), "from_the_future": 1})
    assert msg.parse(raw) == sample(msg.Hangup)


async def test_given_a_notifier_then_each_message_goes_to_its_own_channel() -> None:
    sent: list[tuple[str, str]] = []

    class Redis:
        async def publish(self, channel: str, message: str) -> int:
            sent.append((channel, message))
            return 2

    notifier = msg.Notifier(Redis())
    assert await notifier.send(sample(msg.Pop)) == 2
    await notifier.send(sample(msg.StopAccount))
    assert [c for c, _ in sent] == [msg.POPS_CHANNEL, msg.COMMANDS_CHANNEL]
    assert msg.parse(sent[1][1]) == sample(msg.StopAccount)


# -- the contract, read from the source ------------------------------------------


def sources(*where: str) -> Iterator[tuple[Path, ast.Module]]:
    for name in where:
        path = ROOT / name
        for file in [path] if path.suffix == ".py" else sorted(path.rglob("*.py")):
            if file != MODULE and "migrations" not in file.parts:
                yield file, ast.parse(file.read_text(encoding="utf-8"))


def _class_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return None


def constructed(where: tuple[str, ...]) -> set[str]:
    """Message classes built (called) in these sources: what they send."""
    names = {cls.__name__ for cls in msg.MESSAGE_TYPES}
    found = set()
    for _, tree in sources(*where):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _class_name(node.func) in names:
                found.add(_class_name(node.func))
            # kind(...) with kind one of several classes: the classes are named where
            # the handler is called (`_call_command(request, Hangup)`).
            if isinstance(node, ast.Call):
                for arg in node.args:
                    if _class_name(arg) in names:
                        found.add(_class_name(arg))
    return found


def handled(where: tuple[str, ...]) -> set[str]:
    """Message classes a receiver tells apart: `case X()` patterns, isinstance checks
    and handler tables keyed by class (`{msg.X: handler}`, dialer/loop/commands.py)."""
    names = {cls.__name__ for cls in msg.MESSAGE_TYPES}
    found = set()
    for _, tree in sources(*where):
        for node in ast.walk(tree):
            if isinstance(node, ast.MatchClass) and _class_name(node.cls) in names:
                found.add(_class_name(node.cls))
            if isinstance(node, ast.Dict):
                found.update(
                    n for k in node.keys if k is not None and (n := _class_name(k)) in names
                )
            if (
                isinstance(node, ast.Call)
                and _class_name(node.func) == "isinstance"
                and len(node.args) == 2
            ):
                for target in ast.walk(node.args[1]):
                    if _class_name(target) in names:
                        found.add(_class_name(target))
    return found


@pytest.mark.parametrize("channel", list(SENDERS_AND_RECEIVERS))
def test_every_message_sent_is_handled_on_the_other_side(channel: str) -> None:
    senders, receivers = SENDERS_AND_RECEIVERS[channel]
    on_channel = {cls.__name__ for cls in msg.MESSAGE_TYPES if channel == cls.CHANNEL}
    sent = constructed(senders) & on_channel
    assert sent == on_channel, "a message nobody sends: remove it or send it"
    assert sent - handled(receivers) == set()


def test_the_checker_sees_a_message_nobody_handles() -> None:
    assert "Pop" in constructed(("dialer",))
    assert "StopAccount" not in handled(("console",))


BARE_CHANNEL_PREFIXES = ("cobrador:pops", "cobrador:commands", "cobrador:agent-events")
BARE_KEY_PREFIXES = ("cobrador:wallboard", "cobrador:command-reply")


def _is_type_lookup(node: ast.AST) -> bool:
    """`x["type"]`, `x.get("type")` or a variable named kind/type."""
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "type"
    if isinstance(node, ast.Call) and _class_name(node.func) == "get" and node.args:
        first = node.args[0]
        return isinstance(first, ast.Constant) and first.value == "type"
    return isinstance(node, ast.Name) and node.id in ("kind", "type", "message_type")


def bare_names(tree: ast.Module) -> list[str]:
    types = set(msg.BY_TYPE)
    found = []
    for node in ast.walk(tree):
        bare = BARE_CHANNEL_PREFIXES + BARE_KEY_PREFIXES
        if isinstance(node, ast.Constant) and str(node.value).startswith(bare):
            found.append(f"line {node.lineno}: {node.value!r}")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "type"
                    and isinstance(value, ast.Constant)
                    and value.value in types
                ):
                    found.append(f"line {node.lineno}: 'type': {value.value!r}")
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_type_lookup(side) for side in sides):
                for side in sides:
                    for const in ast.walk(side):
                        if isinstance(const, ast.Constant) and const.value in types:
                            found.append(f"line {node.lineno}: compares with {const.value!r}")
    return found


def test_no_channel_name_or_message_type_is_spelled_outside_the_module() -> None:
    found = {
        str(path.relative_to(ROOT)): names
        for path, tree in sources(*PACKAGES)
        if (names := bare_names(tree))
    }
    assert found == {}


@pytest.mark.parametrize(
    "code",
    [
        'CHANNEL = "cobrador:pops"',
        'key = f"cobrador:wallboard:{{{name}}}"',
        'send({"type": "hangup", "attempt_id": 1})',
        'if message.get("type") == "pop": pass',
        'if kind in ("stop_account", "payment"): pass',
        'ok = command["type"] != "transfer"',
    ],
)
def test_given_a_bare_name_then_the_scan_reports_it(code: str) -> None:
    assert bare_names(ast.parse(code)) != []


def test_given_other_uses_of_the_same_words_then_the_scan_is_quiet() -> None:
    code = 'direction = "inbound"\nif call.direction == "inbound": pass\nws.send({"type": "state"})'
    assert bare_names(ast.parse(code)) == []
