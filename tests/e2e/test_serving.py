"""Serving patients for real (issue 10), on the real servers: conversations survive a
restart, nothing is silent when the action server is down, and the edges are closed."""

from __future__ import annotations

import signal
import sqlite3
import time
import uuid
from pathlib import Path

import pytest
import requests

from clinic.settings import get_settings
from scripts.servers import running_assistant
from tests.support.replies import reply_of as reply_payload
from tests.support.replies import text_of

EMERGENCY_MESSAGE = "my lips are swelling up and I can't breathe properly since the filler"


@pytest.fixture(scope="module")
def assistant(trained_model, tmp_path_factory):
    with running_assistant(trained_model, tmp_path_factory.mktemp("serving")) as running:
        yield running


def timed_send(assistant, message: str, sender: str) -> tuple[list[dict], float]:
    started = time.monotonic()
    replies = assistant.send(message, sender)
    return replies, time.monotonic() - started


def listening_addresses(port: int) -> set[str]:
    """The local addresses a TCP port listens on, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_conversations_are_stored_in_the_sql_database(assistant):
    sender = uuid.uuid4().hex
    assistant.send("What is PRP?", sender)
    with sqlite3.connect(assistant.work_dir / "conversations.db") as db:
        rows = db.execute(
            "SELECT type_name FROM events WHERE sender_id LIKE ?", (f"%{sender}",)
        ).fetchall()
    assert ("user",) in rows and ("bot",) in rows


def test_both_servers_listen_on_loopback_only(assistant):
    for port in (assistant.rasa_port, assistant.action_port):
        addresses = listening_addresses(port)
        assert addresses == {"0100007F"}, f"port {port} listens on {addresses}"


def test_the_action_server_refuses_a_forged_call(assistant):
    forged = {"next_action": "action_submit_booking", "sender_id": "x", "tracker": {}, "domain": {}}
    response = requests.post(f"{assistant.action_url}/webhook", json=forged, timeout=5)
    assert response.status_code == 401
    assert requests.get(f"{assistant.action_url}/health", timeout=5).ok


def test_a_message_over_the_cap_gets_a_polite_reply_fast(assistant):
    replies, seconds = timed_send(assistant, "tell me about prp " * 200, uuid.uuid4().hex)
    assert seconds < 2
    reply = reply_payload(replies)
    assert reply["type"] == "fallback" and reply["reason"] == "message_too_long"
    assert "too long" in text_of(replies)


def test_a_long_story_describing_an_emergency_still_gets_urgent_advice(assistant):
    story = "I had my treatment last week and it went fine at first. " * 40 + EMERGENCY_MESSAGE
    replies = assistant.send(story, uuid.uuid4().hex)
    reply = reply_payload(replies)
    assert reply["type"] == "urgent" and reply["emergency"] is True
    assert get_settings().emergency_number in text_of(replies)


def test_a_huge_body_is_refused_before_parsing(assistant):
    response = requests.post(
        f"{assistant.rasa_url}/webhooks/rest/webhook",
        json={"sender": "x", "message": "a" * 200_000},
        timeout=10,
    )
    assert response.status_code == 413


def test_a_half_filled_form_survives_a_restart_of_the_rasa_server(assistant):
    sender = uuid.uuid4().hex
    assistant.send("I'd like to book a consultation", sender)
    before = reply_payload(assistant.send("Priya Patel", sender))
    assistant.rasa_server.send_signal(signal.SIGKILL)
    assistant.rasa_server.wait()
    assistant.start_rasa_server()
    replies = assistant.send("07700 900123", sender)
    after = reply_payload(replies)
    assert before["type"] == after["type"] == "booking"
    assert after.get("step") != before.get("step"), "the form went on from where it was"


def test_with_the_action_server_down_every_patient_still_hears_back_within_5_s(assistant):
    assistant.action_server.send_signal(signal.SIGKILL)
    assistant.action_server.wait()
    try:
        replies, seconds = timed_send(assistant, "How many sessions of PRP do I need?", "a")
        assert seconds < 5
        assert get_settings().phone in text_of(replies)
        assert reply_payload(replies)["reason"] == "service_unavailable"

        replies, seconds = timed_send(assistant, EMERGENCY_MESSAGE, uuid.uuid4().hex)
        assert seconds < 5
        reply = reply_payload(replies)
        assert reply["type"] == "urgent" and reply["emergency"] is True
        assert get_settings().emergency_number in text_of(replies)
    finally:
        assistant.start_action_server()
    # And back to normal once it is up again.
    assert reply_payload(assistant.send("What is PRP?", uuid.uuid4().hex))["type"] == "answer"
