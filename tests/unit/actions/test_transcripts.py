"""The conversation on a ticket (actions.common, actions.booking_actions): patient and
assistant turns built from the tracker's events, with button titles instead of payloads."""

from __future__ import annotations

import pytest

from actions.booking_actions import ActionSubmitBooking, booking_transcript
from actions.common import conversation_turns, recent_turns
from actions.triage_actions import ActionHandleComplication
from clinic import frontdesk
from clinic.clock import FIXED_NOW_ENV
from clinic.frontdesk import store as tickets
from clinic.frontdesk.outbox import OUTBOX_DIR_ENV
from tests.support.conversation_events import active_loop_event, bot_event
from tests.support.replies import run_action
from tests.support.trackers import make_tracker, user_event

COST_PRP = '/ask_cost{"treatment":"prp"}'
FEVER = {"layer": "rules", "sign": "fever", "emergency": False, "evidence": "fever"}


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(tickets.DB_PATH_ENV, str(tmp_path / "tickets.db"))
    monkeypatch.delenv(tickets.URL_ENV, raising=False)
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "outbox"))
    monkeypatch.delenv("CLINIC_NOTIFY_URL", raising=False)
    monkeypatch.setenv(FIXED_NOW_ENV, "2026-12-01T12:00:00+00:00")
    frontdesk.get_store.cache_clear()
    yield tickets.TicketStore.from_env()
    frontdesk.get_desk().close()
    frontdesk.get_store.cache_clear()


def texts(turns: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(turn["by"], turn["text"]) for turn in turns]


def test_a_clicked_button_is_its_title_and_a_typed_payload_is_words() -> None:
    events = [
        user_event("how much is it", 1.0),
        bot_event("Which treatment would you like to know about (cost)?", [("PRP", COST_PRP)]),
        bot_event(None),  # a message with only a custom payload: nothing to read
        user_event(COST_PRP, 2.0),
        bot_event(
            "PRP costs from £300.", [("Cost: Exosomes", '/ask_cost{"treatment":"exosomes"}')]
        ),
        user_event("thanks", 3.0),
        bot_event("Glad that helps."),
        # A payload the last reply did not offer (typed, or from an older reply).
        user_event('/ask_cost{"treatment":"exosomes"}', 4.0),
        {"event": "slot", "name": "topic", "value": "cost"},
    ]
    assert texts(conversation_turns(events)) == [
        ("patient", "how much is it"),
        ("assistant", "Which treatment would you like to know about (cost)?"),
        ("patient", "PRP"),
        ("assistant", "PRP costs from £300."),
        ("patient", "thanks"),
        ("assistant", "Glad that helps."),
        ("patient", "Cost · Exosomes"),
    ]


def test_buttons_of_every_message_of_the_reply_count() -> None:
    events = [
        bot_event("Here is what I know.", [("Also: Cost", COST_PRP)]),
        bot_event("Anything else?", [("Talk to a person", "/request_human")]),
        user_event(COST_PRP, 1.0),
    ]
    assert conversation_turns(events)[-1] == {"by": "patient", "text": "Also: Cost"}


def test_the_window_starts_at_the_fifth_last_patient_message() -> None:
    turns = []
    for number in range(7):
        turns += [
            {"by": "patient", "text": f"q{number}"},
            {"by": "assistant", "text": f"a{number}"},
        ]
    window = recent_turns(turns)
    assert window[0] == {"by": "patient", "text": "q2"}
    assert window[-1] == {"by": "assistant", "text": "a6"}
    assert recent_turns([{"by": "assistant", "text": "Hello"}]) == []


def test_the_complication_ticket_carries_the_transcript(store) -> None:
    events = [
        user_event("tell me about prp", 1.0),
        bot_event("PRP uses your own platelets.", [("Cost: PRP", COST_PRP)]),
        user_event(COST_PRP, 2.0),
        bot_event("PRP costs from £300."),
        user_event("I have a fever since the PRP", 3.0),
    ]
    tracker = make_tracker(
        "report_complication",
        text="I have a fever since the PRP",
        events=events,
        sender_id="patient-7",
        message_id="m-3",
        triage=FEVER,
    )
    run_action(ActionHandleComplication(), tracker)
    (ticket,) = store.list_open()
    assert [(turn.by, turn.text) for turn in ticket.transcript] == [
        ("patient", "tell me about prp"),
        ("assistant", "PRP uses your own platelets."),
        ("patient", "Cost: PRP"),
        ("assistant", "PRP costs from £300."),
        ("patient", "I have a fever since the PRP"),
    ]
    assert COST_PRP in ticket.messages  # the patient's messages stay as recorded


def test_the_booking_ticket_carries_what_led_to_it_and_the_form(store) -> None:
    events = [
        *[user_event(f"old question {n}", float(n)) for n in range(6)],
        bot_event("Mesotherapy costs from £150.", [("Book a consultation", "/request_booking")]),
        user_event("/request_booking", 10.0),
        active_loop_event("booking_form"),
        bot_event("What is your name?"),
        user_event("Sam", 11.0),
        bot_event("When would suit you?"),
        user_event("mornings", 12.0),
        bot_event("May we contact you?", [("Yes", "/affirm"), ("No", "/deny")]),
        user_event("/affirm", 13.0),
    ]
    slots = {"booking_kind": "booking", "contact_name": "Sam", "consent": True,
             "contact_details": "sam@example.com", "treatment_of_interest": "mesotherapy",
             "preferred_time": "mornings"}  # fmt: skip
    tracker = make_tracker(
        "affirm", slots=slots, events=events, active_loop={"name": "booking_form"}
    )
    assert texts(booking_transcript(tracker))[:2] == [
        ("patient", "old question 2"),
        ("patient", "old question 3"),
    ]
    run_action(ActionSubmitBooking(), tracker)
    (ticket,) = store.list_open()
    turns = [(turn.by, turn.text) for turn in ticket.transcript]
    assert turns[-7:] == [
        ("patient", "Book a consultation"),
        ("assistant", "What is your name?"),
        ("patient", "Sam"),
        ("assistant", "When would suit you?"),
        ("patient", "mornings"),
        ("assistant", "May we contact you?"),
        ("patient", "Yes"),
    ]
    assert not any(text.startswith("/") for _by, text in turns)
