"""Errors of the FastAGI codec and server."""

from __future__ import annotations


class AGIError(Exception):
    """Base of every FastAGI error."""


class AGIProtocolError(AGIError):
    """Asterisk (or whoever connected) sent something that is not AGI, or past the parser's bounds.

    `items` holds what the parser completed from the same chunk around the bad
    line, so a reply that arrived intact is not lost.
    """

    def __init__(self, message: str, items: list | None = None) -> None:
        super().__init__(message)
        self.items = list(items or [])


class AGIHangup(AGIError):
    """The channel hung up (HANGUP line, 511 reply or closed connection)."""


class AGICommandError(AGIError):
    """Asterisk refused a command (510 unknown command, 520 usage)."""

    def __init__(self, command: str, code: int, text: str) -> None:
        super().__init__(f"AGI command {command.split(' ', 1)[0]!r} refused: {code} {text}")
        self.command = command
        self.code = code
        self.text = text
