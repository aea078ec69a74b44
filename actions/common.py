"""What every action module shares: sending replies, and reading the tracker.

Action modules import from here and from the core (``clinic``), never from each other.

Importing it starts the front desk's outbox retries (``clinic.frontdesk.outbox``).

Every bot turn carries the reply contract (``clinic.contract``): the last message of a turn
holds ``{"reply": {...}}`` as a custom payload, which the widget, the messaging channels and
the tests read instead of parsing text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from clinic.answering import not_offered_text
from clinic.contract import REPLY_KEY, REPLY_TYPES
from clinic.frontdesk import start_outbox_retries
from clinic.knowledge import get_knowledge
from clinic.payloads import is_payload, payload_words
from clinic.settings import get_settings

# Context slots the actions set themselves (none influences dialogue prediction).
TREATMENTS_SLOT = "treatments"
TOPIC_SLOT = "topic"
PENDING_TOPIC_SLOT = "pending_topic"

MESSAGES_ON_TICKET = 5

# The action server imports this module when it starts: ticket requests the outbox kept while
# the database could not be written (perhaps before a restart) are written now, then retried
# in the background every $CLINIC_OUTBOX_RETRY_SECONDS.
start_outbox_retries()


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
    dispatcher.utter_message(text=texts[-1], buttons=buttons or [], json_message={REPLY_KEY: reply})
    return reply


class ResumesForm:
    """For actions that may answer inside the booking form (a question instead of an
    answer): afterwards the form runs again and asks its question. Subclasses implement
    ``reply`` instead of ``run``."""

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        raise NotImplementedError

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = list(self.reply(dispatcher, tracker, domain))
        if tracker.active_loop_name:
            events.append(FollowupAction(tracker.active_loop_name))
        return events


def reply_sent_this_turn(tracker: Tracker) -> bool:
    """Whether an earlier action of this turn already sent the turn's reply payload (e.g. an
    answer given inside the booking form, before the form asks its question again)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and REPLY_KEY in (
            (event.get("data") or {}).get("custom") or {}
        ):
            return True
    return False


def send_question(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reply_type: str,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    **fields: Any,
) -> None:
    """A form's question: with the reply payload, unless this turn already has one."""
    if reply_sent_this_turn(tracker):
        dispatcher.utter_message(text=text, buttons=buttons or [])
    else:
        send_reply(dispatcher, reply_type, [text], buttons, **fields)


def not_offered_reply(
    dispatcher: CollectingDispatcher, procedure_ids: Sequence[str]
) -> list[EventType]:
    """ "We don't offer botox here", plus what we can help with."""
    text = not_offered_text(get_knowledge(), get_settings(), procedure_ids)
    send_reply(dispatcher, "out_of_scope", [text], not_offered=list(procedure_ids))
    return []


def intent_name(message: dict[str, Any]) -> str | None:
    """The intent of a parsed message (``tracker.latest_message``), if it has one."""
    return (message.get("intent") or {}).get("name")


def intent_confidence(message: dict[str, Any]) -> float:
    return round(float((message.get("intent") or {}).get("confidence") or 0.0), 4)


def entity_values(message: dict[str, Any], entity: str) -> list[str]:
    """Values of ``entity`` in a parsed message, in order, without repeats.

    Button payloads may carry a list (``{"treatment": ["prp", "exosomes"]}``).
    """
    values: list[str] = []
    for found in message.get("entities") or []:
        if found.get("entity") != entity:
            continue
        value = found.get("value")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item not in values:
                values.append(item)
    return values


def treatment_in_focus(tracker: Tracker) -> str | None:
    """The treatment the latest message names, else the one the conversation is about."""
    treatments = get_knowledge().treatments
    mentioned = [t for t in entity_values(tracker.latest_message, "treatment") if t in treatments]
    context = [t for t in tracker.get_slot(TREATMENTS_SLOT) or [] if t in treatments]
    return (mentioned or context or [None])[0]


def patient_messages(tracker: Tracker, limit: int = MESSAGES_ON_TICKET) -> list[str]:
    """The patient's last messages in this conversation, oldest first."""
    texts = [e.get("text") for e in tracker.events if e.get("event") == "user" and e.get("text")]
    return texts[-limit:]


def conversation_turns(events: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """The conversation in ``events`` as ``{"by": "patient" | "assistant", "text": ...}``
    turns, oldest first. A patient text that is a button payload becomes the title of the
    button the assistant offered with it (its messages since the patient's previous one);
    a payload no button offered (typed, or the buttons are gone from the window) becomes
    words (``clinic.payloads``), so staff never read a payload."""
    turns: list[dict[str, str]] = []
    offered: dict[str, str] = {}  # payload -> title, from the assistant's latest messages
    assistant_spoke_last = False
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            if not assistant_spoke_last:
                offered = {}
            assistant_spoke_last = True
            for choice in (event.get("data") or {}).get("buttons") or []:
                if isinstance(choice, dict) and choice.get("payload") and choice.get("title"):
                    offered[str(choice["payload"]).strip()] = str(choice["title"])
            if event.get("text"):
                turns.append({"by": "assistant", "text": str(event["text"])})
        elif kind == "user" and event.get("text"):
            assistant_spoke_last = False
            text = str(event["text"])
            if is_payload(text):
                text = offered.get(text.strip()) or payload_words(text)
            turns.append({"by": "patient", "text": text})
    return turns


def recent_turns(
    turns: Sequence[dict[str, str]], patient_turns: int = MESSAGES_ON_TICKET
) -> list[dict[str, str]]:
    """The end of ``turns`` from the patient's ``patient_turns``-th last message on (the
    same window as :func:`patient_messages`)."""
    starts = [index for index, turn in enumerate(turns) if turn["by"] == "patient"]
    if not starts:
        return []
    return list(turns[starts[-patient_turns:][0] :])


def ticket_transcript(tracker: Tracker) -> list[dict[str, str]]:
    """The conversation for a ticket: the patient's last messages and the replies between."""
    return recent_turns(conversation_turns(tracker.events))


def idempotency_key(tracker: Tracker) -> str:
    """The conversation and the message that raised the ticket: a retried action reuses it."""
    message_id = tracker.latest_message.get("message_id")
    if not message_id:
        users = [e for e in tracker.events if e.get("event") == "user"]
        message_id = f"t{users[-1].get('timestamp')}" if users else "none"
    return f"{tracker.sender_id}:{message_id}"
