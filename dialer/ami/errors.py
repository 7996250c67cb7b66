"""Errors raised by the AMI codec and client; callers catch these, never socket errors."""

from __future__ import annotations


class AMIError(Exception):
    """Base of every AMI error."""


class AMIProtocolError(AMIError):
    """The peer sent bytes that are not AMI."""


class AMIMessageTooLarge(AMIProtocolError):
    """A message went past the parser's limits; it was dropped and the parser resynchronised.

    `messages` holds the complete messages parsed from the same chunk around
    the refused one, so nothing that arrived intact is lost.
    """

    def __init__(self, limit: int, messages: list | None = None, what: str | None = None) -> None:
        what = what or f"larger than {limit} bytes"
        super().__init__(
            f"AMI message {what} dropped; raise max_message_size or max_headers "
            "if the peer really sends messages this big"
        )
        self.limit = limit
        self.messages = messages or []


class AMIConnectionError(AMIError):
    """Could not connect or log in, or the link dropped. The reconnect loop catches this type."""


class AMIAuthError(AMIConnectionError):
    """Asterisk refused the username/secret (check manager.conf)."""


class AMIDisconnected(AMIError):
    """The action was in flight (or the client was not connected) when the link dropped.

    The action is NOT re-sent: for an Originate that could dial a debtor twice. The
    caller reconciles from the live channels offered after reconnect.
    """


class AMIActionError(AMIError):
    """Asterisk answered `Response: Error`."""

    def __init__(self, action: str, message: str, response: object = None) -> None:
        super().__init__(f"AMI action {action} failed: {message}")
        self.action = action
        self.message = message
        self.response = response


class AMIListTooLong(AMIError):
    """A list action's events passed the collector's bound (dialer/ami/eventlist.py)."""


class AMIActionTimeout(AMIError):
    """No response (or no complete EventList) within the action's timeout."""
