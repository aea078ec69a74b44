"""The booking form's actions with real rasa_sdk objects and a real SQLite ticket store.

The database is made unwritable by putting a directory where its file should be (SQLite cannot
open it, even as root, for whom chmod would change nothing); removing it repairs it."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.booking_actions import (
    ActionStartBooking,
    ActionStopBooking,
    ActionSubmitBooking,
    ValidateBookingForm,
)
from actions.fallback_actions import previous_turn_was_fallback
from clinic import frontdesk
from clinic.frontdesk import store as tickets
from clinic.frontdesk.outbox import OUTBOX_DIR_ENV
from clinic.settings import get_settings
from tests.support.replies import run_action, text_of
from tests.support.trackers import make_tracker


def tracker(
    intent: str = "request_booking",
    slots: dict[str, Any] | None = None,
    entities: list[tuple[str, Any]] | None = None,
    events: list[dict] | None = None,
) -> Tracker:
    """A message inside the booking form."""
    return make_tracker(
        intent, entities, slots, events=events, active_loop={"name": "booking_form"}
    )


@pytest.mark.parametrize(
    "intent, kind, context, treatment",
    [("request_booking", "booking", ["prp"], "prp"), ("request_human", "callback", None, None),
     ("nlu_fallback", "callback", ["exosomes"], "exosomes")],
)  # fmt: skip
def test_start_booking_sets_kind_prefills_treatment_and_starts_the_form(
    intent, kind, context, treatment
) -> None:
    dispatcher = CollectingDispatcher()
    events = ActionStartBooking().run(dispatcher, tracker(intent, {"treatments": context}), {})
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert (slots["booking_kind"], slots["treatment_of_interest"]) == (kind, treatment)
    assert events[-1] == {"event": "followup", "name": "booking_form", "timestamp": None}
    assert "stop" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(
    "slot, value, expected",
    [("contact_name", "  Sam   Taylor ", "Sam Taylor"), ("contact_name", "how much is prp?", None),
     ("contact_name", "R2D2", None), ("contact_details", "07700 900123", "07700900123"),
     ("contact_details", "nope", None), ("preferred_time", "mornings", "mornings"),
     ("preferred_time", "x" * 300, None), ("treatment_of_interest", "not sure yet", "undecided"),
     ("treatment_of_interest", "prp", "prp"), ("treatment_of_interest", "laser", None)],
)  # fmt: skip
def test_form_validation(slot: str, value: str, expected) -> None:
    dispatcher = CollectingDispatcher()
    validate = getattr(ValidateBookingForm(), f"validate_{slot}")
    asked = tracker(slots={"requested_slot": slot})
    assert validate(value, dispatcher, asked, {}) == {slot: expected}
    assert bool(dispatcher.messages) == (expected is None)  # a clear message when refused


@pytest.mark.parametrize("slot", ["contact_name", "contact_details", "preferred_time"])
def test_no_complaint_about_a_question_not_asked_yet(slot: str) -> None:
    # When the form starts, its slots are cleared: validating them must stay silent.
    dispatcher = CollectingDispatcher()
    validate = getattr(ValidateBookingForm(), f"validate_{slot}")
    assert validate(None, dispatcher, tracker(slots={"requested_slot": None}), {}) == {slot: None}
    assert dispatcher.messages == []


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(tickets.DB_PATH_ENV, str(tmp_path / "tickets.db"))
    monkeypatch.delenv(tickets.URL_ENV, raising=False)
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "outbox"))
    frontdesk.get_store.cache_clear()
    yield tickets.TicketStore.from_env()
    frontdesk.get_desk().close()
    frontdesk.get_store.cache_clear()


FILLED = {"booking_kind": "callback", "contact_name": "Sam", "contact_details": "sam@example.com",
          "treatment_of_interest": "undecided", "preferred_time": "mornings"}  # fmt: skip


@pytest.mark.parametrize("consent, stored", [(True, 1), (False, 0), (None, 0)])
def test_submit_stores_only_with_consent_and_clears_the_slots(store, consent, stored) -> None:
    dispatcher = CollectingDispatcher()
    events = ActionSubmitBooking().run(
        dispatcher, tracker(slots={**FILLED, "consent": consent}), {}
    )
    assert len(store.list_open()) == stored
    assert dispatcher.messages[-1]["custom"]["reply"]["type"] == "handoff"
    cleared = {e["name"] for e in events if e["event"] == "slot" and e["value"] is None}
    assert {"contact_name", "contact_details", "consent"} <= cleared
    if stored:
        (ticket,) = store.list_open()
        assert (ticket.category, ticket.urgency, ticket.contact_email) == (
            "callback",
            "soon",
            "sam@example.com",
        )


def test_stop_clears_everything(store) -> None:
    dispatcher = CollectingDispatcher()
    events = ActionStopBooking().run(dispatcher, tracker(slots=FILLED), {})
    assert store.list_open() == []
    assert all(e["value"] is None for e in events if e["event"] == "slot")


def test_previous_turn_was_fallback() -> None:
    def events(previous_action: str) -> list[dict]:
        return [
            {"event": "user", "text": "hm"},
            {"event": "action", "name": previous_action},
            {"event": "action", "name": "action_listen"},
            {"event": "user", "text": "zorp"},
        ]

    assert previous_turn_was_fallback(tracker(events=events("action_fallback")))
    assert not previous_turn_was_fallback(tracker(events=events("action_answer_question")))
    assert not previous_turn_was_fallback(tracker(events=[{"event": "user", "text": "zorp"}]))


@pytest.mark.parametrize(
    "text, intent, confidence, rejected",
    [("what is prp?", "ask_overview", 0.95, True), ("how much is it", "ask_cost", 0.9, True),
     ("Priya Patel", "ask_cost", 0.47, False), ("after 5pm", "ask_aftercare", 0.98, False),
     ("Sam", "nlu_fallback", 0.3, False)],
)  # fmt: skip
def test_a_question_instead_of_an_answer_is_handed_back(text, intent, confidence, rejected) -> None:
    import asyncio

    asked = make_tracker(
        intent, text=text, confidence=confidence, slots={"requested_slot": "contact_name"},
        active_loop={"name": "booking_form"},
    )  # fmt: skip
    events = asyncio.run(ValidateBookingForm().run(CollectingDispatcher(), asked, {}))
    names = [e["event"] for e in events]
    assert ("action_execution_rejected" in names) == rejected


def submitted(slots: dict[str, Any] | None = None, message_id: str = "m1"):
    """The form's end, consent given: the action's messages, reply payload and slots."""
    return run_action(
        ActionSubmitBooking(),
        make_tracker("affirm", slots={**FILLED, "consent": True, **(slots or {})},
                     message_id=message_id, active_loop={"name": "booking_form"}),
    )  # fmt: skip


def test_a_failed_write_asks_the_patient_to_call_and_keeps_the_request(store, tmp_path) -> None:
    (tmp_path / "tickets.db").mkdir()  # the database cannot be opened, even by root
    messages, reply, _slots = submitted()
    text = text_of(messages)
    assert "couldn't save your request right now" in text
    assert f"call the clinic on {get_settings().phone}" in text
    assert "kept, and the team will see it" in text
    assert "Thank you" not in text and "reference" not in text  # no false confirmation
    assert (reply["type"], reply["ticket"], reply["filed"]) == ("handoff", None, "kept")

    (tmp_path / "tickets.db").rmdir()  # writable again: the background retry writes it
    assert frontdesk.get_desk().retry_pending() == 0
    (ticket,) = store.list_open()
    assert (ticket.category, ticket.contact_name, ticket.contact_email) == (
        "callback", "Sam", "sam@example.com",
    )  # fmt: skip
    assert ticket.messages[-1] == "Preferred time: mornings"
    assert frontdesk.get_desk().retry_pending() == 0 and len(store.list_open()) == 1


@pytest.mark.parametrize(
    "again, message_id",
    [({}, "m1"),  # the last message re-sent (or the action retried)
     ({}, "m2"),  # the form run a second time
     ({"contact_name": "sam ", "preferred_time": "Mornings"}, "m3")],  # same, typed differently
)  # fmt: skip
def test_the_same_request_sent_twice_makes_one_ticket(store, again, message_id) -> None:
    _messages, first, _slots = submitted()
    messages, second, _slots = submitted(again, message_id)
    (ticket,) = store.list_open()
    assert first["ticket"] == second["ticket"] == ticket.id
    assert (first["filed"], second["filed"]) == ("created", "existing")
    text = text_of(messages)
    assert "already with our team" in text and f"reference is {ticket.id}" in text
    assert "Thank you" not in text  # not a second confirmation


def test_different_details_are_a_second_request(store) -> None:
    submitted()
    _messages, reply, _slots = submitted({"preferred_time": "Friday after 5pm"}, "m2")
    assert reply["filed"] == "created" and len(store.list_open()) == 2


def test_the_same_booking_after_the_first_was_closed_is_a_new_ticket(store) -> None:
    _messages, first, _slots = submitted()
    store.set_status(first["ticket"], "closed")
    _messages, again, _slots = submitted(message_id="m2")
    assert again["filed"] == "created" and again["ticket"] != first["ticket"]


def test_a_duplicate_while_the_database_is_down_is_kept_once(store, tmp_path) -> None:
    (tmp_path / "tickets.db").mkdir()
    replies = [submitted(message_id=m)[1] for m in ("m1", "m2")]
    assert [r["filed"] for r in replies] == ["kept", "kept"]
    assert frontdesk.get_desk().outbox.count() == 1
    (tmp_path / "tickets.db").rmdir()
    assert frontdesk.get_desk().retry_pending() == 0 and len(store.list_open()) == 1


def test_when_the_outbox_fails_too_the_patient_is_told_the_team_does_not_have_it(
    store, tmp_path, monkeypatch
) -> None:
    (tmp_path / "tickets.db").mkdir()
    (tmp_path / "no-outbox").write_text("a file where the outbox directory should be")
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "no-outbox"))
    messages, reply, _slots = submitted()
    text = text_of(messages)
    assert "the team does not have it" in text and get_settings().phone in text
    assert "kept" not in text and (reply["ticket"], reply["filed"]) == (None, "unsaved")
