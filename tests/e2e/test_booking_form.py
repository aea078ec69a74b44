"""The booking / call-back form end to end: real servers, REST channel, SQLite tickets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic.frontdesk.store import TicketStore
from scripts.servers import RunningAssistant, running_assistant
from tests.support.replies import reply_of, text_of


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    with running_assistant(trained_model, tmp_path_factory.mktemp("form")) as running:
        yield running


@pytest.fixture()
def store(assistant) -> TicketStore:
    return TicketStore(f"sqlite:///{assistant.work_dir / 'tickets.db'}")


def converse(assistant, turns: list[str]) -> list[tuple[list[dict], dict]]:
    sender = uuid.uuid4().hex
    results = []
    for text in turns:
        messages = assistant.send(text, sender)
        results.append((messages, reply_of(messages)))
    return results


def test_complete_booking_creates_a_routine_ticket(assistant, store) -> None:
    turns = converse(
        assistant,
        ["tell me about microneedling", "I'd like to book a consultation", "Sam Taylor",
         "07700 900123", "weekday mornings", "/affirm"],
    )  # fmt: skip
    steps = [reply.get("step") for _, reply in turns[1:5]]
    # the treatment was prefilled from the conversation, so it is not asked
    assert steps == ["contact_name", "contact_details", "preferred_time", "consent"]
    assert all(reply["type"] == "booking" for _, reply in turns[1:])
    final = turns[-1][1]
    ticket = store.get(final["ticket"])
    assert (ticket.category, ticket.urgency, ticket.treatment) == (
        "booking",
        "routine",
        "microneedling",
    )
    assert (ticket.contact_name, ticket.contact_phone) == ("Sam Taylor", "07700900123")
    assert "tell me about microneedling" in ticket.messages


def test_invalid_phone_is_asked_again_then_accepted(assistant, store) -> None:
    turns = converse(
        assistant,
        ["can someone call me back", "Alex Morgan", "call me maybe", "alex@example.com",
         "not sure yet", "after 5pm", "yes"],
    )  # fmt: skip
    invalid_messages, invalid_reply = turns[2]
    assert "doesn't look like a phone number or an email address" in text_of(invalid_messages)
    assert invalid_reply["step"] == "contact_details"
    assert turns[3][1]["step"] == "treatment_of_interest"
    assert all(reply["type"] == "handoff" for _, reply in turns[1:])
    ticket = store.get(turns[-1][1]["ticket"])
    assert (ticket.category, ticket.urgency, ticket.contact_email) == (
        "callback",
        "soon",
        "alex@example.com",
    )
    assert ticket.treatment is None


def test_stop_midway_stores_nothing(assistant, store) -> None:
    before = len(store.list_open())
    turns = converse(assistant, ["book an appointment for PRP", "Jo Smith", "never mind"])
    messages, reply = turns[-1]
    assert "nothing has been stored" in text_of(messages)
    assert reply["ticket"] is None
    assert len(store.list_open()) == before
    # the conversation carries on normally afterwards
    assert reply_of(assistant.send("what is prp"))["type"] == "answer"


def test_consent_refused_stores_nothing(assistant, store) -> None:
    before = len(store.list_open())
    turns = converse(
        assistant,
        ["I want to talk to a person", "Kim Lee", "+44 7700 900456", "/inform_treatment{\"treatment\":\"exosomes\"}",
         "any time", "/deny"],
    )  # fmt: skip
    messages, reply = turns[-1]
    assert "haven't stored your details" in text_of(messages)
    assert reply["ticket"] is None
    assert len(store.list_open()) == before


def test_a_complication_during_the_form_comes_first(assistant, store) -> None:
    turns = converse(assistant, ["book a consultation", "my lips are swelling and I can't breathe"])
    assert turns[-1][1]["type"] == "urgent"


def test_second_fallback_in_a_row_offers_a_person(assistant) -> None:
    turns = converse(assistant, ["blorp fizzle wug", "zibble wobble grunk"])
    assert turns[0][1]["type"] == "fallback"
    assert (turns[1][1]["type"], turns[1][1]["step"]) == ("handoff", "contact_name")
