"""A debtor's "BAJA"/"STOP" reply, recorded by compliance's opt-outs
(compliance/opt_outs.py): the channel it came on stops at that number (or e-mail
address) for every account holding it, durably in SQL (a contact_opt_outs row with the
reply as evidence, an opt_out audit entry) before the gateway is told the reply was
taken. The final check reads it (`opted_out`), so the next message on that channel
to that address is refused at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from compliance.opt_outs import record_reply, reply_opt_out
from outreach.channels import OptOut, Reply


def record_opt_out(sql: Engine, reply: Reply, now: datetime) -> int:
    """Records the reply's opt-out; returns how many accounts it binds. (`now` is kept
    for callers; the reply's own time is the opt-out's.)"""
    return len(record_reply(sql, reply).account_ids)


def opt_out_recorder(sql: Engine) -> OptOut:
    """The OptOut function the message channels are given."""
    return reply_opt_out(sql)
