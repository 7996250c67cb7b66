"""The portal's line for each channel the compliance engine keeps closed whatever the
hour ("No le llamaremos: su número está en el REUS..."): one line per channel, from
the first (most telling) of its standing reasons (compliance/standing.py), saying
what the debtor can do about it when they can do something."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from redis.exceptions import RedisError

from compliance.profile import ProfileError
from compliance.service import ComplianceService
from compliance.standing import StandingBlock, standing_blocks
from console.i18n import N_, gettext_

log = logging.getLogger(__name__)

LEADS = {
    "call": N_("No le llamaremos"),
    "sms": N_("No le enviaremos SMS"),
    "whatsapp": N_("No le escribiremos por WhatsApp"),
    "email": N_("No le enviaremos correos"),
    "visit": N_("No le visitaremos"),
    "letter": N_("No le enviaremos cartas"),
}
REASONS = {
    "insolvency_proceeding": N_(
        "su cuenta está en un procedimiento de insolvencia; mientras dure, la cobranza se "
        "hace por esa vía."
    ),
    "disputed": N_("su cuenta está en disputa mientras la revisamos."),
    "cease_contact": N_("se pidió dejar de contactarle sobre esta cuenta."),
    "legal_stage": N_("su cuenta está en proceso judicial; el contacto es por esa vía."),
    "channel_not_allowed": N_("no usamos este medio con las cuentas de su país."),
    "no_consent": N_(
        "no tenemos su autorización para contactarle en su número. Para darla, llámenos."
    ),
    "channel_not_authorised": N_(
        "no nos autorizó este medio en su número. Para autorizarlo, llámenos."
    ),
    "visit_not_authorised": N_("no tenemos su autorización firmada para visitarle."),
    "opted_out": N_(
        "se pidió dejar de recibirlos en su número. Para autorizarlo de nuevo, llámenos."
    ),
    "invalid_number": N_("no tenemos un número suyo donde localizarle. Para darnos uno, llámenos."),
    "invalid_address": N_("no tenemos un correo suyo donde escribirle."),
    "no_address": N_("no tenemos su dirección postal. Para darnos una, llámenos."),
}
# A registry's listing: where the debtor asks to leave it (the profile's registry names).
REGISTRY_REASONS = {
    "reus": N_(
        "su número está en el REUS. Para dejar de estar inscrito, pídalo a la CONDUSEF "
        "(condusef.gob.mx)."
    ),
    "rne": N_(
        "su número está en el Registro de Números Excluidos. Para dejar de estar "
        "inscrito, pídalo a la CRC (crcom.gov.co)."
    ),
}
REGISTRY_OTHER = N_(
    "su número está inscrito en un registro de números que no quieren ser contactados. "
    "Para dejar de estar inscrito, pídalo a quien lleva ese registro."
)


# Reasons of the account, not of a channel: said once for every channel they close.
ACCOUNT_WIDE = ("insolvency_proceeding", "disputed", "cease_contact", "legal_stage")
ACCOUNT_LEAD = N_("No le contactaremos por ningún medio")


def account_line(blocks: Mapping[str, StandingBlock]) -> tuple[str, frozenset[str]]:
    """One line for a reason of the whole account (a dispute, a cease-contact, the legal
    stage) and the channels it speaks for (their own lines are then not shown); ("",
    none) when no such reason closes a channel."""
    for reason in ACCOUNT_WIDE:
        channels = frozenset(c for c, b in blocks.items() if b.reasons[0] == reason)
        if channels:
            return f"{gettext_(ACCOUNT_LEAD)}: {gettext_(REASONS[reason])}", channels
    return "", frozenset()


def block_line(block: StandingBlock) -> str:
    """The block's line in the current language; pure but for the translation."""
    reason = block.reasons[0]
    if reason == "registry_listed":
        named = [REGISTRY_REASONS[n] for n in block.registries if n in REGISTRY_REASONS]
        text = named[0] if len(named) == 1 else REGISTRY_OTHER
    else:
        text = REASONS.get(reason, REGISTRY_OTHER)
    return f"{gettext_(LEADS[block.channel])}: {gettext_(text)}"


async def account_blocks(
    service: ComplianceService, account_id: int, now: datetime
) -> Mapping[str, StandingBlock]:
    """The account's standing blocks; none when they cannot be read (a campaign's
    profile in error, Redis away): the page then says nothing rather than failing, and
    every contact is still checked when placed."""
    try:
        return await standing_blocks(service, account_id, now)
    except (ProfileError, RedisError, OSError):
        log.warning("standing blocks of account %s not read", account_id, exc_info=True)
        return {}
