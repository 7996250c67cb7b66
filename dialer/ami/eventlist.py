"""Collects the events of a list action (CoreShowChannels, Status...) behind its response.

Pure: the client feeds it the response and every event carrying the action's
ActionID; `done` turns true on the event with `EventList: Complete`, or at once
when the response is an error or announces no list. A list longer than `max_items`
(far past any real floor's channels) ends the collection as `overflowed` and keeps
none of it: a peer streaming list events for the whole action timeout cannot grow
the dialer without bound.
"""

from __future__ import annotations

from dialer.ami.codec import Message

MAX_ITEMS = 100_000


class EventListCollector:
    def __init__(self, max_items: int = MAX_ITEMS) -> None:
        self.response: Message | None = None
        self.items: list[Message] = []
        self.complete_event: Message | None = None
        self.done = False
        self.overflowed = False
        self.max_items = max_items

    def add(self, message: Message) -> bool:
        """Take one message of this action; return True once the list is complete
        (or overflowed: see the module's docstring)."""
        if self.overflowed:
            return True
        if message.is_event and len(self.items) >= self.max_items:
            self.overflowed, self.done = True, True
            self.items = []
            return True
        if message.is_response:
            self.response = message
            listing = (message.get("EventList") or "").lower() == "start"
            if message.name.lower() != "success" or not listing:
                self.done = True
        elif message.is_event:
            if (message.get("EventList") or "").lower() == "complete":
                self.complete_event = message
                # Some list items may arrive before the response is read; the
                # list is complete only once both are here.
                self.done = self.response is not None
            else:
                self.items.append(message)
        if self.complete_event is not None and self.response is not None:
            self.done = True
        return self.done
