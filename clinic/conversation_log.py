"""The stored conversations, read back: patient turns and the replies that followed them.

Rasa's SQL tracker store (``serving.tracker_store``) keeps every event in one table,
``events`` (``id``, ``sender_id``, ``type_name``, ``timestamp`` as epoch seconds,
``intent_name``, ``action_name``, ``data`` as the event's JSON). This module reads that table
with plain SQLAlchemy, so the report and the retention clean-up need no Rasa:

- :func:`read_conversations`: each conversation as a list of :class:`PatientTurn`, a patient
  message with the reply payloads (``clinic.contract``) and actions that followed it;
- :func:`delete_older_than`: the retention period (``conversation_retention_days``).

Where the database is (the same settings Rasa's store uses):

- ``CLINIC_CONVERSATIONS_URL``: a full SQLAlchemy URL; wins over the file below;
- ``CLINIC_CONVERSATIONS_DB``: the SQLite file (default ``build/conversations.db``; a relative
  path is taken from the project root).

Sender ids never leave this module: a conversation is known by its position in the result.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from clinic.contract import READINESS_SENDER, REPLY_KEY
from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

URL_ENV = "CLINIC_CONVERSATIONS_URL"
DB_PATH_ENV = "CLINIC_CONVERSATIONS_DB"
DEFAULT_DB_PATH = "build/conversations.db"
POSTGRESQL_SCHEMA_ENV = "POSTGRESQL_SCHEMA"  # Rasa's setting, read the same way
EVENTS_TABLE = "events"
BOOKING_KIND_SLOT = "booking_kind"
SQLITE_BUSY_SECONDS = 15.0

# The columns Rasa's SQLTrackerStore writes (rasa/core/tracker_store.py, SQLEvent).
_metadata = sa.MetaData()
events_table = sa.Table(
    EVENTS_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("type_name", sa.String(255)),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def conversations_url(environ: dict[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the conversation database from the environment."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(URL_ENV):
        return environ[URL_ENV]
    path = Path(environ.get(DB_PATH_ENV) or DEFAULT_DB_PATH)
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class Reply:
    """One reply payload of the contract: ``type`` plus the fields the report reads."""

    type: str
    action: str | None  # the action that sent it
    topic: str | None = None
    treatments: tuple[str, ...] = ()
    confidence: float | None = None
    step: str | None = None
    ticket: int | None = None
    callback: bool = False

    @classmethod
    def from_payload(cls, payload: dict[str, Any], action: str | None) -> Reply:
        treatments = payload.get("treatments") or ()
        if isinstance(treatments, str):
            treatments = (treatments,)
        confidence = payload.get("confidence")
        ticket = payload.get("ticket")
        return cls(
            type=str(payload.get("type") or ""),
            action=action,
            topic=payload.get("topic") if isinstance(payload.get("topic"), str) else None,
            treatments=tuple(str(t) for t in treatments if isinstance(t, str)),
            confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
            step=payload.get("step") if isinstance(payload.get("step"), str) else None,
            ticket=ticket if isinstance(ticket, int) and not isinstance(ticket, bool) else None,
            callback=payload.get("callback") is True,
        )


@dataclass
class PatientTurn:
    """A patient message and what the assistant did until the next one."""

    at: datetime  # UTC
    text: str
    intent: str | None
    confidence: float | None
    # The first intent the model ranked that is not Rasa's fallback: what it guessed.
    guessed_intent: str | None
    treatments: tuple[str, ...]  # the treatment entities the NLU found
    in_form: bool  # sent while a form (booking, call-back) was asking its questions
    replies: list[Reply] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    booking_kind: str | None = None  # "booking" or "callback" when this turn started a form

    @property
    def reply_types(self) -> list[str]:
        return [reply.type for reply in self.replies]


@dataclass
class Conversation:
    """One sender's patient turns, oldest first (the sender id is not kept)."""

    number: int
    turns: list[PatientTurn] = field(default_factory=list)


def make_engine(url: str | None = None) -> sa.engine.Engine:
    """An engine on the conversation database; SQLite waits for Rasa's writes to finish."""
    url = url or conversations_url()
    if url.startswith("sqlite"):
        return sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
    schema = os.environ.get(POSTGRESQL_SCHEMA_ENV)
    if schema and url.startswith("postgresql"):
        # Where Rasa's store puts the table when the schema is set (its connect options).
        return sa.create_engine(
            url, pool_pre_ping=True, connect_args={"options": f"-csearch_path={schema}"}
        )
    return sa.create_engine(url, pool_pre_ping=True)


def _database_missing(url: str) -> bool:
    """A SQLite file that does not exist yet: nothing stored, and nothing to create."""
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or not Path(database).is_file()


