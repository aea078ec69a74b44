"""Conversations that survive a restart: Rasa's SQL tracker store, embedded by default.

Rasa loads it from ``endpoints.yml``::

    tracker_store:
      type: serving.tracker_store.ClinicSQLTrackerStore

Where the conversations are kept (the same style as the tickets' settings):

- ``CLINIC_CONVERSATIONS_URL``: a full SQLAlchemy URL (``postgresql://user@host:5432/db``),
  for several Rasa servers sharing one database; wins over the file below;
- ``CLINIC_CONVERSATIONS_DB``: the SQLite file (default ``build/conversations.db``; a relative
  path is taken from the project root).

A ``url`` in the endpoint config wins over both. SQLite runs in WAL mode with a busy timeout
and kept connections, so the web app, a report or a second Rasa server on the same machine
can read while Rasa writes. The stored events hold what patients
typed: the database is personal data, like the tickets (see README: Privacy).

Rasa silently falls back to its in-memory store when a custom tracker store class cannot be
imported, so the e2e tests check that the conversations really land in this database.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import Session

# The settings live in the core, which the report reads the same database with; the names
# stay importable from here.
from clinic.conversation_log import (  # noqa: F401
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    URL_ENV,
    conversations_url,
)

logger = logging.getLogger(__name__)

SQLITE_BUSY_MILLISECONDS = 15_000
# Conversations kept in memory (the latest ones), each checked against the database per turn.
REMEMBERED_CONVERSATIONS = 2_000


class ClinicSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store, on the database the clinic's settings name."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        url: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Rasa passes the endpoint's `url` as `host`; SQLTrackerStore takes a full URL there.
        database = url or host or conversations_url()
        super().__init__(domain=domain, host=database, event_broker=event_broker, **kwargs)
        self._recent: OrderedDict[str, tuple[int, DialogueStateTracker]] = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            # SQLAlchemy 1.4 opens and closes a SQLite file connection per session (NullPool),
            # and closing the last one checkpoints the WAL: 3-5 ms a turn that grew with the
            # file (`make bench`). Kept connections, in WAL mode with a busy timeout instead.
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url,
                poolclass=sa.pool.QueuePool,
                pool_size=2,
                connect_args={"check_same_thread": False},
            )
            sa.event.listen(self.engine, "connect", _sqlite_wal)
            self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)
        logger.info("Conversations are stored in a %s database.", self.engine.dialect.name)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation's current session, from memory when the database holds no event
        this server has not seen (one count query), else read and remembered.

        Events are only ever appended, so an unchanged count means unchanged events, whichever
        server wrote them; another server's turn changes the count and the conversation is
        read again. Reading 50 turns costs 8 ms, the count about 1 ms (`make bench`).
        """
        with self.session_scope() as session:
            stored = self._event_query(session, sender_id, False).count()
        cached = self._recent.get(sender_id)
        if cached is not None and cached[0] == stored:
            self._recent.move_to_end(sender_id)
            return cached[1].copy()
        tracker = await self._retrieve(sender_id, fetch_events_from_all_sessions=False)
        self._remember(sender_id, stored, tracker)
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        # Rasa stored the events past those already in the database, so the session there is
        # now this tracker, if the tracker is what reading the session gives: no session
        # start, or exactly one, first. (A conversation's first turn, or a turn that started a
        # new session, also holds events from before the session start: read it next time.)
        sessions = sum(isinstance(event, SessionStarted) for event in tracker.events)
        as_read = sessions == 0 or (sessions == 1 and isinstance(tracker.events[0], SessionStarted))
        self._remember(tracker.sender_id, len(tracker.events), tracker if as_read else None)

    def _remember(self, sender_id: str, stored: int, tracker: DialogueStateTracker | None) -> None:
        if tracker is None:
            self._recent.pop(sender_id, None)
            return
        self._recent[sender_id] = (stored, tracker.copy())
        self._recent.move_to_end(sender_id)
        while len(self._recent) > REMEMBERED_CONVERSATIONS:
            self._recent.popitem(last=False)

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's query, reading only the events' JSON: building an ORM object per stored
        event was 10 of the 12 ms a 50-turn conversation took to read (`make bench`)."""
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            rows = query.with_entities(self.SQLEvent.data).all()
        events = [json.loads(data) for (data,) in rows]
        if self.domain is None or not events:
            return None
        return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[Session]:
        """Rasa's session scope, except that only a missing PostgreSQL schema stops the server.

        Rasa's version exits the whole server on any ``ValueError`` raised while the session is
        open, taking it for the schema check's: one message that could not be encoded
        (``UnicodeEncodeError`` is a ``ValueError``) stopped every conversation.
        """
        session = self.sessionmaker()
        try:
            try:
                ensure_schema_exists(session)
            except ValueError as missing:
                raise SystemExit(
                    f"error: the PostgreSQL schema {missing} for the conversations is missing: "
                    f"create it, or unset $POSTGRESQL_SCHEMA."
                ) from None
            yield session
        finally:
            session.close()


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MILLISECONDS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
