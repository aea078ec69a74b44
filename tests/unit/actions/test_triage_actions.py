"""The urgent reply, the episode's ticket and the call-back, with real objects: rasa_sdk's
CollectingDispatcher and Tracker (from the shared factory) and a SQLite ticket store; the
clock is fixed through $CLINIC_FIXED_NOW, as the end-to-end tests do.

The database is made unwritable by putting a directory where its file should be (SQLite cannot
open it, even as root, for whom chmod would change nothing); removing it repairs it."""

from __future__ import annotations

import pytest

from actions.triage_actions import (
    CALLBACK_PHONE_SLOT,
    CALLBACK_TICKET_SLOT,
    URGENT_PER_SENDER_PER_HOUR_ENV,
    ActionAnswerYesOrNo,
    ActionHandleComplication,
    ActionTakeCallbackPhone,
)
from clinic import clock, frontdesk
from clinic.clock import FIXED_NOW_ENV
from clinic.complication_screen import Triage
from clinic.frontdesk import store as tickets
from clinic.frontdesk.outbox import OUTBOX_DIR_ENV
from clinic.settings import get_settings
from clinic.urgent_advice import urgent_advice, urgent_calls
from tests.support.replies import run_action, text_of
from tests.support.trackers import make_tracker, user_event

TUESDAY_NOON = "2026-12-01T12:00:00+00:00"
TUESDAY_NIGHT = "2026-12-01T21:22:00+00:00"  # the example clinic closed at 18:00
FEVER = {"layer": "rules", "sign": "fever", "emergency": False, "evidence": "fever"}
BREATHING = {"layer": "rules", "sign": "allergic_reaction", "emergency": True, "evidence": "x"}
UNSURE = {"layer": "classifier", "sign": None, "emergency": False, "evidence": "score 0.9"}


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(tickets.DB_PATH_ENV, str(tmp_path / "tickets.db"))
    monkeypatch.delenv(tickets.URL_ENV, raising=False)
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "outbox"))
    monkeypatch.delenv("CLINIC_NOTIFY_URL", raising=False)
    monkeypatch.setenv(FIXED_NOW_ENV, TUESDAY_NOON)
    frontdesk.get_store.cache_clear()
    yield tickets.TicketStore.from_env()
    frontdesk.get_desk().close()
    frontdesk.get_store.cache_clear()


def _tracker(
    text: str,
    triage: dict | None = FEVER,
    channel: str = "rest",
    sender: str = "patient-1",
    message_id: str = "m-2",
):
    return make_tracker(
        "report_complication",
        slots={"treatments": ["prp"], "topic": "overview"},
        text=text,
        confidence=1.0,
        events=[user_event("tell me about prp", 1.0, channel), user_event(text, 2.0, channel)],
        sender_id=sender,
        message_id=message_id,
        triage=triage,
    )


@pytest.mark.parametrize(
    "text, triage, first_words",
    [
        ("my throat feels tight and I can't breathe", BREATHING, "Please call 999 now"),
        ("I have a fever since the PRP", FEVER, "Please call the clinic now"),
        ("it just feels wrong since the PRP", UNSURE, "This may need checking now"),
    ],
)
def test_urgent_reply_ticket_and_callback_question(store, text, triage, first_words) -> None:
    messages, reply, slots = run_action(ActionHandleComplication(), _tracker(text, triage))
    assert messages[0]["text"].startswith(first_words)
    assert "phone number" in messages[-1]["text"] and len(messages) == 2
    assert (reply["type"], reply["layer"], reply["emergency"], reply["callback"]) == (
        "urgent", triage["layer"], triage["emergency"], True,
    )  # fmt: skip
    # The numbers to call, for tap-to-call buttons: at noon the clinic is open.
    settings = get_settings()
    assert reply["call"] == urgent_calls(Triage.from_dict(triage), settings, clock.now())
    numbers = [call["number"] for call in reply["call"]]
    first = settings.emergency_number if triage["emergency"] else settings.phone
    assert numbers[0] == first and settings.phone in numbers
    (ticket,) = store.list_open()
    assert (ticket.id, ticket.category, ticket.urgency, ticket.treatment) == (
        reply["ticket"], "complication", "urgent", "prp",
    )  # fmt: skip
    assert ticket.triage_layer == triage["layer"] and ticket.messages[-1] == text
    assert slots == {CALLBACK_TICKET_SLOT: ticket.id}


def test_report_button_without_a_description_asks_and_opens_no_ticket(store) -> None:
    messages, reply, slots = run_action(
        ActionHandleComplication(), _tracker("/report_complication", triage=None)
    )
    assert "tell me here what you are noticing" in text_of(messages)
    assert (reply["type"], reply["ticket"], len(messages)) == ("urgent", None, 1)
    assert reply["call"] == urgent_calls(None, get_settings(), clock.now())
    assert store.list_open() == [] and slots == {}


