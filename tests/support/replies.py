"""Checking the reply contract: every turn has text and exactly one ``{"reply": ...}``."""

from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from clinic.contract import REPLY_KEY, REPLY_TYPES


def reply_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The turn's reply payload; the contract says exactly one message carries it.

    ``messages`` as the REST channel returns them, or as a ``CollectingDispatcher`` holds them
    (both put the payload under ``custom``)."""
    replies = [m["custom"][REPLY_KEY] for m in messages if REPLY_KEY in (m.get("custom") or {})]
    assert len(replies) == 1, f"expected one reply payload, got {messages}"
    reply = replies[0]
    assert reply["type"] in REPLY_TYPES
    assert any(m.get("text") for m in messages), f"no text for the patient in {messages}"
    return reply


def text_of(messages: list[dict[str, Any]]) -> str:
    return " ".join(m.get("text") or "" for m in messages)


def run_action(
    action: Any, tracker: Any, domain: dict[str, Any] | None = None
) -> tuple[list[dict], dict[str, Any], dict[str, Any]]:
    """Run a rasa_sdk action: its messages, the reply payload and the slots it set."""
    dispatcher = CollectingDispatcher()
    events = action.run(dispatcher, tracker, domain or {})
    reply = reply_of(dispatcher.messages)
    assert all(m.get("text") for m in dispatcher.messages), dispatcher.messages
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return dispatcher.messages, reply, slots
