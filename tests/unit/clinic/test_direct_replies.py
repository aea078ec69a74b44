"""Replies the Rasa server sends itself (clinic.direct_replies): urgent advice keeps its
numbers to call when the action server is down or the message is too long."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from clinic.complication_screen import Triage
from clinic.contract import REPORT_COMPLICATION
from clinic.direct_replies import (
    TOO_LONG_REASON,
    UNAVAILABLE_REASON,
    max_message_chars,
    too_long_reply,
    unavailable_reply,
)
from clinic.settings import get_settings
from clinic.urgent_advice import urgent_advice, urgent_calls

TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TUESDAY_NIGHT = datetime(2026, 12, 1, 21, 22, tzinfo=timezone.utc)
BREATHING = {"layer": "rules", "sign": "allergic_reaction", "emergency": True, "evidence": "x"}


@pytest.mark.parametrize("now", [TUESDAY_NOON, TUESDAY_NIGHT])
@pytest.mark.parametrize("triage", [BREATHING, None])
def test_urgent_advice_without_the_action_server_has_the_numbers_to_call(now, triage) -> None:
    settings = get_settings()
    reply = unavailable_reply(REPORT_COMPLICATION, triage, settings, now)
    found = Triage.from_dict(triage)
    assert (reply.reply_type, reply.fields["reason"]) == ("urgent", UNAVAILABLE_REASON)
    assert reply.text == urgent_advice(found, settings, now)
    assert reply.fields["call"] == urgent_calls(found, settings, now)
    assert reply.fields["call"][-1 if triage is None else 0]["number"] == "999"


def test_the_apology_for_another_message_has_no_call_buttons() -> None:
    reply = unavailable_reply("ask_overview", None, get_settings(), TUESDAY_NOON)
    assert reply.reply_type == "handoff" and "call" not in reply.fields


def test_a_too_long_emergency_has_the_numbers_to_call() -> None:
    text = (
        "It started after the PRP session. " * 100 + "Now my lips are swelling and I cant breathe"
    )
    assert len(text) > max_message_chars()
    reply = too_long_reply(text, get_settings(), TUESDAY_NOON)
    assert (reply.reply_type, reply.fields["reason"]) == ("urgent", TOO_LONG_REASON)
    numbers = [call["number"] for call in reply.fields["call"]]
    assert numbers == ["999", get_settings().phone]


def test_a_too_long_question_has_no_call_buttons() -> None:
    reply = too_long_reply("What is PRP? " * 400, get_settings(), TUESDAY_NOON)
    assert reply.reply_type == "fallback" and "call" not in reply.fields