def test_out_of_hours_the_reply_says_closed_and_gives_the_out_of_hours_line(
    store, monkeypatch
) -> None:
    monkeypatch.setenv(FIXED_NOW_ENV, TUESDAY_NIGHT)
    settings = get_settings()
    messages, reply, _ = run_action(ActionHandleComplication(), _tracker("I have a fever"))
    assert messages[0]["text"].startswith("The clinic is closed now (it opens tomorrow at 09:00)")
    assert settings.non_emergency_line in messages[0]["text"]
    assert "when it opens" in messages[1]["text"] and reply["clinic_open"] is False
    numbers = [call["number"] for call in reply["call"]]
    assert numbers == [settings.non_emergency_line, settings.emergency_number]


def test_one_ticket_per_episode_follow_ups_are_appended(store) -> None:
    texts = ["I have a fever", "now it's 39.1", "and there's pus"]
    ids = set()
    for number, text in enumerate(texts):
        _, reply, _ = run_action(
            ActionHandleComplication(), _tracker(text, message_id=f"m-{number}")
        )
        ids.add(reply["ticket"])
    (ticket,) = store.list_open()
    assert ids == {ticket.id} and list(ticket.messages[-3:]) == texts


def test_another_sender_gets_their_own_ticket(store) -> None:
    run_action(ActionHandleComplication(), _tracker("I have a fever", sender="a"))
    run_action(ActionHandleComplication(), _tracker("I have a fever", sender="b"))
    assert len(store.list_open()) == 2


def test_a_sender_over_the_hourly_limit_is_filed_as_soon_not_urgent(store, monkeypatch) -> None:
    monkeypatch.setenv(URGENT_PER_SENDER_PER_HOUR_ENV, "2")
    urgencies = []
    for number in range(3):
        _, reply, _ = run_action(
            ActionHandleComplication(), _tracker("I have a fever", message_id=f"m-{number}")
        )
        ticket = store.get(reply["ticket"])
        urgencies.append(ticket.urgency)
        store.set_status(ticket.id, "closed")  # the desk closes it: the next is a new episode
    assert urgencies == ["urgent", "urgent", "soon"]
    assert reply["emergency"] is False and reply["type"] == "urgent"  # the advice still goes


def test_sms_tickets_carry_the_phone_number_and_ask_for_none(store) -> None:
    tracker = _tracker("I have a fever", channel="twilio", sender="+447700900123")
    messages, reply, slots = run_action(ActionHandleComplication(), tracker)
    (ticket,) = store.list_open()
    assert (ticket.channel, ticket.contact_phone) == ("twilio", "+447700900123")
    assert len(messages) == 1 and reply["callback"] is False and slots == {}


def test_a_retried_action_creates_no_second_ticket(store) -> None:
    for _ in range(2):
        run_action(ActionHandleComplication(), _tracker("I have a fever", message_id="same"))
    (ticket,) = store.list_open()
    assert list(ticket.messages) == ["tell me about prp", "I have a fever"]


def test_the_advice_goes_out_even_if_postgresql_is_unreachable(store, monkeypatch) -> None:
    monkeypatch.setenv(tickets.URL_ENV, "postgresql://nobody@127.0.0.1:1/none")
    messages, reply, slots = run_action(
        ActionHandleComplication(), _tracker("my vision went blurry", BREATHING)
    )
    assert messages[0]["text"].startswith("Please call 999 now")
    assert (reply["type"], reply["ticket"], reply["filed"], slots) == ("urgent", None, "kept", {})
    assert reply["call"][0] == {"label": "Call 999", "number": "999", "kind": "emergency"}
    assert frontdesk.get_desk().outbox.count() == 1
    frontdesk.get_desk().close()


@pytest.mark.parametrize(
    "text, triage", [("I have a fever since the PRP", FEVER),
                     ("my throat feels tight and I can't breathe", BREATHING)],
)  # fmt: skip
def test_a_failed_write_still_gives_the_advice_in_full_and_keeps_the_message(
    store, tmp_path, text, triage
) -> None:
    (tmp_path / "tickets.db").mkdir()  # the database cannot be opened, even by root
    settings = get_settings()
    messages, reply, slots = run_action(ActionHandleComplication(), _tracker(text, triage))
    # The advice is exactly what it is with a working database: it never depends on it.
    assert messages[0]["text"] == urgent_advice(Triage.from_dict(triage), settings, clock.now())
    note = messages[1]["text"]
    assert (
        "couldn't pass your message on" in note and f"call the clinic on {settings.phone}" in note
    )
    assert "kept, and the team will see it" in note and "phone number" not in note
    assert (reply["ticket"], reply["callback"], reply["filed"], slots) == (None, False, "kept", {})

    (tmp_path / "tickets.db").rmdir()
    assert frontdesk.get_desk().retry_pending() == 0
    (ticket,) = store.list_open()
    assert (ticket.category, ticket.urgency, ticket.triage_layer) == (
        "complication", "urgent", triage["layer"],
    )  # fmt: skip
    assert ticket.messages == ("tell me about prp", text)
    # The same message again (a retried action) joins nothing and creates nothing.
    _messages, again, _slots = run_action(ActionHandleComplication(), _tracker(text, triage))
    assert again["ticket"] == ticket.id and store.get(ticket.id).messages == ticket.messages


