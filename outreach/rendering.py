"""Message texts from the jinja2 templates of outreach/templates (Spanish, per stage and
event). The amount and the creditor's name reach a template only when the campaign's
``[messages]`` table says so; the debt's details travel behind a signed portal link.

    [messages]
    sender = "Despacho Ejemplo"       # who the debtor is told writes (identification)
    sms_sender = "DESPACHOEJ"         # the SMS sender ID: a short code, a number or up to
                                      # 11 letters/digits (default: sender, when it fits)
    phone = "+52 55 5000 1000"        # where to call back
    portal_url = "https://pagos.example.mx/p"
    link_hours = 72                   # the portal link's life
    show_amount = false               # default: never the amount in a message body
    show_creditor = false             # default: never the creditor's name
    creditor = "Banco Ejemplo"        # shown only with show_creditor = true
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from outreach.strategy import Strategy

TEMPLATES = Path(__file__).parent / "templates"
MESSAGE_KEYS = {"sender", "sms_sender", "phone", "portal_url", "link_hours", "show_amount",
                "show_creditor", "creditor"}  # fmt: skip
# An SMS sender ID: a number (E.164 or a short code) or 1-11 letters, digits and spaces.
SMS_SENDER = re.compile(r"\+?[0-9]{3,15}|[A-Za-z0-9 ]{1,11}")
# What a message tells the debtor about stopping this channel (opt-out evidence is
# recorded by compliance when the reply comes).
OPT_OUT = {
    "sms": "Para no recibir más SMS responde BAJA.",
    "whatsapp": "Para no recibir más mensajes por WhatsApp responde BAJA.",
    "email": "Para no recibir más correos responde a este mensaje con la palabra BAJA.",
    # No reply channel: the debtor asks by phone and an agent records the opt-out.
    "letter": "Si no desea recibir más cartas, díganoslo por teléfono.",
}
MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
          "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip


class TemplateError(ValueError):
    """A template is missing or cannot be rendered (said to the operator, in English)."""


@dataclass(frozen=True)
class MessageOptions:
    sender: str = "cobrador"
    sms_sender: str = ""
    phone: str = ""
    portal_url: str = ""
    link_hours: int = 72
    show_amount: bool = False
    show_creditor: bool = False
    creditor: str = ""


def options_from(config: Mapping[str, Any] | None) -> MessageOptions:
    """A campaign's ``messages`` table; TemplateError names the bad key."""
    table = (config or {}).get("messages") or {}
    if not isinstance(table, Mapping):
        raise TemplateError("messages must be a table (sender = ..., phone = ...)")
    raw = dict(table)
    unknown = sorted(set(raw) - MESSAGE_KEYS)
    if unknown:
        raise TemplateError(f"messages: unknown key(s) {', '.join(unknown)}")
    for key in ("show_amount", "show_creditor"):
        if key in raw and not isinstance(raw[key], bool):
            raise TemplateError(f"messages.{key} must be true or false")
    for key in ("sender", "sms_sender", "phone", "portal_url", "creditor"):
        if key in raw and not isinstance(raw[key], str):
            raise TemplateError(f"messages.{key} must be text")
    if "sms_sender" in raw and not SMS_SENDER.fullmatch(raw["sms_sender"]):
        raise TemplateError(
            "messages.sms_sender must be a number (short code or +E.164) or 1 to 11 "
            "letters, digits and spaces"
        )
    hours = raw.get("link_hours", 72)
    if isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= 720:
        raise TemplateError("messages.link_hours must be a whole number of hours from 1 to 720")
    if raw.get("show_creditor") and not raw.get("creditor"):
        raise TemplateError("messages.show_creditor needs messages.creditor (the name to show)")
    return MessageOptions(**{k: v for k, v in raw.items() if k != "link_hours"}, link_hours=hours)


def sender_for(options: MessageOptions, channel: str) -> str:
    """Who a message says it is from on this channel: SMS has its own sender ID."""
    if channel == "sms" and options.sms_sender:
        return options.sms_sender
    return options.sender


