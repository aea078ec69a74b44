"""End to end, complications: the real servers with the clock fixed at 21:22 on a Tuesday,
when the example clinic (open until 18:00) is closed.

The out-of-hours advice, the call-back number with consent, one ticket per episode, the
hourly limit per sender, and the "report a problem" payload, each checked on the replies
and on the ticket the front desk sees.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic.clock import FIXED_NOW_ENV
from clinic.frontdesk.store import TicketStore
from clinic.settings import get_settings
from scripts.servers import RunningAssistant, running_assistant
from tests.support.replies import reply_of, text_of

TUESDAY_NIGHT = "2026-12-01T21:22:00+00:00"
LIMIT = 2


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    env = {FIXED_NOW_ENV: TUESDAY_NIGHT, "CLINIC_URGENT_PER_SENDER_PER_HOUR": str(LIMIT)}
    with running_assistant(trained_model, tmp_path_factory.mktemp("urgent"), env=env) as running:
        yield running


@pytest.fixture()
def store(assistant) -> TicketStore:
    return TicketStore(f"sqlite:///{assistant.work_dir / 'tickets.db'}")


def test_out_of_hours_advice_then_a_call_back_number_with_consent(assistant, store) -> None:
    settings = get_settings()
    sender = uuid.uuid4().hex
    messages = assistant.send("I had microneedling on Saturday and now I have a fever", sender)
    reply = reply_of(messages)
    assert (reply["type"], reply["sign"], reply["clinic_open"]) == ("urgent", "fever", False)
    text = text_of(messages)
    assert "The clinic is closed now (it opens tomorrow at 09:00)" in text
    assert f"{settings.non_emergency_name} on {settings.non_emergency_line}" in text
    assert settings.emergency_number in text and "type your phone number" in text
    ticket_id = reply["ticket"]

    asked = reply_of(assistant.send("my number is 07700 900123", sender))
    assert asked["step"] == "callback_consent"
    assert store.get(ticket_id).contact_phone is None  # not before consent
    done = assistant.send("/affirm", sender)
    assert reply_of(done)["step"] == "callback_stored" and "when it opens" in text_of(done)
    assert store.get(ticket_id).contact_phone == "07700900123"


def test_three_messages_of_one_episode_make_one_ticket(assistant, store) -> None:
    sender = uuid.uuid4().hex
    texts = [
        "my lips are swelling after the mesotherapy",
        "now my tongue feels thick too",
        "it's getting harder to swallow",
    ]
    ids = [reply_of(assistant.send(text, sender))["ticket"] for text in texts]
    assert len(set(ids)) == 1
    ticket = store.get(ids[0])
    assert list(ticket.messages[-3:]) == texts and ticket.urgency == "urgent"
    assert [t.id for t in store.list_open()].count(ids[0]) == 1


def test_one_sender_cannot_flood_the_urgent_inbox(assistant, store) -> None:
    sender = uuid.uuid4().hex
    urgencies = []
    for _ in range(LIMIT + 2):
        reply = reply_of(assistant.send("there is pus coming out of my cheek", sender))
        assert reply["type"] == "urgent"  # the advice always goes out
        ticket = store.get(reply["ticket"])
        urgencies.append(ticket.urgency)
        store.set_status(ticket.id, "closed")  # each closed: the next message is a new episode
    assert urgencies == ["urgent"] * LIMIT + ["soon", "soon"]


def test_the_report_payload_asks_first_and_opens_no_ticket(assistant, store) -> None:
    before = len(store.list_open())
    messages = assistant.send("/report_complication", uuid.uuid4().hex)
    reply = reply_of(messages)
    assert (reply["type"], reply["ticket"]) == ("urgent", None)
    assert "tell me here what you are noticing" in text_of(messages)
    assert len(store.list_open()) == before


def test_a_symptom_the_rules_do_not_name_still_gets_the_safe_reply(assistant, store) -> None:
    messages = assistant.send(
        "the spot where they injected feels really strange and tight since this morning",
        uuid.uuid4().hex,
    )
    reply = reply_of(messages)
    assert reply["type"] == "urgent" and reply["layer"] in ("classifier", "symptom_screen")
    assert text_of(messages).startswith("This may need checking now")
    assert store.get(reply["ticket"]).triage_layer == reply["layer"]
