"""`make shell` (scripts/chat.py): text only, buttons as numbers, numbers pick buttons."""

from __future__ import annotations

from scripts.chat import render, resolve

TURN = [
    {"recipient_id": "me", "text": "Which treatment would you like to know about?",
     "buttons": [{"title": "PRP", "payload": '/inform_treatment{"treatment":"prp"}'},
                 {"title": "Exosomes", "payload": '/inform_treatment{"treatment":"exosomes"}'}]},
    {"recipient_id": "me", "custom": {"reply": {"type": "clarify", "topic": "cost"}}},
]  # fmt: skip


def test_the_reply_payload_is_not_shown_and_buttons_are_numbered() -> None:
    lines, buttons = render(TURN)
    assert lines == [
        "Which treatment would you like to know about?\n\n1. PRP\n2. Exosomes\n\n"
        "Reply with a number."
    ]
    assert "reply" not in " ".join(lines) and len(buttons) == 2


def test_a_number_picks_a_button_and_other_text_is_sent_as_typed() -> None:
    _, buttons = render(TURN)
    assert resolve("2", buttons) == '/inform_treatment{"treatment":"exosomes"}'
    assert resolve("3", buttons) == "3"
    assert resolve("how much is prp", buttons) == "how much is prp"
    assert resolve("2", []) == "2"