def test_a_call_back_number_that_cannot_be_written_is_kept(store, tmp_path) -> None:
    _, reply, _ = run_action(ActionHandleComplication(), _tracker("I have a fever"))
    ticket_id = reply["ticket"]
    database = tmp_path / "tickets.db"
    frontdesk.get_desk().close()  # no open connection keeps the file in use
    database.rename(tmp_path / "moved.db")
    database.mkdir()  # the database is gone for now
    pending = {CALLBACK_TICKET_SLOT: ticket_id, CALLBACK_PHONE_SLOT: "07700900123"}
    messages, done, _slots = run_action(
        ActionAnswerYesOrNo(), _after_advice("affirm", "yes", pending)
    )
    text = text_of(messages)
    assert "couldn't save your number right now" in text and get_settings().phone in text
    assert "kept, and the team will see it" in text and "will call you" not in text
    assert done["filed"] == "kept"
    database.rmdir()
    (tmp_path / "moved.db").rename(database)
    assert frontdesk.get_desk().retry_pending() == 0
    assert store.get(ticket_id).contact_phone == "07700900123"


def _after_advice(intent: str, text: str, slots: dict):
    return make_tracker(intent, text=text, slots=slots, sender_id="patient-1")


def test_callback_number_then_consent_puts_it_on_the_ticket(store) -> None:
    _, reply, _ = run_action(ActionHandleComplication(), _tracker("I have a fever"))
    ticket_id = reply["ticket"]
    _, asked, slots = run_action(
        ActionTakeCallbackPhone(),
        _after_advice("give_phone", "my number is 07700 900123", {CALLBACK_TICKET_SLOT: ticket_id}),
    )
    assert asked["step"] == "callback_consent" and slots == {CALLBACK_PHONE_SLOT: "07700900123"}
    assert store.get(ticket_id).contact_phone is None  # nothing stored before consent
    messages, done, slots = run_action(
        ActionAnswerYesOrNo(),
        _after_advice(
            "affirm", "yes", {CALLBACK_TICKET_SLOT: ticket_id, CALLBACK_PHONE_SLOT: "07700900123"}
        ),
    )
    assert done["step"] == "callback_stored" and "07700900123" in text_of(messages)
    assert store.get(ticket_id).contact_phone == "07700900123"
    assert slots == {CALLBACK_TICKET_SLOT: None, CALLBACK_PHONE_SLOT: None}


def test_declining_consent_keeps_no_number(store) -> None:
    _, reply, _ = run_action(ActionHandleComplication(), _tracker("I have a fever"))
    pending = {CALLBACK_TICKET_SLOT: reply["ticket"], CALLBACK_PHONE_SLOT: "07700900123"}
    _, declined, slots = run_action(ActionAnswerYesOrNo(), _after_advice("deny", "no", pending))
    assert declined["step"] == "callback_declined"
    assert store.get(reply["ticket"]).contact_phone is None
    assert slots == {CALLBACK_TICKET_SLOT: None, CALLBACK_PHONE_SLOT: None}


def test_a_number_that_is_not_one_is_asked_again(store) -> None:
    messages, _reply, slots = run_action(
        ActionTakeCallbackPhone(), _after_advice("give_phone", "07 12", {CALLBACK_TICKET_SLOT: 4})
    )
    assert "doesn't look like a phone number" in text_of(messages) and slots == {}


def test_a_number_without_urgent_advice_offers_a_call_back(store) -> None:
    _messages, reply, slots = run_action(
        ActionTakeCallbackPhone(), _after_advice("give_phone", "07700 900123", {})
    )
    assert (reply["type"], reply["step"], slots) == ("handoff", "callback_offer", {})


@pytest.mark.parametrize("intent, start", [("affirm", "Glad"), ("deny", "No problem")])
def test_yes_or_no_outside_a_form_gets_one_short_reply(store, intent, start) -> None:
    messages, reply, slots = run_action(ActionAnswerYesOrNo(), _after_advice(intent, "ok", {}))
    assert len(messages) == 1 and messages[0]["text"].startswith(start) and slots == {}
    assert reply["type"] == "smalltalk"
