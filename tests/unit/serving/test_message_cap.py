"""The message cap and readable text (serving.message_cap), on Rasa's own Agent and messages."""

from __future__ import annotations

import asyncio
import json

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from clinic.direct_replies import TOO_LONG_REASON, max_message_chars
from serving import message_cap
from tests.support.replies import reply_of, text_of


@pytest.fixture(autouse=True)
def installed():
    message_cap.install()
    yield
    message_cap.uninstall()


def handled(message: UserMessage) -> UserMessage:
    """``message`` after the wrapped ``Agent.handle_message`` (an Agent with no model, which
    ignores what reaches it: only the wrapper's own work shows)."""
    asyncio.run(Agent().handle_message(message))
    return message


def test_lone_surrogates_in_the_text_become_replacement_characters() -> None:
    # What json.loads makes of '{"message": "\\ud800what is prp\\udfff"}'.
    text = json.loads('"\\ud800what is prp\\udfff"')
    message = handled(UserMessage(text, sender_id="rest:alice"))
    assert message.text == "\ufffdwhat is prp\ufffd"
    message.text.encode("utf-8")  # what spaCy and the tracker store do
    assert message.sender_id == "rest:alice"


def test_utf8_encoded_surrogates_in_a_body_are_made_readable_too() -> None:
    text = json.loads(b'"what is \xed\xa0\x80prp"')  # decoded with surrogatepass
    assert handled(UserMessage(text)).text == "what is \ufffdprp"


def test_a_sender_id_with_lone_surrogates_is_spelt_out_so_two_stay_apart() -> None:
    first = handled(UserMessage("hi", sender_id="rest:x\ud800"))
    second = handled(UserMessage("hi", sender_id="rest:x\udfff"))
    assert (first.sender_id, second.sender_id) == ("rest:x\\ud800", "rest:x\\udfff")


def test_valid_text_and_sender_are_left_alone() -> None:
    text = "what is prp 👩\u200d⚕️ \ufeff é"
    message = handled(UserMessage(text, sender_id="rest:患者😀"))
    assert (message.text, message.sender_id) == (text, "rest:患者😀")


def test_a_message_over_the_cap_gets_the_too_long_reply_without_the_agent() -> None:
    collector = CollectingOutputChannel()
    handled(UserMessage("x\ud800" * max_message_chars(), collector, sender_id="rest:alice"))
    assert reply_of(collector.messages) == {"type": "fallback", "reason": TOO_LONG_REASON}
    assert "too long" in text_of(collector.messages)
    assert {m["recipient_id"] for m in collector.messages} == {"rest:alice"}


def test_a_message_at_the_cap_goes_on_to_the_agent() -> None:
    collector = CollectingOutputChannel()
    handled(UserMessage("x" * max_message_chars(), collector))
    assert collector.messages == []  # the model-less Agent ignored it; no too-long reply


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("/restart", "restart"),
        ("/back", "back"),
        ("/session_start", "session start"),
        ('/restart{"x": 1}', 'restart{"x": 1}'),
        ("  /RESTART", "RESTART"),
    ],
)
def test_silent_built_in_intents_typed_are_read_as_words(typed: str, read: str) -> None:
    assert handled(UserMessage(typed)).text == read


@pytest.mark.parametrize("payload", ["/ask_cost", "/restarts", "/back-pain", "restart please"])
def test_other_payloads_and_words_are_left_alone(payload: str) -> None:
    assert handled(UserMessage(payload)).text == payload
