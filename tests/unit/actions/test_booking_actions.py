"""The booking form's actions with real rasa_sdk objects."""

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
    frontdesk.get_store.cache_clear()
    yield tickets.TicketStore.from_env()
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
