"""Stand-ins of the assistant and the debtor actions for the chat's tests, following
the contracts of docs/issue 25's plan (selfservice.assistant.respond, the debtor
actions): enough to drive the chat service's flow, nothing of their logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from selfservice.chat_service import Done, Who
from store.db import transaction
from store.models import CallAttempt


@dataclass(frozen=True)
class StandInTurn:
    replies: list[str]
    actions: list[Any]
    state: dict[str, Any]


@dataclass(frozen=True)
class HandOver:
    reason: str


@dataclass(frozen=True)
class OptOut:
    channel: str | None


class StandInAssistant:
    """ "asesor" asks for an agent; "no debo" is a dispute; "baja" stops the channel;
    "hola" is understood; anything else is not, and twice in a row hands over."""

    def load(self, data: dict[str, Any], verified: bool) -> dict[str, Any]:
        return {"misunderstood": 0, **data, "verified": verified or data.get("verified", False)}

    def dump(self, state: dict[str, Any]) -> dict[str, Any]:
        return dict(state)

    def facts(self, engine: Engine, account_id: int, now: datetime) -> Any:
        return {"account_id": account_id}

    def respond(self, engine: Engine, state: dict[str, Any], text: str, facts: Any,
                now: datetime, lang: str, address: str) -> StandInTurn:  # fmt: skip
        plain = text.lower()
        if "asesor" in plain:
            return StandInTurn(["Le comunico con un asesor."], [HandOver("agent")],
                               {**state, "misunderstood": 0})  # fmt: skip
        if "no debo" in plain:
            return StandInTurn(["Registramos su aclaración."], [HandOver("dispute")], state)
        if "baja" in plain:
            return StandInTurn(["No le escribiremos más por este medio."], [OptOut("sms")], state)
        if "hola" in plain:
            return StandInTurn(["¡Hola! ¿En qué le ayudo?"], [], {**state, "misunderstood": 0})
        missed = int(state.get("misunderstood", 0)) + 1
        actions: list[Any] = [HandOver("misunderstood")] if missed >= 2 else []
        return StandInTurn(["No le entendí."], actions, {**state, "misunderstood": missed})

    def handover(self, action: Any) -> str | None:
        return action.reason if isinstance(action, HandOver) else None


@dataclass
class StandInActions:
    """Records a debtor-initiated ledger row per message, as the debtor actions do."""

    done: list[tuple[Who, Any]] = field(default_factory=list)
    refuse: bool = False

    def record_contact(self, engine: Engine, who: Who, now: datetime, text: str) -> None:
        with transaction(engine) as s:
            phone = who.address if who.channel in ("sms", "whatsapp") else None
            s.add(CallAttempt(account_id=who.account_id, phone_e164=phone, channel=who.channel,
                              direction="inbound", source="selfservice", started_at=now,
                              answered_at=now, ended_at=now, result="self_service",
                              details={"debtor_action": "message",
                                       "conversation_id": who.conversation_id}))  # fmt: skip

    async def execute(self, engine: Engine, who: Who, action: Any, now: datetime) -> Done:
        self.done.append((who, action))
        return Done("refused") if self.refuse else Done()
