"""The reason a handler gave with the HTTP error it raised, told apart from aiohttp's
own words ("404: Not Found" for a route that does not exist), so that the error page
or the JSON answer says why instead of a generic line."""

from __future__ import annotations

import json

from aiohttp import web

MAX_REASON = 500  # characters shown; a handler's reason is a sentence


def own_reason(exc: web.HTTPException) -> str | None:
    """The handler's reason: its text, or the `reason` of the JSON it wrote; None for
    aiohttp's default text (an unknown route, a method not allowed, a bare raise)."""
    text = (exc.text or "").strip()
    if not text or text == f"{exc.status}: {exc.reason}":
        return None
    if exc.content_type == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            return None
        reason = data.get("reason") if isinstance(data, dict) else None
        return str(reason)[:MAX_REASON] if reason else None
    return text[:MAX_REASON]
