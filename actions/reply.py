"""The reply contract: every bot turn carries ``{"reply": {...}}`` as a custom payload.

The widget, the messaging channels, analytics and the tests read it instead of parsing text.
On the REST channel it arrives as ``{"custom": {"reply": {...}}}``. Fields (see README):

- ``type``: one of :data:`REPLY_TYPES`;
- for ``answer``: ``topic``, ``treatments`` (ids), ``concern`` (concern answers only),
  ``sources`` (seed file names) and ``confidence`` (the intent confidence).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rasa_sdk.executor import CollectingDispatcher

REPLY_TYPES = (
    "answer",
    "clarify",
    "booking",
    "handoff",
    "urgent",
    "clinic_info",
    "out_of_scope",
    "fallback",
    "smalltalk",
)


def button(title: str, payload: str) -> dict[str, str]:
    return {"title": title, "payload": payload}


def intent_payload(intent: str, **entities: Any) -> str:
    """A button payload that triggers ``intent`` with entities, bypassing NLU."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}{json.dumps(entities, separators=(',', ':'))}"


def send_reply(
    dispatcher: CollectingDispatcher,
    reply_type: str,
    texts: Sequence[str],
    buttons: list[dict[str, str]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Utter ``texts`` as messages; the last one carries the buttons and the reply payload."""
    if reply_type not in REPLY_TYPES:
        raise ValueError(f"unknown reply type {reply_type!r}")
    if not texts:
        raise ValueError("a reply needs at least one message")
    reply = {"type": reply_type, **fields}
    for text in texts[:-1]:
        dispatcher.utter_message(text=text)
    dispatcher.utter_message(text=texts[-1], buttons=buttons or [], json_message={"reply": reply})
    return reply
