"""The socket.io channel with the python-socketio client against the real Rasa server:
server-issued sessions, bot_uttered events carrying the reply contract, reconnecting to the
same session with its token (the conversation's context survives), and no way into another
session without its token."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import socketio

from clinic.site_origins import SITE_ORIGINS_ENV
from scripts.servers import RunningAssistant, running_assistant
from tests.support.widget_socket import IssuedSession, WidgetSocket

SITE = "https://www.clinic.example"


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    work_dir = tmp_path_factory.mktemp("socketio")
    with running_assistant(trained_model, work_dir, env={SITE_ORIGINS_ENV: SITE}) as running:
        yield running


def user_events(assistant: RunningAssistant, conversation: str) -> list[dict]:
    """The conversation's user messages as Rasa's tracker store keeps them."""
    with sqlite3.connect(assistant.work_dir / "conversations.db") as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id",
            (conversation,),
        ).fetchall()
    return [json.loads(data) for (data,) in rows]


def new_session(assistant: RunningAssistant) -> tuple[WidgetSocket, IssuedSession]:
    socket = WidgetSocket(assistant.rasa_url).connect()
    return socket, socket.request_session({"session_id": None})


def test_session_events_and_reconnect_with_the_token(assistant) -> None:
    first, session = new_session(assistant)
    events, reply = first.turn("What is PRP?")
    first.close()
    assert (reply["type"], reply["topic"], reply["treatments"]) == ("answer", "overview", ["prp"])
    assert any(event.get("text") for event in events)

    # A new connection with the session's token continues the same conversation.
    with WidgetSocket(assistant.rasa_url) as second:
        assert second.continue_session(session) == session
        _, reply = second.turn("how many sessions would I need?")
    assert (reply["topic"], reply["treatments"]) == ("sessions", ["prp"])
    recorded = user_events(assistant, f"web:{session.session_id}")
    assert [(e["text"], e["input_channel"]) for e in recorded] == [
        ("What is PRP?", "socketio"),
        ("how many sessions would I need?", "socketio"),
    ]


def test_a_session_id_without_its_token_starts_a_new_conversation(assistant) -> None:
    victim, session = new_session(assistant)
    victim.turn("What is PRP?")
    with WidgetSocket(assistant.rasa_url) as intruder:
        issued = intruder.request_session({"session_id": session.session_id})
        assert issued.session_id != session.session_id
        _, reply = intruder.turn("how many sessions would I need?")
    assert reply["type"] == "clarify"  # no PRP context: not the victim's conversation
    assert victim.nothing_received()
    assert [e["text"] for e in user_events(assistant, f"web:{session.session_id}")] == [
        "What is PRP?"
    ]
    victim.close()


def test_a_message_naming_another_session_is_answered_in_its_own(assistant) -> None:
    mine, my_session = new_session(assistant)
    theirs, their_session = new_session(assistant)
    theirs.turn("What is PRP?")
    _, reply = mine.turn("how many sessions would I need?", session_id=their_session.session_id)
    assert reply["type"] == "clarify"
    assert theirs.nothing_received()
    _, reply = theirs.turn("how many sessions would I need?")
    assert (reply["topic"], reply["treatments"]) == ("sessions", ["prp"])
    assert [e["text"] for e in user_events(assistant, f"web:{my_session.session_id}")] == [
        "how many sessions would I need?"
    ]
    mine.close()
    theirs.close()


def test_buttons_arrive_as_quick_replies_and_their_payloads_work(assistant) -> None:
    socket, _ = new_session(assistant)
    events, reply = socket.turn("is it painful?")
    assert reply["type"] == "clarify"
    buttons = [b for e in events for b in e.get("quick_replies") or e.get("buttons") or []]
    assert len(buttons) == len(reply["options"])
    _, answer = socket.turn(buttons[1]["payload"])
    assert (answer["topic"], answer["treatments"]) == ("pain", [reply["options"][1]])
    socket.close()


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:8000"])
def test_pages_from_other_sites_cannot_connect(assistant, origin) -> None:
    socket = WidgetSocket(assistant.rasa_url, websocket_extra_options={"origin": origin})
    with pytest.raises(socketio.exceptions.ConnectionError):
        socket.connect()


def test_the_sites_pages_connect(assistant) -> None:
    with WidgetSocket(assistant.rasa_url, websocket_extra_options={"origin": SITE}) as page:
        assert page.request_session(None).session_id
