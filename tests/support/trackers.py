"""One factory for the real ``rasa_sdk.Tracker`` objects the action tests run against."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

# Every slot an action reads, empty, as in a fresh conversation.
EMPTY_SLOTS: dict[str, Any] = {
    "treatments": None,
    "topic": None,
    "pending_topic": None,
    "booking_kind": None,
    "callback_ticket": None,
    "callback_phone": None,
}


def make_tracker(
    intent: str,
    entities: list[tuple[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    text: str = "",
    confidence: float = 0.9,
    ranking: list[tuple[str, float]] | None = None,
    events: list[dict[str, Any]] | None = None,
    sender_id: str = "patient",
    message_id: str | None = "m1",
    active_loop: dict[str, Any] | None = None,
    triage: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest message has ``intent`` (and ``entities`` as (name, value)
    pairs), with ``slots`` over the empty ones and ``events`` as the history; ``triage`` is
    what the NLU's complication check attached to the message."""
    latest_message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [{"entity": e, "value": v} for e, v in entities or []],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking or []],
    }
    if message_id is not None:
        latest_message["message_id"] = message_id
    if triage is not None:
        latest_message["triage"] = triage
    return Tracker(
        sender_id=sender_id,
        slots={**EMPTY_SLOTS, **(slots or {})},
        latest_message=latest_message,
        events=events or [],
        paused=False,
        followup_action=None,
        active_loop=active_loop or {},
        latest_action_name="action_listen",
    )


def user_event(text: str, timestamp: float, channel: str = "rest") -> dict[str, Any]:
    """A ``user`` event as the tracker store records it."""
    return {"event": "user", "text": text, "timestamp": timestamp, "input_channel": channel}
