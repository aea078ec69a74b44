"""Stored conversations for the report's tests, written by the real tracker store.

:class:`ConversationWriter` saves real Rasa trackers (``UserUttered``, ``ActionExecuted``,
``BotUttered`` with the reply contract) through ``serving.tracker_store.ClinicSQLTrackerStore``
into a SQLite file, so the ``events`` table is exactly what Rasa writes in production.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.contract import REPLY_KEY
from serving.tracker_store import ClinicSQLTrackerStore

# The slots the booking turns set; the tracker needs them declared to apply SlotSet.
DOMAIN = Domain.from_dict(
    {
        "slots": {
            "booking_kind": {
                "type": "text",
                "influence_conversation": False,
                "mappings": [{"type": "custom"}],
            },
        }
    }
)


def at(day: str, clock: str = "10:00") -> float:
    """The epoch seconds of ``day`` (``2026-11-30``) at ``clock`` UTC."""
    moment = datetime.fromisoformat(f"{day}T{clock}:00").replace(tzinfo=timezone.utc)
    return moment.timestamp()


def parse_data(
    text: str,
    intent: str,
    confidence: float,
    treatments: tuple[str, ...] = (),
    ranking: tuple[tuple[str, float], ...] = (),
) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [{"entity": "treatment", "value": t, "start": 0, "end": 1} for t in treatments],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking]
        or [{"name": intent, "confidence": confidence}],
    }


@dataclass
class Conversation:
    """One conversation's events, added turn by turn."""

    sender_id: str
    events: list[Event] = field(default_factory=list)

    def patient(
        self,
        text: str,
        intent: str,
        timestamp: float,
        *,
        confidence: float = 0.9,
        treatments: tuple[str, ...] = (),
        ranking: tuple[tuple[str, float], ...] = (),
    ) -> Conversation:
        if not self.events:
            self.events += [
                ActionExecuted("action_session_start", timestamp=timestamp - 1),
                SessionStarted(timestamp=timestamp - 1),
                ActionExecuted("action_listen", timestamp=timestamp - 1),
            ]
        self.events.append(
            UserUttered(
                text,
                intent={"name": intent, "confidence": confidence},
                parse_data=parse_data(text, intent, confidence, treatments, ranking),
                timestamp=timestamp,
                input_channel="rest",
            )
        )
        return self

    def bot(
        self,
        action: str,
        reply_type: str | None,
        timestamp: float,
        *,
        text: str = "a reply",
        extra_events: tuple[Event, ...] = (),
        **fields: Any,
    ) -> Conversation:
        """The action, then its message (carrying ``{"reply": {...}}`` when ``reply_type``),
        as Rasa logs them; then the turn ends listening."""
        data: dict[str, Any] = {"elements": None, "quick_replies": None, "buttons": []}
        if reply_type is not None:
            data["custom"] = {REPLY_KEY: {"type": reply_type, **fields}}
        self.events += [
            ActionExecuted(action, timestamp=timestamp + 0.1),
            BotUttered(text, data=data, timestamp=timestamp + 0.2),
            *extra_events,
            ActionExecuted("action_listen", timestamp=timestamp + 0.3),
        ]
        return self

    def form(self, name: str | None, timestamp: float) -> Conversation:
        self.events.append(ActiveLoop(name, timestamp=timestamp))
        return self

    def slot(self, name: str, value: Any, timestamp: float) -> Conversation:
        self.events.append(SlotSet(name, value, timestamp=timestamp))
        return self


class ConversationWriter:
    """Writes conversations into ``path`` with the real tracker store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        self.store = ClinicSQLTrackerStore(domain=DOMAIN, url=self.url)
        self._conversations: list[Conversation] = []

    def conversation(self, sender_id: str) -> Conversation:
        conversation = Conversation(sender_id)
        self._conversations.append(conversation)
        return conversation

    def save(self) -> None:
        asyncio.run(self._save_all())
        self._conversations.clear()

    async def _save_all(self) -> None:
        for conversation in self._conversations:
            tracker = DialogueStateTracker.from_events(
                conversation.sender_id, conversation.events, slots=DOMAIN.slots
            )
            await self.store.save(tracker)

    def close(self) -> None:
        self.store.engine.dispose()