@dataclass(frozen=True)
class MessageFacts:
    """What a message may say about one account; the scheduler fills it."""

    debtor_name: str
    link: str
    channel: str
    balance: Decimal | None = None
    currency: str = ""
    promise_date: date | None = None
    promise_amount: Decimal | None = None
    due_date: date | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str | None  # e-mail only
    text: str
    html: str | None  # e-mail only


def spanish_date(day: date) -> str:
    return f"{day.day} de {MONTHS[day.month - 1]} de {day.year}"


def first_name(full: str) -> str:
    parts = full.strip().split()
    return parts[0].title() if parts else ""


def money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount.quantize(Decimal('0.01')):,}".strip()


class Templates:
    """The template set: one jinja2 environment, strict about undefined names."""

    def __init__(self, directory: Path = TEMPLATES) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # plain text; the HTML part escapes on its own
            keep_trailing_newline=False,
        )
        self.html_env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
        )

    def _template(self, name: str, stage: str) -> jinja2.Template:
        for candidate in (f"{stage}/{name}.j2", f"{name}.j2"):
            try:
                return self.env.get_template(candidate)
            except jinja2.TemplateNotFound:
                continue
        raise TemplateError(f"no template {name!r} for stage {stage} (outreach/templates)")

    def check(self, strategy: Strategy) -> list[str]:
        """Problems with the templates a strategy names (empty: none)."""
        problems = []
        for stage, name in sorted(strategy.templates()):
            try:
                self._template(name, stage)
            except (TemplateError, jinja2.TemplateError) as exc:
                problems.append(str(exc))
        return problems

    def context(self, facts: MessageFacts, options: MessageOptions) -> dict[str, Any]:
        values: dict[str, Any] = {
            "nombre": first_name(facts.debtor_name),
            "remitente": options.sender,
            "telefono": options.phone,
            "enlace": facts.link,
            "canal": facts.channel,
            "baja": OPT_OUT.get(facts.channel, ""),
            "fecha_promesa": spanish_date(facts.promise_date) if facts.promise_date else "",
            "fecha_vencimiento": spanish_date(facts.due_date) if facts.due_date else "",
        }
        # Only when the campaign says so: never by default.
        if options.show_amount:
            if facts.balance is not None:
                values["monto"] = money(facts.balance, facts.currency)
            if facts.promise_amount is not None:
                values["monto_promesa"] = money(facts.promise_amount, facts.currency)
        if options.show_creditor and options.creditor:
            values["acreedor"] = options.creditor
        return values

    def render(
        self, name: str, stage: str, facts: MessageFacts, options: MessageOptions
    ) -> Rendered:
        template = self._template(name, stage)
        values = self.context(facts, options)
        context = template.new_context(values)
        try:
            body = _one_full_stop(_squash("".join(template.blocks["body"](context))), values)
            subject = (
                _one_full_stop(_squash("".join(template.blocks["subject"](context))), values)
                if "subject" in template.blocks
                else None
            )
        except KeyError:
            raise TemplateError(f"template {name!r} has no body block") from None
        except jinja2.UndefinedError as exc:
            raise TemplateError(f"template {name!r}: {exc.message}") from None
        if facts.channel == "letter":
            return Rendered(subject, body, None)  # the letter's "Asunto" line
        if facts.channel != "email":
            return Rendered(None, body, None)
        paragraphs = [p for p in re.split(r"\n\s*\n", body) if p.strip()]
        html = self.html_env.get_template("_email.html.j2").render(
            subject=subject or "", paragraphs=paragraphs
        )
        return Rendered(subject or options.sender, body, html)


def _one_full_stop(text: str, values: Mapping[str, Any]) -> str:
    """A value that ends a sentence itself ("Despacho Ejemplo, S.C.") before the
    template's own full stop: one stop, never "S.C.." in what the debtor reads."""
    for value in values.values():
        if isinstance(value, str) and value.endswith("."):
            text = text.replace(value + ".", value)
    return text


def _squash(text: str) -> str:
    """One line per paragraph, single spaces; a link never glued to a full stop."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)
