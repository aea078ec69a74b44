"""The fault suite's third part: the ticket store unwritable on the real servers. The patient
who consented is told to call and that the request is kept; the request waits in the outbox
and reaches the ticket database once it is writable again."""

from __future__ import annotations

import shutil
import time
import uuid

import pytest

from clinic.frontdesk.store import TicketStore
from clinic.settings import get_settings
from scripts.servers import running_assistant
from tests.support.replies import reply_of, text_of

EMERGENCY = "my lips are swelling and I can't breathe properly after the filler"


@pytest.fixture(scope="module")
def assistant(trained_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("store-down")
    # A directory where the SQLite file should be: no write can succeed, even as root.
    (work / "tickets.db").mkdir()
    env = {"CLINIC_OUTBOX_RETRY_SECONDS": "1"}
    with running_assistant(trained_model, work, env=env) as running:
        yield running


def test_a_consented_booking_is_kept_and_the_patient_told_to_call(assistant):
    sender = uuid.uuid4().hex
    for message in ["I'd like to book a consultation", "Robin Ashe", "07700 900555", "PRP",
                    "weekday mornings"]:  # fmt: skip
        assistant.send(message, sender)
    replies = assistant.send("yes", sender)
    reply = reply_of(replies)
    assert reply["ticket"] is None and reply["filed"] == "kept"
    assert get_settings().phone in text_of(replies)
    assert "couldn't save" in text_of(replies)
    outbox = list((assistant.work_dir / "outbox").glob("*.jsonl"))
    assert outbox and sum(len(p.read_text().splitlines()) for p in outbox) >= 1


def test_urgent_advice_is_given_in_full_and_the_message_kept(assistant):
    replies = assistant.send(EMERGENCY, uuid.uuid4().hex)
    reply = reply_of(replies)
    assert reply["type"] == "urgent" and reply["emergency"] is True
    assert get_settings().emergency_number in text_of(replies)


def test_the_kept_requests_reach_the_database_when_it_is_writable_again(assistant):
    shutil.rmtree(assistant.work_dir / "tickets.db")
    store = TicketStore(f"sqlite:///{assistant.work_dir / 'tickets.db'}")
    deadline = time.monotonic() + 30
    while len(store.list_open()) < 2:
        assert time.monotonic() < deadline, "the outbox was not written to the database"
        time.sleep(0.5)
    categories = sorted(ticket.category for ticket in store.list_open())
    assert categories == ["booking", "complication"]
    assert not [p for p in (assistant.work_dir / "outbox").glob("*.jsonl") if p.read_text().strip()]
