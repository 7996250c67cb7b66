"""AMI (Asterisk Manager Interface): a sans-IO codec and an asyncio client."""

from dialer.ami.client import AMIClient, EventSubscription
from dialer.ami.codec import AMIParser, Message, encode_action, encode_message
from dialer.ami.errors import (
    AMIActionError,
    AMIActionTimeout,
    AMIAuthError,
    AMIConnectionError,
    AMIDisconnected,
    AMIError,
    AMIMessageTooLarge,
    AMIProtocolError,
)

__all__ = [
    "AMIActionError",
    "AMIActionTimeout",
    "AMIAuthError",
    "AMIClient",
    "AMIConnectionError",
    "AMIDisconnected",
    "AMIError",
    "AMIMessageTooLarge",
    "AMIParser",
    "AMIProtocolError",
    "EventSubscription",
    "Message",
    "encode_action",
    "encode_message",
]
