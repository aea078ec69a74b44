"""The complication check in the NLU pipeline and the urgent action, with real objects:
rasa Messages, rasa_sdk's CollectingDispatcher and Tracker, and a SQLite ticket store."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.triage_actions import ActionHandleComplication
from clinic import frontdesk
from clinic.frontdesk import store as tickets
from clinic.settings import get_settings
from clinic_nlu.red_flag_check import REPORT_COMPLICATION, RedFlagCheck
from tests.support.trackers import make_tracker, user_event


def _message(
    text: str, intent: str, confidence: float, ranking: list[tuple[str, float]]
) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    return message


@pytest.mark.parametrize(
    "text, predicted, expected",
    [
        ("my lips are swelling after prp", "ask_side_effects", REPORT_COMPLICATION),
        ("there is pus and I have a fever", "ask_recovery_time", REPORT_COMPLICATION),
        ("is redness normal after microneedling?", REPORT_COMPLICATION, "ask_side_effects"),
        ("will I bruise after PRP?", "ask_side_effects", "ask_side_effects"),
    ],
)
def test_the_red_flag_rules_decide_report_complication(text, predicted, expected) -> None:
    ranking = [
        (predicted, 0.6),
        ("ask_side_effects" if predicted != "ask_side_effects" else "ask_pain", 0.3),
    ]
    message = _message(text, predicted, 0.6, ranking)
    RedFlagCheck().process([message])
    assert message.get("intent")["name"] == expected
    names = [r["name"] for r in message.get("intent_ranking")]
    assert names.count(REPORT_COMPLICATION) == (1 if expected == REPORT_COMPLICATION else 0)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(tickets.DB_PATH_ENV, str(tmp_path / "tickets.db"))
    monkeypatch.delenv(tickets.URL_ENV, raising=False)
    monkeypatch.delenv("CLINIC_NOTIFY_URL", raising=False)
    frontdesk.get_store.cache_clear()
    yield tickets.TicketStore.from_env()
    frontdesk.get_store.cache_clear()


def _tracker(text: str, channel: str = "rest", sender: str = "patient-1") -> Tracker:
    return make_tracker(
        REPORT_COMPLICATION,
        slots={"treatments": ["prp"], "topic": "overview"},
        text=text,
        confidence=1.0,
        events=[user_event("tell me about prp", 1.0, channel), user_event(text, 2.0, channel)],
        sender_id=sender,
        message_id="m-2",
    )


@pytest.mark.parametrize(
    "text, emergency",
    [
        ("my throat feels tight and I can't breathe", True),
        ("the redness is spreading and hot", False),
    ],
)
def test_urgent_reply_and_ticket(store, text: str, emergency: bool) -> None:
    settings = get_settings()
    dispatcher = CollectingDispatcher()
    ActionHandleComplication().run(dispatcher, _tracker(text), {})
    (message,) = dispatcher.messages
    reply = message["custom"]["reply"]
    assert (reply["type"], reply["emergency"]) == ("urgent", emergency)
    assert (settings.emergency_number if emergency else settings.phone) in message["text"]
    (ticket,) = store.list_open()
    assert (ticket.id, ticket.category, ticket.urgency, ticket.treatment) == (
        reply["ticket"], "complication", "urgent", "prp",
    )  # fmt: skip
    assert ticket.messages[-1] == text


def test_a_retried_action_creates_no_second_ticket(store) -> None:
    for _ in range(2):
        ActionHandleComplication().run(CollectingDispatcher(), _tracker("I have a fever"), {})
    assert len(store.list_open()) == 1


def test_sms_tickets_carry_the_phone_number(store) -> None:
    tracker = _tracker("I have a fever", channel="twilio", sender="+447700900123")
    ActionHandleComplication().run(CollectingDispatcher(), tracker, {})
    (ticket,) = store.list_open()
    assert (ticket.channel, ticket.contact_phone) == ("twilio", "+447700900123")


def test_the_advice_goes_out_even_if_the_ticket_cannot_be_stored(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(tickets.URL_ENV, "postgresql://nobody@127.0.0.1:1/none")
    frontdesk.get_store.cache_clear()
    dispatcher = CollectingDispatcher()
    ActionHandleComplication().run(dispatcher, _tracker("my vision went blurry"), {})
    reply = dispatcher.messages[0]["custom"]["reply"]
    assert (reply["type"], reply["ticket"]) == ("urgent", None)
    frontdesk.get_store.cache_clear()
