"""Typed application keys: every resource the console's handlers share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import Engine

from cobrador.settings import Settings
from console.callback_window import CallbackChecker
from console.pophub import PopHub
from console.users import CurrentUser
from dialer.agent_state import AgentStates

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", Engine)
REDIS = web.AppKey("redis", aioredis.Redis)
STATES = web.AppKey("agent_states", AgentStates)
POPHUB: web.AppKey[PopHub] = web.AppKey("pophub")
CALLBACK_CHECKER: web.AppKey[CallbackChecker] = web.AppKey("callback_checker")
# Per-request values set by the context middleware.
USER: web.RequestKey[CurrentUser | None] = web.RequestKey("user")
CSRF: web.RequestKey[str] = web.RequestKey("csrf")
LANG: web.RequestKey[str] = web.RequestKey("lang")
CLOCK: web.AppKey[Callable[[], datetime]] = web.AppKey("clock")
