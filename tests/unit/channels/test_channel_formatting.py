"""Numbered options and message splitting for channels without buttons or with length caps."""

from __future__ import annotations

import asyncio

import pytest

from channels.formatting import (
    CHANNEL_LIMITS,
    DropsReplyContract,
    OfferedOptions,
    chosen_option,
    message_parts,
    numbered_options,
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


def test_offered_options_map_a_number_to_the_payload_once() -> None:
    offered = OfferedOptions()
    offered.remember("+441234", BUTTONS)
    assert offered.resolve("+449999", "2") == "2"  # another patient
    assert offered.resolve("+441234", "what is prp") == "what is prp"
    assert offered.resolve("+441234", "2") == BUTTONS[1]["payload"]
    assert offered.resolve("+441234", "2") == "2"  # used up


def test_offered_options_are_bounded() -> None:
    offered = OfferedOptions(max_recipients=2)
    for recipient in ("a", "b", "c"):
        offered.remember(recipient, BUTTONS)
    assert offered.resolve("a", "1") == "1"
    assert offered.resolve("c", "1") == BUTTONS[0]["payload"]


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
