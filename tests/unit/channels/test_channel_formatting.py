"""Numbered options and message splitting for channels without buttons or with length caps."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.formatting import (
    CHANNEL_LIMITS,
    DropsReplyContract,
    chosen_option,
    message_parts,
    numbered_options,
    resolve_numbered_option,
    split_message,
)

BUTTONS = [
    {"title": "Mesotherapy", "payload": '/inform_treatment{"treatment":"mesotherapy"}'},
    {"title": "PRP", "payload": '/inform_treatment{"treatment":"prp"}'},
]


def test_short_text_is_one_part() -> None:
    assert split_message("Hello there.", 1600) == ["Hello there."]


@pytest.mark.parametrize("channel, limit", sorted(CHANNEL_LIMITS.items()))
def test_long_text_splits_at_sentences_under_each_limit(channel: str, limit: int) -> None:
    sentences = [f"Sentence number {i} says something about the treatment." for i in range(400)]
    text = " ".join(sentences)
    parts = split_message(text, limit)
    assert len(parts) > 1
    assert all(len(part) <= limit for part in parts)
    assert all(part.endswith(".") for part in parts)  # whole sentences only
    assert " ".join(parts) == text  # nothing lost


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces() -> None:
    parts = split_message("word " * 100, 42)
    assert all(len(part) <= 42 for part in parts)
    assert " ".join(parts) == ("word " * 100).strip()


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    assert split_message("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_numbered_options() -> None:
    assert numbered_options("Which treatment?", BUTTONS) == (
        "Which treatment?\n\n1. Mesotherapy\n2. PRP\n\nReply with a number."
    )


@pytest.mark.parametrize(
    "text, expected",
    [("2", 1), (" 1 ", 0), ("2.", 1), ("option 2", 1), ("#1", 0), ("3", None), ("0", None),
     ("2 please", None), ("prp", None), ("", None)],
)  # fmt: skip
def test_chosen_option(text: str, expected) -> None:
    assert chosen_option(text, 2) == expected


def _store_with(conversation_id: str, *events) -> InMemoryTrackerStore:
    store = InMemoryTrackerStore(Domain.empty())
    tracker = DialogueStateTracker(conversation_id, [])
    for event in events:
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return store


def _resolve(store: InMemoryTrackerStore, conversation_id: str, text: str) -> str:
    return asyncio.run(resolve_numbered_option(store, conversation_id, text))


def test_a_number_picks_the_payload_of_the_conversations_last_offered_buttons() -> None:
    store = _store_with(
        "+441234",
        UserUttered("book me in"),
        BotUttered("Which treatment?", {"buttons": BUTTONS}),
        BotUttered("You can also call us."),
    )
    assert _resolve(store, "+441234", "2") == BUTTONS[1]["payload"]
    assert _resolve(store, "+441234", "option 1") == BUTTONS[0]["payload"]
    assert _resolve(store, "+441234", "what is prp") == "what is prp"
    assert _resolve(store, "+441234", "9") == "9"  # not an option
    assert _resolve(store, "+449999", "2") == "2"  # another patient: nothing offered


def test_options_answered_already_are_not_picked_again() -> None:
    store = _store_with(
        "+441234",
        BotUttered("Which treatment?", {"buttons": BUTTONS}),
        UserUttered("prp"),
        BotUttered("PRP is ..."),
    )
    assert _resolve(store, "+441234", "2") == "2"


def test_message_parts_sends_paragraphs_apart_each_under_the_limit() -> None:
    text = "First paragraph. It has two sentences.\n\n" + "Second one is long. " * 10
    parts = message_parts(text, 60)
    assert parts[0] == "First paragraph. It has two sentences."
    assert all(len(part) <= 60 for part in parts)
    assert " ".join(parts[1:]) == ("Second one is long. " * 10).strip()


class _RecordingChannel:
    def __init__(self) -> None:
        self.sent: list[object] = []

    async def send_custom_json(self, recipient_id: str, json_message: object, **kwargs) -> None:
        self.sent.append(json_message)


class _Channel(DropsReplyContract, _RecordingChannel):
    pass


def test_the_reply_contract_is_dropped_other_custom_payloads_go_through() -> None:
    channel = _Channel()
    asyncio.run(channel.send_custom_json("patient", {"reply": {"type": "answer"}}))
    asyncio.run(channel.send_custom_json("patient", {"attachment": "map"}))
    asyncio.run(channel.send_custom_json("patient", ["not", "a", "dict"]))
    assert channel.sent == [{"attachment": "map"}, ["not", "a", "dict"]]