def _has_events_table(engine: sa.engine.Engine) -> bool:
    return sa.inspect(engine).has_table(EVENTS_TABLE)


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc)


def read_conversations(
    url: str | None = None, *, since: datetime | None = None
) -> list[Conversation]:
    """The conversations with events at or after ``since`` (all when None), each with its
    patient turns from then on. Only reads; an absent database or table reads as empty."""
    url = url or conversations_url()
    if _database_missing(url):
        return []
    engine = make_engine(url)
    try:
        if not _has_events_table(engine):
            return []
        query = sa.select(
            events_table.c.sender_id, events_table.c.type_name, events_table.c.data
        ).order_by(events_table.c.sender_id, events_table.c.id)
        if since is not None:
            query = query.where(events_table.c.timestamp >= since.timestamp())
        sender = events_table.c.sender_id
        query = query.where(
            sender != READINESS_SENDER, sa.not_(sender.endswith(f":{READINESS_SENDER}"))
        )
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    finally:
        engine.dispose()
    conversations: list[Conversation] = []
    current_sender: object = object()
    builder: _TurnBuilder | None = None
    for sender_id, _type_name, data in rows:
        if sender_id != current_sender:
            current_sender = sender_id
            builder = _TurnBuilder(Conversation(len(conversations) + 1))
            conversations.append(builder.conversation)
        assert builder is not None
        event = _loaded(data)
        if event is not None:
            builder.add(event)
    return [conversation for conversation in conversations if conversation.turns]


def _loaded(data: str | None) -> dict[str, Any] | None:
    try:
        event = json.loads(data or "")
    except (TypeError, ValueError):
        return None  # a damaged row costs that event only
    return event if isinstance(event, dict) else None


class _TurnBuilder:
    """Folds one conversation's events, in order, into patient turns."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.active_form: str | None = None
        self.last_action: str | None = None

    @property
    def turn(self) -> PatientTurn | None:
        return self.conversation.turns[-1] if self.conversation.turns else None

    def add(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "user":
            self.conversation.turns.append(self._patient_turn(event))
        elif kind == "action":
            self.last_action = event.get("name")
            if self.turn is not None and self.last_action not in (None, "action_listen"):
                self.turn.actions.append(str(self.last_action))
        elif kind == "bot":
            payload = ((event.get("data") or {}).get("custom") or {}).get(REPLY_KEY)
            if self.turn is not None and isinstance(payload, dict):
                self.turn.replies.append(Reply.from_payload(payload, self.last_action))
        elif kind == "active_loop":
            self.active_form = event.get("name") or None
        elif kind == "slot" and event.get("name") == BOOKING_KIND_SLOT:
            if self.turn is not None and isinstance(event.get("value"), str):
                self.turn.booking_kind = event["value"]
        elif kind in ("session_started", "restart"):
            self.active_form = None

    def _patient_turn(self, event: dict[str, Any]) -> PatientTurn:
        parse_data = event.get("parse_data") or {}
        intent = parse_data.get("intent") or {}
        confidence = intent.get("confidence")
        guessed = None
        for ranked in parse_data.get("intent_ranking") or []:
            name = (ranked or {}).get("name")
            if name and name != "nlu_fallback":
                guessed = str(name)
                break
        treatments = []
        for entity in parse_data.get("entities") or []:
            value = (entity or {}).get("value")
            is_treatment = (entity or {}).get("entity") == "treatment"
            if is_treatment and isinstance(value, str) and value not in treatments:
                treatments.append(value)
        timestamp = event.get("timestamp")
        return PatientTurn(
            at=_utc(float(timestamp)) if isinstance(timestamp, (int, float)) else _utc(0),
            text=str(event.get("text") or ""),
            intent=intent.get("name"),
            confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
            guessed_intent=guessed,
            treatments=tuple(treatments),
            in_form=self.active_form is not None,
        )


def delete_older_than(days: int, url: str | None = None, *, now: datetime | None = None) -> int:
    """Delete the stored events older than ``days`` days; returns how many went."""
    if days < 1:
        raise ValueError("the retention period must be at least 1 day")
    url = url or conversations_url()
    if _database_missing(url):
        return 0
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    engine = make_engine(url)
    try:
        if not _has_events_table(engine):
            return 0
        with engine.begin() as connection:
            result = connection.execute(
                events_table.delete().where(events_table.c.timestamp < cutoff.timestamp())
            )
        deleted = int(result.rowcount or 0)
    finally:
        engine.dispose()
    if deleted:
        logger.info("Deleted %d stored conversation events older than %d days.", deleted, days)
    return deleted
