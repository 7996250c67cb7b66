"""pbxsim's AMI server: Asterisk's side of the manager protocol, on our codec.

Actions: Login, Logoff, Ping, Originate, Hangup, Redirect, Setvar, Getvar,
CoreShowChannels, Status, Command (minimal). Every action received is kept in
`actions` so tests can prove an Originate arrived exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

from dialer.ami.codec import AMIParser, Header, Message, encode_message
from dialer.ami.errors import AMIMessageTooLarge
from pbxsim.channel import STATE_DESC, Channel
from pbxsim.pbx import PBX, OriginateError, OriginateRequest

log = logging.getLogger(__name__)

BANNER = b"Asterisk Call Manager/11.0.0\r\n"  # what Asterisk 22 sends
ActionHook = Callable[[Message], str | None]


class AMISession:
    def __init__(self, server: AMIServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.writer = writer
        self.logged_in = False
        self.events = True
        self.includes: list[Callable[[list[Header]], bool]] = []
        self.excludes: list[Callable[[list[Header]], bool]] = []

    def send(self, headers: list[Header]) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode_message(headers))

    def respond(self, action: Message, headers: list[Header]) -> None:
        response = headers[:1]
        if action.action_id is not None:
            response.append(("ActionID", action.action_id))
        self.send(response + headers[1:])

    def on_event(self, event: list[Header]) -> None:
        if not (self.logged_in and self.events):
            return
        if self.includes and not any(match(event) for match in self.includes):
            return
        if any(match(event) for match in self.excludes):
            return
        self.send(event)


class AMIServer:
    def __init__(
        self,
        pbx: PBX,
        username: str = "cobrador",
        secret: str = "cobrador-dev-secret",
        *,
        fully_booted_first: bool = False,
    ) -> None:
        self.pbx = pbx
        self.username = username
        self.secret = secret
        # Asterisk 22 sends FullyBooted right after the Login response; it comes
        # from another queue, so clients must not rely on the order: tests turn
        # this on to send it first.
        self.fully_booted_first = fully_booted_first
        self.actions: list[Message] = []
        # Test hook: action name -> "drop" (execute it, then cut the link without
        # answering, like a link that died with the action in flight) or "silent"
        # (record it, never answer).
        self.drop_link_on: dict[str, str] = {}
        self.sessions: set[AMISession] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("AMI server not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self, host: str = "127.0.0.1", port: int = 5038) -> None:
        self._server = await asyncio.start_server(self._accept, host, port)
        log.info("pbxsim AMI listening on %s:%s", host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drop_connections(self) -> None:
        """Cut every AMI link (the way an Asterisk restart or a network fault does)."""
        for session in list(self.sessions):
            session.writer.transport.abort()

    def actions_named(self, name: str) -> list[Message]:
        return [a for a in self.actions if a.name.lower() == name.lower()]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        session = AMISession(self, writer)
        self.sessions.add(session)
        self.pbx.subscribe(session.on_event)
        parser = AMIParser()
        try:
            writer.write(BANNER)
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    messages = parser.feed(data)
                except AMIMessageTooLarge as exc:
                    messages = exc.messages
                for message in messages:
                    if message.is_action and not self._handle(session, message):
                        return
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass  # link gone or server stopping: end the session quietly
        finally:
            self.pbx.unsubscribe(session.on_event)
            self.sessions.discard(session)
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def _handle(self, session: AMISession, action: Message) -> bool:
        """Handle one action; False ends the session."""
        self.actions.append(action)
        name = action.name.lower()
        if name == "login":
            return self._login(session, action)
        if not session.logged_in:
            session.respond(action, [("Response", "Error"), ("Message", "Permission denied")])
            return True
        if name == "logoff":
            session.respond(
                action, [("Response", "Goodbye"), ("Message", "Thanks for all the fish.")]
            )
            return False
        handler = getattr(self, f"_action_{name}", None)
        if handler is None:
            session.respond(action, [("Response", "Error"), ("Message", "Invalid/unknown command")])
            return True
        drops = {key.lower(): mode for key, mode in self.drop_link_on.items()}
        if drops.get(name) == "silent":
            return True  # never answered: the client's action timeout fires
        if drops.get(name) == "drop":
            # Execute, but never answer: the client sees the link die mid-action.
            handler(_Muted(), action)
            session.writer.transport.abort()
            return False
        try:
            handler(session, action)
        except Exception:
            # A pbxsim bug must not look like a dead PBX: answer and keep the session.
            log.exception("pbxsim: action %s failed", action.name)
            session.respond(action, [("Response", "Error"), ("Message", "Internal error")])
        return True

    def _login(self, session: AMISession, action: Message) -> bool:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            session.respond(action, [("Response", "Error"), ("Message", "Authentication failed")])
            return False  # Asterisk drops the connection after a failed login
        session.events = (action.get("Events") or "on").lower() not in ("off", "no")
        booted = [
            ("Event", "FullyBooted"),
            ("Privilege", "system,all"),
            ("Uptime", "1"),
            ("LastReload", "1"),
            ("Status", "Fully Booted"),
        ]
        if self.fully_booted_first:
            session.send(booted)
        session.respond(action, [("Response", "Success"), ("Message", "Authentication accepted")])
        if not self.fully_booted_first:
            session.send(booted)
        session.logged_in = True
        return True

    # -- actions -------------------------------------------------------------

    def _action_ping(self, session: AMISession | _Muted, action: Message) -> None:
        session.respond(
            action,
            [
                ("Response", "Success"),
                ("Ping", "Pong"),
                ("Timestamp", f"{self.pbx.clock.now():.6f}"),
            ],
        )

    def _action_originate(self, session: AMISession | _Muted, action: Message) -> None:
        try:
            request = OriginateRequest.from_action(action)
        except OriginateError as exc:
            session.respond(action, [("Response", "Error"), ("Message", str(exc))])
            return
        if (action.get("Async") or "false").lower() in ("true", "yes", "1"):
            self.pbx.originate(request)
            session.respond(
                action, [("Response", "Success"), ("Message", "Originate successfully queued")]
            )
            return

        def done(ok: bool) -> None:
            if ok:
                session.respond(
                    action,
                    [("Response", "Success"), ("Message", "Originate successfully queued")],
                )
            else:
                session.respond(action, [("Response", "Error"), ("Message", "Originate failed")])

        self.pbx.originate(request, done)

    def _channel(self, session: AMISession | _Muted, action: Message) -> Channel | None:
        name = action.get("Channel") or ""
        channel = self.pbx.find_channel(name)
        if channel is None:
            session.respond(action, [("Response", "Error"), ("Message", "No such channel")])
        return channel

    def _action_hangup(self, session: AMISession | _Muted, action: Message) -> None:
        name = action.get("Channel") or ""
        raw_cause = action.get("Cause") or ""
        cause = int(raw_cause) if raw_cause.isdigit() else None
        if len(name) > 2 and name.startswith("/") and name.endswith("/"):
            pattern = re.compile(name[1:-1])
            matched = [c for c in list(self.pbx.channels.values()) if pattern.search(c.name)]
            for match in matched:
                self.pbx.request_hangup(match, cause)
            session.respond(
                action,
                [("Response", "Success"), ("Message", f"{len(matched)} channels hung up.")],
            )
            return
        channel = self._channel(session, action)
        if channel is not None:
            self.pbx.request_hangup(channel, cause)
            session.respond(action, [("Response", "Success"), ("Message", "Channel Hungup")])

    def _action_redirect(self, session: AMISession | _Muted, action: Message) -> None:
        channel = self._channel(session, action)
        if channel is None:
            return
        context, exten = action.get("Context"), action.get("Exten")
        if not context or not exten:
            session.respond(
                action, [("Response", "Error"), ("Message", "Context and Exten required")]
            )
            return
        priority = action.get("Priority") or "1"
        if not priority.isdigit():
            session.respond(action, [("Response", "Error"), ("Message", "Invalid priority")])
            return
        self.pbx.redirect(channel, context, exten, int(priority))
        session.respond(action, [("Response", "Success"), ("Message", "Redirect successful")])

    def _action_setvar(self, session: AMISession | _Muted, action: Message) -> None:
        variable = action.get("Variable")
        if not variable:
            session.respond(action, [("Response", "Error"), ("Message", "No variable specified")])
            return
        value = action.get("Value") or ""
        if action.get("Channel"):
            channel = self._channel(session, action)
            if channel is None:
                return
            self.pbx.set_var(channel, variable, value)
        else:
            self.pbx.global_vars[variable] = value
        session.respond(action, [("Response", "Success"), ("Message", "Variable Set")])

    def _action_mixmonitor(self, session: AMISession | _Muted, action: Message) -> None:
        channel = self._channel(session, action)
        if channel is None:
            return
        if not self.pbx.start_mixmonitor(
            channel, action.get("File") or "", action.get("Options") or ""
        ):
            session.respond(
                action, [("Response", "Error"), ("Message", "Could not start monitoring channel")]
            )
            return
        session.respond(action, [("Response", "Success")])

    def _action_stopmixmonitor(self, session: AMISession | _Muted, action: Message) -> None:
        channel = self._channel(session, action)
        if channel is None:
            return
        if not self.pbx.stop_mixmonitor(channel):
            session.respond(
                action, [("Response", "Error"), ("Message", "Could not stop monitoring channel")]
            )
            return
        session.respond(action, [("Response", "Success")])

    def _action_getvar(self, session: AMISession | _Muted, action: Message) -> None:
        variable = action.get("Variable")
        if not variable:
            session.respond(action, [("Response", "Error"), ("Message", "No variable specified")])
            return
        channel: Channel | None = None
        if action.get("Channel"):
            channel = self._channel(session, action)
            if channel is None:
                return
        value = self.pbx.get_var(channel, variable) or ""
        session.respond(action, [("Response", "Success"), ("Variable", variable), ("Value", value)])

    def _list(
        self,
        session: AMISession | _Muted,
        action: Message,
        message: str,
        item_event: str,
        complete_event: str,
        items: list[list[Header]],
        count_key: str = "ListItems",
    ) -> None:
        session.respond(
            action, [("Response", "Success"), ("EventList", "start"), ("Message", message)]
        )
        action_id = [("ActionID", action.action_id)] if action.action_id else []
        for headers in items:
            session.send([("Event", item_event), *action_id, *headers])
        session.send(
            [
                ("Event", complete_event),
                *action_id,
                ("EventList", "Complete"),
                (count_key, str(len(items))),
            ]
        )

    def _channel_row(self, channel: Channel) -> list[Header]:
        now = self.pbx.clock.now()
        duration = int(max(0.0, now - channel.created))
        bridge = self.pbx.bridges.get(channel.bridge or "")
        return [
            *channel.snapshot(),
            ("BridgeId", bridge.uniqueid if bridge else ""),
            ("Application", channel.application),
            ("ApplicationData", channel.app_data),
            ("Duration", f"{duration // 3600:02d}:{duration // 60 % 60:02d}:{duration % 60:02d}"),
        ]

    def _action_coreshowchannels(self, session: AMISession | _Muted, action: Message) -> None:
        rows = [self._channel_row(c) for c in list(self.pbx.channels.values())]
        self._list(
            session,
            action,
            "Channels will follow",
            "CoreShowChannel",
            "CoreShowChannelsComplete",
            rows,
        )

    def _action_status(self, session: AMISession | _Muted, action: Message) -> None:
        wanted = action.get("Channel")
        channels = list(self.pbx.channels.values())
        if wanted:
            channels = [c for c in channels if c.name == wanted]
            if not channels:
                session.respond(action, [("Response", "Error"), ("Message", "No such channel")])
                return
        rows = [
            [*self._channel_row(c), ("State", STATE_DESC.get(c.state, "Unknown"))] for c in channels
        ]
        self._list(
            session, action, "Channel status will follow", "Status", "StatusComplete", rows, "Items"
        )

    def _action_confbridgelist(self, session: AMISession | _Muted, action: Message) -> None:
        name = action.get("Conference") or ""
        bridge = self.pbx.bridges.get(name)
        if bridge is None:
            session.respond(
                action, [("Response", "Error"), ("Message", "No Conference by that name found.")]
            )
            return
        now = self.pbx.clock.now()
        rows = []
        for member in bridge.members:
            profile = bridge.profiles.get(member, "")
            end_marked = profile in ("debtor", "supervisor")
            rows.append(
                [
                    ("Conference", name),
                    ("Admin", "No"),
                    ("MarkedUser", "Yes" if profile == "agent" else "No"),
                    ("WaitMarked", "No"),
                    ("EndMarked", "Yes" if end_marked else "No"),
                    ("EndMarkedAny", "No"),
                    ("Waiting", "No"),
                    ("Muted", "Yes" if profile == "supervisor" else "No"),
                    ("Talking", "No"),
                    ("AnsweredTime", str(int(now - bridge.joined.get(member, now)))),
                    *member.snapshot(),
                ]
            )
        self._list(
            session,
            action,
            "Confbridge user list will follow",
            "ConfbridgeList",
            "ConfbridgeListComplete",
            rows,
        )

    def _action_filter(self, session: AMISession | _Muted, action: Message) -> None:
        """Session event filters: Asterisk 22's MatchCriteria (name, header, action)
        or the legacy regex on the whole event (`!` excludes)."""
        if (action.get("Operation") or "").lower() != "add":
            session.respond(action, [("Response", "Error"), ("Message", "Unknown operation")])
            return
        try:
            exclude, match = _filter(action.get("MatchCriteria") or "", action.get("Filter") or "")
        except (ValueError, re.error) as exc:
            session.respond(action, [("Response", "Error"), ("Message", f"Bad filter: {exc}")])
            return
        if isinstance(session, AMISession):
            (session.excludes if exclude else session.includes).append(match)
        session.respond(action, [("Response", "Success"), ("Message", "Filter Added Successfully")])

    def _action_command(self, session: AMISession | _Muted, action: Message) -> None:
        command = (action.get("Command") or "").strip()
        status = "Success"
        if command == "core show version":
            output = ["Asterisk 22.0.0 (pbxsim)"]
        elif command == "core show channels concise":
            output = [
                "!".join(
                    [
                        c.name,
                        c.context,
                        c.exten,
                        str(c.priority),
                        c.application,
                        c.app_data,
                        c.uniqueid,
                    ]
                )
                for c in self.pbx.channels.values()
            ]
        elif command.startswith("core show channels"):
            count = len(self.pbx.channels)
            output = [f"{count} active channel{'s' if count != 1 else ''}"]
        else:
            status = "Error"
            output = [
                f"No such command '{command}' (type 'core show help "
                f"{' '.join(command.split()[:2])}' for other possible commands)"
            ]
        session.respond(
            action,
            [("Response", status), ("Message", "Command output follows")]
            + [("Output", line) for line in output],
        )


class _Muted:
    """A session stand-in that swallows replies (for actions whose link is cut)."""

    def respond(self, action: Message, headers: list[Header]) -> None:
        pass

    def send(self, headers: list[Header]) -> None:
        pass


def _filter(criteria: str, expression: str) -> tuple[bool, Callable[[list[Header]], bool]]:
    """(exclude?, predicate) for one Filter action."""
    if not criteria:
        exclude = expression.startswith("!")
        pattern = re.compile(expression[1:] if exclude else expression)
        if not pattern.pattern:
            raise ValueError("empty filter")

        def whole(event: list[Header]) -> bool:
            return bool(pattern.search("".join(f"{k}: {v}\r\n" for k, v in event)))

        return exclude, whole
    parts = dict(
        (item.split("(", 1)[0].strip().lower(), item.split("(", 1)[1].rstrip(")"))
        for item in criteria.split(",")
        if "(" in item
    )
    unknown = set(parts) - {"action", "name", "header", "method"}
    if unknown or not parts:
        raise ValueError(f"unknown match criteria {criteria!r}")
    exclude = parts.get("action", "include").lower() == "exclude"
    name, header = parts.get("name"), parts.get("header")

    def advanced(event: list[Header]) -> bool:
        if name is not None and event[0][1] != name:
            return False
        if header is None:
            return not expression or any(expression in v for _, v in event)
        values = [v for k, v in event if k.lower() == header.lower()]
        return bool(values) and (not expression or any(expression in v for v in values))

    return exclude, advanced
