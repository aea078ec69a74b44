"""The socket.io channel with the python-socketio client against the real Rasa server:
session request, bot_uttered events carrying the reply contract, and reconnecting to the
same session (the conversation's context survives)."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from scripts.servers import RunningAssistant, running_assistant


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    with running_assistant(trained_model, tmp_path_factory.mktemp("socketio")) as running:
        yield running


class Session:
    """One socket.io connection speaking Rasa's session protocol."""

    def __init__(self, url: str, session_id: str) -> None:
        self.url = url
        self.session_id = session_id
        self.client = socketio.Client(reconnection=False)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.confirmed = threading.Event()
        self.client.on("bot_uttered", self.events.put)
        self.client.on("session_confirm", lambda _data: self.confirmed.set())

    def __enter__(self) -> Session:
        self.client.connect(self.url, transports=["websocket"])
        self.client.emit("session_request", {"session_id": self.session_id})
        assert self.confirmed.wait(timeout=10), "no session_confirm"
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.client.disconnect()

    def ask(self, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """Send ``text``; return the turn's bot_uttered events and its reply payload."""
        self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        received = []
        while True:
            event = self.events.get(timeout=20)
            received.append(event)
            if "reply" in (event.get("custom") or {}):
                return received, event["custom"]["reply"]


def test_session_events_and_reconnect(assistant) -> None:
    session_id = uuid.uuid4().hex
    with Session(assistant.rasa_url, session_id) as first:
        events, reply = first.ask("What is PRP?")
        assert (reply["type"], reply["topic"], reply["treatments"]) == (
            "answer",
            "overview",
            ["prp"],
        )
        assert any(event.get("text") for event in events)

    # A new connection asking for the same session continues the same conversation.
    with Session(assistant.rasa_url, session_id) as second:
        _, reply = second.ask("how many sessions would I need?")
        assert (reply["topic"], reply["treatments"]) == ("sessions", ["prp"])


def test_buttons_arrive_as_quick_replies_and_their_payloads_work(assistant) -> None:
    with Session(assistant.rasa_url, uuid.uuid4().hex) as session:
        events, reply = session.ask("is it painful?")
        assert reply["type"] == "clarify"
        buttons = [b for e in events for b in e.get("quick_replies") or e.get("buttons") or []]
        assert len(buttons) == len(reply["options"])
        _, answer = session.ask(buttons[1]["payload"])
        assert (answer["topic"], answer["treatments"]) == ("pain", [reply["options"][1]])
