"""One outbound call as the dial loop holds it while it lives: the pure call state
(`dialer.call_state.Call`) and what placing it left behind (claim, phone, reserved agents)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dialer.call_state import Call, CallState
from dialer.hopper import Claim


@dataclass
class LiveCall:
    call: Call
    claim: Claim
    phone: str
    profile_name: str
    callback_id: int | None = None
    originate_failed: int | None = None  # OriginateResponse Failure: its Reason
    originate_failed_at: float | None = None
    unknown_since: float | None = None  # Originate sent, link lost before the reply
    # Agents reserved for this call: one whose reservation was not followed through
    # (Redis failed right after reserve) is released with the call, not left reserved.
    reserved: set[int] = field(default_factory=set)
    # The debtor's country, region and local hour at the final check: the local-hour
    # metrics' labels (placing.local_hour_labels); None when no zone was known.
    local_hour: dict[str, str] | None = None

    # Read-only views of the call state, for the loop's readers (floor, tests, wallboard).
    @property
    def attempt_id(self) -> int:
        return self.call.attempt_id

    @property
    def account_id(self) -> int:
        return self.call.account_id

    @property
    def state(self) -> CallState:
        return self.call.state

    @property
    def agent_id(self) -> int | None:
        return self.call.agent_id

    @property
    def is_ringing(self) -> bool:
        return self.call.is_ringing

    @property
    def channel(self) -> str | None:
        return self.call.channel
