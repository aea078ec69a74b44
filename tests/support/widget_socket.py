"""A python-socketio client speaking the widget's session protocol (channels/socketio.py):
``session_request`` with the stored id and token, ``session_token`` then ``session_confirm``
back, ``user_uttered`` out and ``bot_uttered`` in."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

import socketio

TIMEOUT = 20


@dataclass(frozen=True)
class IssuedSession:
    session_id: str
    token: str


class WidgetSocket:
    """One socket.io connection; ``order`` lists the session events in the order they came."""

    def __init__(self, url: str, transports: tuple[str, ...] = ("websocket",), **options: Any):
        self.url = url
        self.transports = list(transports)
        self.client = socketio.Client(reconnection=False, **options)
        self.bot_messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.tokens: queue.Queue[dict[str, Any]] = queue.Queue()
        self.confirmations: queue.Queue[Any] = queue.Queue()
        self.order: list[str] = []
        self._lock = threading.Lock()
        self.client.on("bot_uttered", self.bot_messages.put)
        self.client.on("session_token", self._on_token)
        self.client.on("session_confirm", self._on_confirm)

    def _on_token(self, data: Any) -> None:
        with self._lock:
            self.order.append("session_token")
        self.tokens.put(data)

    def _on_confirm(self, data: Any) -> None:
        with self._lock:
            self.order.append("session_confirm")
        self.confirmations.put(data)

    def connect(self, headers: dict[str, str] | None = None) -> WidgetSocket:
        self.client.connect(self.url, headers=headers or {}, transports=self.transports)
        return self

    def close(self) -> None:
        if self.client.transport() == "polling":
            # The server closes the socket at once; the client would wait for its pending
            # long-poll request, which the server sometimes leaves open until its 30 s timeout.
            self.client.eio.disconnect(abort=True)
        else:
            self.client.disconnect()

    def __enter__(self) -> WidgetSocket:
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request_session(self, payload: Any = None) -> IssuedSession:
        """Send ``session_request`` with ``payload``; the session the server confirmed."""
        self.client.emit("session_request", payload)
        return self.issued_session()

    def continue_session(self, session: IssuedSession) -> IssuedSession:
        return self.request_session({"session_id": session.session_id, "token": session.token})

    def issued_session(self) -> IssuedSession:
        """The next ``session_token`` and ``session_confirm``, checked against each other."""
        issued = self.tokens.get(timeout=TIMEOUT)
        confirmed = self.confirmations.get(timeout=TIMEOUT)
        assert confirmed == issued["session_id"], (confirmed, issued)
        return IssuedSession(issued["session_id"], issued["token"])

    def say(self, text: Any, session_id: Any = None, **extra: Any) -> None:
        self.client.emit("user_uttered", {"message": text, "session_id": session_id, **extra})

    def turn(self, text: str, session_id: Any = None) -> tuple[list[dict[str, Any]], dict]:
        """Say ``text``; the turn's bot_uttered events and its reply payload."""
        self.say(text, session_id)
        received = []
        while True:
            event = self.bot_messages.get(timeout=TIMEOUT)
            received.append(event)
            if "reply" in (event.get("custom") or {}):
                return received, event["custom"]["reply"]

    def nothing_received(self, wait: float = 0.5) -> bool:
        try:
            self.bot_messages.get(timeout=wait)
        except queue.Empty:
            return True
        return False
