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
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, ensure_schema_exists
from rasa.shared.core.domain import Domain
from sqlalchemy.orm import Session

from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

URL_ENV = "CLINIC_CONVERSATIONS_URL"
DB_PATH_ENV = "CLINIC_CONVERSATIONS_DB"
DEFAULT_DB_PATH = "build/conversations.db"
SQLITE_BUSY_MILLISECONDS = 15_000


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
