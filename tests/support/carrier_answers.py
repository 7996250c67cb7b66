"""What each answer of a SIP carrier becomes in the dialer: the Q.850 cause Asterisk 22
gives the dialer's channel when its PJSIP trunk gets that answer, and the attempt's
result. One table for the unit tests of the mapping (tests/unit/dialer/
test_carrier_answer_mapping.py) and the real-Asterisk test that measures it end to end
(tests/integration/asterisk/test_carrier_answers.py, whose sipp carrier,
sipp/carrier_answers.xml, answers by the dialed number's last two digits).
docs/real-floor.md, "What a carrier answers", is this table in words."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CarrierAnswer:
    suffix: str  # the dialed number's last two digits (sipp/carrier_answers.xml)
    answer: str  # what the carrier sends
    cause: int  # the Hangup Cause of the dialer's channel (cobrador-<attempt id>)
    result: str  # the attempt's result
    answered: bool = False


# Answers that end the call before anyone answers.
REFUSALS = (
    CarrierAnswer("04", "404 Not Found", 1, "invalid_number"),
    CarrierAnswer("84", "484 Address Incomplete", 28, "invalid_number"),
    CarrierAnswer("10", "410 Gone", 22, "invalid_number"),
    CarrierAnswer("14", "183 early media (an announcement), then 404", 1, "invalid_number"),
    CarrierAnswer("80", "480 Temporarily Unavailable", 19, "no_answer"),
    CarrierAnswer("81", "480 with Reason: Q.850;cause=1", 19, "no_answer"),
    CarrierAnswer("08", "408 Request Timeout", 18, "no_answer"),
    CarrierAnswer("40", "180, rings past the ring timeout: our CANCEL", 19, "no_answer"),
    CarrierAnswer("86", "486 Busy Here", 17, "busy"),
    CarrierAnswer("60", "600 Busy Everywhere", 17, "busy"),
    CarrierAnswer("63", "603 Decline", 21, "declined"),
    # The carrier refusing us, not the debtor: chan_pjsip says 21 as for a 603, and
    # cobrador-outbound hands them back as 52 (outgoing calls barred).
    CarrierAnswer("41", "401 Unauthorized", 52, "failed"),
    CarrierAnswer("47", "407 Proxy Authentication Required", 52, "failed"),
    CarrierAnswer("43", "403 Forbidden", 52, "failed"),
    CarrierAnswer("53", "503 Service Unavailable", 34, "failed"),
    CarrierAnswer("52", "502 Bad Gateway", 27, "failed"),
)
# Answers after which someone is on the line (AMD hears no audio: NOTSURE, a person).
ANSWERS = (
    CarrierAnswer(
        "18",
        "183 early media, 200 OK; BYE 6 s later, in the agent's bridge",
        16,
        "contact",
        answered=True,
    ),  # fmt: skip
    CarrierAnswer(
        "77", "180, 200 OK and BYE at once, while AMD listens", 16, "early_hangup", answered=True
    ),  # fmt: skip
)
CARRIER_ANSWERS = REFUSALS + ANSWERS
