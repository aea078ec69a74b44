"""Replies the Rasa server sends itself, without the action server (``serving``).

- :func:`unavailable_reply`: the answering service (the action server) failed. A patient is
  never left with silence: a message the complication check marked urgent still gets the
  urgent advice in full (it needs only the clinic settings and the clock, never the action
  server or a database), with the numbers to call (``call``, as the action server's urgent
  reply has them); any other message gets an apology and the clinic's phone number.
- :func:`too_long_reply`: a message over :func:`max_message_chars` is not parsed (tokenising
  and featurising it would stall every other patient); it is still screened for red flags,
  so a long story that describes an emergency gets the urgent advice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clinic.complication_screen import Triage, triage
from clinic.contract import REPORT_COMPLICATION
from clinic.settings import ClinicSettings
from clinic.urgent_advice import urgent_advice, urgent_calls

# Mark the replies in the reply contract (so one turn never gets the first one twice).
UNAVAILABLE_REASON = "service_unavailable"
TOO_LONG_REASON = "message_too_long"

MAX_MESSAGE_CHARS_ENV = "CLINIC_MAX_MESSAGE_CHARS"
DEFAULT_MAX_MESSAGE_CHARS = 2000
# How much of an over-long message the red-flag screen reads (bounded, so a 100 kB message
# costs what a 20 kB one does).
SCREENED_CHARS = 20_000


def max_message_chars(environ: dict[str, str] | None = None) -> int:
    """The longest message the assistant parses (``$CLINIC_MAX_MESSAGE_CHARS``, 2000)."""
    raw = (os.environ if environ is None else environ).get(MAX_MESSAGE_CHARS_ENV, "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_MESSAGE_CHARS


@dataclass(frozen=True)
class DirectReply:
    reply_type: str
    text: str
    fields: dict[str, Any]


def unavailable_reply(
    intent: str | None, triage: dict[str, Any] | None, settings: ClinicSettings, now: datetime
) -> DirectReply:
    """The reply for a turn whose action failed; ``triage`` is what the NLU's complication
    check attached to the message (``None`` if nothing)."""
    found = Triage.from_dict(triage)
    if found is not None or intent == REPORT_COMPLICATION:
        return DirectReply(
            "urgent",
            urgent_advice(found, settings, now),
            {
                "reason": UNAVAILABLE_REASON,
                "sign": found.sign if found else None,
                "emergency": bool(found and found.emergency),
                "ticket": None,
                "call": urgent_calls(found, settings, now),
            },
        )
    return DirectReply(
        "handoff",
        "Sorry, I can't look that up right now. Please try again in a few minutes, or call "
        f"the clinic on {settings.phone}.",
        {"reason": UNAVAILABLE_REASON},
    )


def too_long_reply(text: str, settings: ClinicSettings, now: datetime) -> DirectReply:
    """The reply to a message longer than the cap: the urgent advice if it describes a
    complication (red-flag rules and symptom screen), else a request to shorten it."""
    found = triage(text[:SCREENED_CHARS])
    if found is not None:
        return DirectReply(
            "urgent",
            urgent_advice(found, settings, now),
            {
                "reason": TOO_LONG_REASON,
                "sign": found.sign,
                "emergency": found.emergency,
                "ticket": None,
                "call": urgent_calls(found, settings, now),
            },
        )
    limit = max_message_chars()
    return DirectReply(
        "fallback",
        f"Sorry, that message is too long for me to read (the limit is {limit:,} characters). "
        "Could you send your question in a few words? If something is wrong after a "
        f"treatment, please call the clinic on {settings.phone}.",
        {"reason": TOO_LONG_REASON},
    )
