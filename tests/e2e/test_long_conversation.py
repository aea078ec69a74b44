"""Long conversations answer the same with the recent history as with all of it
(serving.recent_history): the same 40-turn conversations, with questions, follow-ups, a
booking form, fallbacks, "ok"s and a complication, on a server whose policies and actions
see 4 turns back and on one that sees everything; every reply must be the same."""

from __future__ import annotations

import uuid

import pytest

from scripts.servers import running_assistant
from tests.support.replies import reply_of

QUESTIONS = [
    "what is prp", "how many sessions do I need?", "and the recovery time?", "ok",
    "how much is microneedling", "prp vs exosomes", "thanks", "blorp fizzle wug",
    "what helps with acne scars", "does it hurt?", "are you open on saturday", "ok thanks",
]  # fmt: skip
BOOKING = ["I'd like to book a consultation", "Sam Taylor", "what is the downtime?",
           "07700 900123", "exosomes", "weekday mornings", "yes"]  # fmt: skip
CONVERSATIONS = {
    "questions": [*QUESTIONS * 3, "my lips are swelling and I can't breathe", "ok"],
    "booking late": [*QUESTIONS * 2, *BOOKING, *QUESTIONS[:6]],
    "two fallbacks then a person": [
        *QUESTIONS,
        "zibble wobble",
        "grunk plok",
        "Alex Morgan",
        "stop",
        *QUESTIONS,
    ],
}


@pytest.fixture(scope="module")
def servers(trained_model, tmp_path_factory):
    with (
        running_assistant(trained_model, tmp_path_factory.mktemp("short"),
                          env={"CLINIC_HISTORY_TURNS": "4"}) as short,
        running_assistant(trained_model, tmp_path_factory.mktemp("full"),
                          env={"CLINIC_HISTORY_TURNS": "100000"}) as full,
    ):  # fmt: skip
        yield short, full


def comparable(messages: list[dict]) -> list:
    reply = dict(reply_of(messages))
    reply.pop("ticket", None)  # each server has its own ticket database
    texts = [m.get("text") for m in messages if m.get("text")]
    buttons = [b.get("payload") for m in messages for b in m.get("buttons") or []]
    return [reply, texts, buttons]


@pytest.mark.parametrize("name", CONVERSATIONS)
def test_every_reply_is_the_same_with_the_recent_history(servers, name):
    short, full = servers
    sender = uuid.uuid4().hex
    for turn, message in enumerate(CONVERSATIONS[name], start=1):
        got = comparable(short.send(message, sender))
        expected = comparable(full.send(message, sender))
        assert got == expected, f"turn {turn} ({message!r}) differs"
