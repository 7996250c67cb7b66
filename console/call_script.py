"""What the agent says, by who answered: an opening anyone may hear (greeting by
the debtor's hour, who calls, the recording notice, asking for the debtor), then
after identity is verified the country's mandatory identification and the
stage's debt script (titular) or the guarantor's; a third party hears a neutral
message and nothing about the debt. Pure: texts in, texts out (msgids translated
through the ``tr`` argument).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.i18n import N_

Translate = Callable[[str], str]

DEFAULT_SCRIPTS = {
    "friendly": N_(
        "Le llamamos para recordarle el saldo pendiente de su cuenta con {acreedor} y "
        "ayudarle a ponerse al corriente."
    ),
    "firm": N_(
        "Le llamamos de parte de {acreedor} porque su cuenta tiene un atraso importante. "
        "Necesitamos acordar hoy una fecha y un monto de pago."
    ),
    "prelegal": N_(
        "Su cuenta con {acreedor} está a punto de pasar a cobranza prejudicial. Todavía "
        "podemos acordar un convenio de pago para evitarlo."
    ),
    "legal": N_("Cuenta en etapa legal: no negocie; indique el despacho que la atiende."),
}
GUARANTOR_SCRIPT = N_(
    "Le llamamos porque usted firmó como aval u obligado solidario de la cuenta de {nombre} "
    "con {acreedor}, que tiene un atraso. Queremos acordar con usted cómo regularizarla."
)
THIRD_PARTY_SCRIPT = N_(
    "Gracias. ¿Podría dejarle un recado a {nombre}? Que por favor se comunique con "
    "{agente} de {agencia} al {telefono}. Es un asunto personal. Que tenga buen día."
)
THIRD_PARTY_RULE = N_(
    "No mencione deuda, saldo, acreedor ni cobranza a un tercero; no deje más recado que este."
)
RECORDING_NOTICE_LINE = (
    "Le informo que esta llamada está siendo grabada para fines de calidad y como "
    "constancia de lo que acordemos."
)
OPENING_LINES = {
    "agent": N_("Mi nombre es {agente}."),
    "agency": N_("Le llamo de {agencia}."),
    "agency_address": N_("Nuestro domicilio es {domicilio}."),
    "agency_phone": N_("Nuestro teléfono es {telefono}."),
    "creditor": N_("Le llamamos en nombre de {acreedor}."),
    "contract": N_("Es acerca de su cuenta o contrato {contrato}."),
    "amount": N_("El saldo vencido es de {saldo}, exigible desde el {vencimiento}."),
    "payoff_terms": N_("Para liquidar o regularizar su cuenta: {instrucciones}"),
    "debt_collector": N_(
        "Esta llamada es de un despacho de cobranza: es un intento de cobrar una deuda y la "
        "información que obtengamos se usará para ese fin."
    ),
}
ASK_FOR_DEBTOR = N_("¿Podría comunicarme con {nombre}?")
UNSET = N_("(sin configurar: {clave})")


def greeting(local: datetime) -> str:
    """By the debtor's local hour: días before noon, tardes until 19:00, noches after."""
    if 5 <= local.hour < 12:
        return N_("Buenos días")
    if 12 <= local.hour < 19:
        return N_("Buenas tardes")
    return N_("Buenas noches")


@dataclass(frozen=True)
class ScriptFacts:
    agent: str
    debtor_name: str
    local: datetime  # the debtor's local time now
    config: Mapping[str, Any]  # the campaign's config (agency, creditor, scripts...)
    campaign: str = ""
    stage: str = "friendly"
    contract: str = ""
    amount: str = ""  # already formatted with currency
    due_date: str = ""
    payment_instructions: str = ""
    recording_notice: bool = False  # the agent says the recording notice
    opening: tuple[str, ...] = ("agent", "agency", "creditor")


def _fill(text: str, facts: ScriptFacts, tr: Translate) -> str:
    config = facts.config

    def setting(key: str, fallback: str = "") -> str:
        value = str(config.get(key) or fallback)
        return value or tr(UNSET).replace("{clave}", key)

    values = {
        "{agente}": facts.agent,
        "{nombre}": facts.debtor_name,
        "{agencia}": setting("agency"),
        "{domicilio}": setting("agency_address"),
        "{telefono}": setting("agency_phone"),
        "{acreedor}": setting("creditor", facts.campaign),
        "{contrato}": facts.contract,
        "{saldo}": facts.amount,
        "{vencimiento}": facts.due_date or "—",
        "{instrucciones}": facts.payment_instructions or setting("payment_instructions"),
    }
    for key, value in values.items():
        if value.endswith("."):
            # "Despacho Ejemplo, S.C." ends a sentence itself: never read "S.C.."
            text = text.replace(key + ".", value)
        text = text.replace(key, value)
    return text


def opening(facts: ScriptFacts, tr: Translate) -> str:
    """What anyone who answers may hear: greeting, who calls, recording notice, the ask."""
    lines = [
        f"{tr(greeting(facts.local))}. "
        + _fill(tr(OPENING_LINES["agent"]) + " " + tr(OPENING_LINES["agency"]), facts, tr)
    ]
    if facts.recording_notice:
        lines.append(tr(RECORDING_NOTICE_LINE))
    lines.append(_fill(tr(ASK_FOR_DEBTOR), facts, tr))
    return "\n".join(lines)


CHAT_OPENING_LINES = (
    N_("Mi nombre es {agente}."),
    N_("Le escribo de {agencia}."),
    N_("Esta conversación queda registrada."),
)


def chat_opening(facts: ScriptFacts, tr: Translate) -> str:
    """A chat's first words: who writes and from where (a collector names themselves in
    any contact), that the conversation is kept; no recording notice (nothing is
    recorded but what is written) and no asking for the debtor (the chat is theirs)."""
    return f"{tr(greeting(facts.local))}. " + " ".join(
        _fill(tr(line), facts, tr) for line in CHAT_OPENING_LINES
    )


def third_party(facts: ScriptFacts, tr: Translate) -> str:
    return _fill(tr(THIRD_PARTY_SCRIPT), facts, tr)


def _identification(facts: ScriptFacts, tr: Translate) -> list[str]:
    # agent and agency were said in the opening already.
    items = [i for i in facts.opening if i not in ("agent", "agency")]
    return [_fill(tr(OPENING_LINES[i]), facts, tr) for i in items if i in OPENING_LINES]


def debtor(facts: ScriptFacts, tr: Translate) -> str:
    """After the titular is verified: the mandatory identification, then the stage's script."""
    scripts = {**DEFAULT_SCRIPTS, **(facts.config.get("scripts") or {})}
    stage = str(scripts.get(facts.stage, DEFAULT_SCRIPTS["friendly"]))
    return "\n".join([*_identification(facts, tr), _fill(tr(stage), facts, tr)])


def guarantor(facts: ScriptFacts, tr: Translate) -> str:
    """After the aval is verified: the identification, then the guarantor's script."""
    scripts = facts.config.get("scripts") or {}
    text = str(scripts.get("aval") or GUARANTOR_SCRIPT)
    return "\n".join([*_identification(facts, tr), _fill(tr(text), facts, tr)])
