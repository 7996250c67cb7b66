"""Typed application keys: every resource the console's handlers share."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import Engine

from cobrador.ground.settings import Settings
from compliance.callback_window import CallbackChecker
from compliance.service import ComplianceService
from console.field_seal import FieldSeal
from console.pophub import PopHub
from console.socket_slots import SocketSlots
from console.users import CurrentUser
from dialer.agent_state import AgentStates
from field.visit_rules import VisitCheck
from selfservice.chat_service import ChatService

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
REDIS = web.AppKey("redis", aioredis.Redis)
STATES = web.AppKey("agent_states", AgentStates)
POPHUB: web.AppKey[PopHub] = web.AppKey("pophub")
SOCKET_SLOTS: web.AppKey[SocketSlots] = web.AppKey("socket_slots")
CALLBACK_CHECKER: web.AppKey[CallbackChecker] = web.AppKey("callback_checker")
# Evaluations without placing anything: the portal's standing blocks per channel.
COMPLIANCE: web.AppKey[ComplianceService] = web.AppKey("compliance")
# The compliance check of a field visit (field/visit_rules.py), at plan and check-in.
FIELD_CHECK: web.AppKey[VisitCheck] = web.AppKey("field_check")
# The key the field app's queue is sealed to (console/field_seal.py); None without a
# console_secret (no key every process and restart shares: the queue stays in clear).
FIELD_SEAL: web.AppKey[FieldSeal | None] = web.AppKey("field_seal")
# argon2 checks run here, off the event loop and apart from the SQL worker
# threads: a burst of logins never queues the other requests' SQL behind it.
PASSWORD_POOL: web.AppKey[ThreadPoolExecutor] = web.AppKey("password_pool")
# Per-request values set by the context middleware.
USER: web.RequestKey[CurrentUser | None] = web.RequestKey("user")
CSRF: web.RequestKey[str] = web.RequestKey("csrf")
# The server-side session token of the request's cookie (console/sessions.py).
SESSION_TOKEN: web.RequestKey[str | None] = web.RequestKey("session_token")
LANG: web.RequestKey[str] = web.RequestKey("lang")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
# How often an open WebSocket re-checks that its session still holds.
SESSION_CHECK_SECONDS: web.AppKey[float] = web.AppKey("session_check_seconds")


@dataclass
class ChatBox:
    """The console's chat service: the portal's chat box gives it the debtor's messages
    (`service.handle_async`). Built at start-up, inside the event loop, by
    console/chat_queue.py (`chat_service_ctx`); None before."""

    service: ChatService | None = None


CHAT: web.AppKey[ChatBox] = web.AppKey("chat")
