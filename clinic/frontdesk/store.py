"""Front-desk tickets: the model and the store (SQLite file by default, PostgreSQL by URL).

Every triaged conversation becomes one ticket. Settings come from the environment:

- ``CLINIC_TICKETS_URL``: a full SQLAlchemy URL (``postgresql://user@host:5432/db``); wins
  over the file path below;
- ``CLINIC_TICKETS_DB``: the SQLite file (default ``build/tickets.db``; a relative path is
  taken from the project root, not the current directory);
- ``CLINIC_TICKETS_SCHEMA``: optional PostgreSQL schema for the table (created if missing).

Contact details and patient messages are personal data: they are never logged (logs name
ticket ids only), never part of a ticket's ``repr`` and hidden from SQLAlchemy's error
messages and SQL echo (``hide_parameters``).

``python -m clinic.frontdesk list`` prints the open tickets, most urgent first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)


URL_ENV = "CLINIC_TICKETS_URL"
DB_PATH_ENV = "CLINIC_TICKETS_DB"
SCHEMA_ENV = "CLINIC_TICKETS_SCHEMA"
DEFAULT_DB_PATH = "build/tickets.db"

CATEGORIES = ("complication", "booking", "callback", "question")
# Most urgent first: the inbox and the CLI sort by this order.
URGENCIES = ("urgent", "soon", "routine")
STATUSES = ("open", "contacted", "closed")

_metadata = sa.MetaData()
tickets_table = sa.Table(
    "clinic_tickets",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # SHA-256 of the caller's key: keys are built from Rasa sender ids, which on SMS and
    # WhatsApp are phone numbers, so the raw key is personal data too.
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    # Naive UTC on every backend (SQLite has no time zones); made aware again when read.
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("category", sa.String(16), nullable=False),
    sa.Column("urgency", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("treatment", sa.Text),
    sa.Column("contact_name", sa.Text),
    sa.Column("contact_phone", sa.Text),
    sa.Column("contact_email", sa.Text),
    sa.Column("messages", sa.JSON, nullable=False),
    sa.CheckConstraint(f"category IN {CATEGORIES!r}", name="clinic_tickets_category"),
    sa.CheckConstraint(f"urgency IN {URGENCIES!r}", name="clinic_tickets_urgency"),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="clinic_tickets_status"),
    sa.Index("clinic_tickets_status_idx", "status"),
)

_URGENCY_RANK = sa.case(
    {urgency: rank for rank, urgency in enumerate(URGENCIES)}, value=tickets_table.c.urgency
)


@dataclass(frozen=True)
class Ticket:
    id: int
    created_at: datetime
    updated_at: datetime
    channel: str
    category: str
    urgency: str
    status: str
    treatment: str | None
    # repr=False: a ticket that ends up in a log line or a traceback shows no personal data.
    contact_name: str | None = field(repr=False)
    contact_phone: str | None = field(repr=False)
    contact_email: str | None = field(repr=False)
    messages: tuple[str, ...] = field(repr=False)


class TicketNotFoundError(LookupError):
    """No ticket with that id."""


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _hash_key(key: str) -> str:
    if not key:
        raise ValueError("an idempotency key is required (e.g. sender id + message id)")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _optional_text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _to_ticket(row: Any) -> Ticket:
    return Ticket(
        id=row.id,
        created_at=row.created_at.replace(tzinfo=timezone.utc),
        updated_at=row.updated_at.replace(tzinfo=timezone.utc),
        channel=row.channel,
        category=row.category,
        urgency=row.urgency,
        status=row.status,
        treatment=row.treatment,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        contact_email=row.contact_email,
        messages=tuple(row.messages or ()),
    )


def database_url(environ: dict[str, str] | None = None) -> str:
    """``$CLINIC_TICKETS_URL``, else a SQLite URL for ``$CLINIC_TICKETS_DB`` (project-relative)."""
    env = os.environ if environ is None else environ
    url = (env.get(URL_ENV) or "").strip()
    if url:
        # Heroku-style "postgres://" is refused by SQLAlchemy 1.4; it means the same thing.
        return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url
    path = Path(env.get(DB_PATH_ENV) or DEFAULT_DB_PATH).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return f"sqlite:///{path}"


class TicketStore:
    """Tickets in a SQL database. Thread-safe; the table is created on first use.

    ``on_created`` is called with each newly inserted ticket (not with the existing ticket a
    retried ``create`` returns), e.g. to send the urgent-ticket notification; it must not
    block, and its errors are logged (by ticket id) rather than failing the creation.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        on_created: Callable[[Ticket], object] | None = None,
    ) -> None:
        self.url = url
        self.schema = schema or None
        self.on_created = on_created
        self._engine = self._make_engine(url, self.schema)
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_env(cls, on_created: Callable[[Ticket], object] | None = None) -> TicketStore:
        return cls(database_url(), schema=os.environ.get(SCHEMA_ENV), on_created=on_created)

    @staticmethod
    def _make_engine(url: str, schema: str | None) -> Engine:
        parsed = sa.engine.make_url(url)
        if schema and parsed.get_backend_name() == "sqlite":
            raise ValueError(f"${SCHEMA_ENV} is for PostgreSQL; SQLite has no schemas")
        options: dict[str, Any] = {"future": True, "hide_parameters": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # The action server and the staff page are separate processes sharing the file:
            # wait for a writer's lock instead of failing at once.
            options["connect_args"] = {"timeout": 15}
        else:
            options["pool_pre_ping"] = True  # survive a database restart between requests
        engine = sa.create_engine(url, **options)
        if parsed.get_backend_name() == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _wal(dbapi_connection: Any, _record: Any) -> None:
                # WAL lets the inbox read while the action server writes.
                dbapi_connection.execute("PRAGMA journal_mode=WAL")

        if schema:
            engine = engine.execution_options(schema_translate_map={None: schema})
        return engine

    def _ensure_table(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                with self._engine.begin() as connection:
                    if self.schema:
                        # SQLAlchemy 1.4's CreateSchema has no IF NOT EXISTS.
                        quoted = connection.dialect.identifier_preparer.quote(self.schema)
                        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
                    _metadata.create_all(connection)
            except DBAPIError:
                # Another process created it at the same moment; fine if it now exists.
                if not sa.inspect(self._engine).has_table(tickets_table.name, schema=self.schema):
                    raise
            self._ready = True

    def create(
        self,
        *,
        idempotency_key: str,
        category: str,
        urgency: str,
        channel: str,
        treatment: str | None = None,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        messages: Sequence[str] = (),
    ) -> Ticket:
        """A new open ticket; the existing one when ``idempotency_key`` was used before.

        Build the key from the conversation and the event that triggered the ticket (e.g.
        ``f"{tracker.sender_id}:{tracker.latest_message['message_id']}"``), so a retried
        action finds its first ticket instead of creating a second.
        """
        key = _hash_key(idempotency_key)
        now = _now()
        values = {
            "idempotency_key": key,
            "created_at": now,
            "updated_at": now,
            "channel": (channel or "unknown").strip()[:64] or "unknown",
            "category": _choice("category", category, CATEGORIES),
            "urgency": _choice("urgency", urgency, URGENCIES),
            "status": "open",
            "treatment": _optional_text(treatment),
            "contact_name": _optional_text(name),
            "contact_phone": _optional_text(phone),
            "contact_email": _optional_text(email),
            "messages": [str(message) for message in messages],
        }
        self._ensure_table()
        try:
            with self._engine.begin() as connection:
                result = connection.execute(tickets_table.insert().values(**values))
                ticket_id = result.inserted_primary_key[0]
        except IntegrityError:
            # The unique key: a retry (or a concurrent duplicate) of a created ticket. The
            # error itself is not logged: its text could carry the values.
            existing = self._get_by_key(key)
            if existing is None:
                raise
            logger.info("ticket %s already exists for this key; not creating another", existing.id)
            return existing
        ticket = self.get(ticket_id)
        assert ticket is not None
        logger.info("ticket %s created (%s, %s)", ticket.id, ticket.category, ticket.urgency)
        if self.on_created is not None:
            try:
                self.on_created(ticket)
            except Exception:
                # The ticket is safely stored; a failing hook must not fail the patient's turn.
                logger.exception("on_created hook failed for ticket %s", ticket.id)
        return ticket

    def get(self, ticket_id: int) -> Ticket | None:
        self._ensure_table()
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(tickets_table).where(tickets_table.c.id == ticket_id)
            ).first()
        return _to_ticket(row) if row else None

    def _get_by_key(self, hashed_key: str) -> Ticket | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(tickets_table).where(tickets_table.c.idempotency_key == hashed_key)
            ).first()
        return _to_ticket(row) if row else None

    def list_tickets(self, statuses: Sequence[str] = ("open",)) -> list[Ticket]:
        """Tickets with these statuses, most urgent first, then oldest first."""
        for status in statuses:
            _choice("status", status, STATUSES)
        self._ensure_table()
        query = (
            sa.select(tickets_table)
            .where(tickets_table.c.status.in_(list(statuses)))
            .order_by(_URGENCY_RANK, tickets_table.c.created_at, tickets_table.c.id)
        )
        with self._engine.connect() as connection:
            return [_to_ticket(row) for row in connection.execute(query)]

    def list_open(self) -> list[Ticket]:
        """Open tickets, urgent > soon > routine, then oldest first."""
        return self.list_tickets(("open",))

    def set_status(self, ticket_id: int, status: str) -> Ticket:
        """Changes a ticket's status; raises ``TicketNotFoundError`` for an unknown id."""
        _choice("status", status, STATUSES)
        self._ensure_table()
        with self._engine.begin() as connection:
            result = connection.execute(
                tickets_table.update()
                .where(tickets_table.c.id == ticket_id)
                .values(status=status, updated_at=_now())
            )
        if result.rowcount == 0:
            raise TicketNotFoundError(f"no ticket {ticket_id}")
        logger.info("ticket %s status set to %s", ticket_id, status)
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket

    def close(self) -> None:
        """Closes the database connections (the store reconnects if used again)."""
        self._engine.dispose()
