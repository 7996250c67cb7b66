"""FastAGI: a sans-IO codec and an asyncio server that routes by script name."""

from dialer.fastagi.codec import (
    AGIEnvironment,
    AGIErrorReply,
    AGIHangupNotice,
    AGIParser,
    AGIReply,
    encode_command,
    encode_environment,
    parse_reply,
    quote_arg,
)
from dialer.fastagi.errors import AGICommandError, AGIError, AGIHangup, AGIProtocolError
from dialer.fastagi.server import AGISession, FastAGIServer

__all__ = [
    "AGICommandError",
    "AGIEnvironment",
    "AGIError",
    "AGIErrorReply",
    "AGIHangup",
    "AGIHangupNotice",
    "AGIParser",
    "AGIProtocolError",
    "AGIReply",
    "AGISession",
    "FastAGIServer",
    "encode_command",
    "encode_environment",
    "parse_reply",
    "quote_arg",
]
