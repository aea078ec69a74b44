"""Tracker events as the tracker store records them, for transcript tests (with the user
events of ``tests.support.trackers``)."""

from __future__ import annotations

from typing import Any


def bot_event(
    text: str | None, buttons: list[tuple[str, str]] | None = None, timestamp: float = 0.0
) -> dict[str, Any]:
    """A ``bot`` event: ``text`` and its buttons as (title, payload) pairs."""
    return {
        "event": "bot",
        "text": text,
        "timestamp": timestamp,
        "data": {"buttons": [{"title": t, "payload": p} for t, p in buttons or []]},
    }


def active_loop_event(name: str | None) -> dict[str, Any]:
    """A form starting (``name``) or ending (None)."""
    return {"event": "active_loop", "name": name}
