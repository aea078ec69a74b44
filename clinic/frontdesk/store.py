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

Urgent complication tickets are kept to one per conversation episode: ``open_episode``
finds the sender's ticket still being handled, ``append_messages`` adds the follow-ups to it,
and ``count_created_since`` lets the caller cap new urgent tickets per sender. Senders are
stored as SHA-256 hashes only (on SMS and WhatsApp the sender id is the phone number).

Databases made by earlier versions (without ``sender``, ``triage_layer``, ``transcript``,
``staff_note`` or ``search_text``) are upgraded in place on first use: the columns are added,
nullable, so old rows stay valid (their search text is filled in then).

The inbox reads tickets through ``search_tickets``: filters (status, urgency, category,
treatment), a text search over what the patient wrote, the contact details and the staff
note, and pages. The search runs on ``search_text``, a case-folded copy of those fields the
store keeps up to date, so it is a plain ``LIKE`` (wildcards escaped) that behaves the same,
accents and case included, on SQLite and PostgreSQL.

``python -m clinic.frontdesk list`` prints the open tickets, most urgent first.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)


URL_ENV = "CLINIC_TICKETS_URL"
DB_PATH_ENV = "CLINIC_TICKETS_DB"
SCHEMA_ENV = "CLINIC_TICKETS_SCHEMA"
DEFAULT_DB_PATH = "build/tickets.db"
SQLITE_BUSY_SECONDS = 15

CATEGORIES = ("complication", "booking", "callback", "question")
# Most urgent first: the inbox and the CLI sort by this order.
URGENCIES = ("urgent", "soon", "routine")
STATUSES = ("open", "contacted", "closed")
# A ticket still being handled: follow-up messages join it instead of opening another.
ACTIVE_STATUSES = ("open", "contacted")
# Who said a transcript turn.
SPEAKERS = ("patient", "assistant")
# Bounds on what one ticket keeps: a transcript is a recent window, never a whole history.
MAX_TRANSCRIPT_TURNS = 60
MAX_TURN_CHARS = 2000
MAX_NOTE_CHARS = 1000
MAX_SEARCH_CHARS = 200
DEFAULT_PAGE_SIZE = 25

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
    # Added after the first release, so nullable: rows from before have neither. Listed in
    # ADDED_COLUMNS, which _ensure_table adds to an existing table that lacks them.
    # SHA-256 of the Rasa sender id (a phone number on SMS): finds the sender's episode.
    sa.Column("sender", sa.String(64)),
    # Which triage layer caught the complication ("rules", "classifier", "symptom_screen").
    # No CHECK constraint: a new layer name must never make an urgent ticket fail to store.
    sa.Column("triage_layer", sa.String(32)),
    # The conversation: [{"by": "patient" | "assistant", "text": ...}], button payloads
    # already replaced by the buttons' titles. Older tickets have only ``messages``.
    sa.Column("transcript", sa.JSON),
    # What staff wrote about the ticket (the inbox's note form).
    sa.Column("staff_note", sa.Text),
    # Case-folded messages, contact details and note: what the inbox's search matches.
    sa.Column("search_text", sa.Text),
    sa.CheckConstraint(f"category IN {CATEGORIES!r}", name="clinic_tickets_category"),
    sa.CheckConstraint(f"urgency IN {URGENCIES!r}", name="clinic_tickets_urgency"),
    sa.CheckConstraint(f"status IN {STATUSES!r}", name="clinic_tickets_status"),
    sa.Index("clinic_tickets_status_idx", "status"),
    sa.Index("clinic_tickets_sender_idx", "sender"),
)
ADDED_COLUMNS = ("sender", "triage_layer", "transcript", "staff_note", "search_text")
ADDED_INDEXES = ("clinic_tickets_sender_idx",)

_URGENCY_RANK = sa.case(
    {urgency: rank for rank, urgency in enumerate(URGENCIES)}, value=tickets_table.c.urgency
)
_STATUS_RANK = sa.case(
    {status: rank for rank, status in enumerate(STATUSES)}, value=tickets_table.c.status
)
# Closed tickets newest first (the ones just dealt with); the others keep oldest first.
_CLOSED_NEWEST_FIRST = sa.case(
    (tickets_table.c.status == "closed", -tickets_table.c.id), else_=sa.literal(0)
)
# The inbox's order: open, contacted, closed; within each, urgent > soon > routine.
INBOX_ORDER = (
    _STATUS_RANK,
    _URGENCY_RANK,
    _CLOSED_NEWEST_FIRST,
    tickets_table.c.created_at,
    tickets_table.c.id,
)
_NOT_DIGITS = re.compile(r"\D+")


@dataclass(frozen=True)
class Turn:
    """One message of the conversation on a ticket: ``by`` is "patient" or "assistant"."""

    by: str
    text: str = field(repr=False)

    def to_dict(self) -> dict[str, str]:
        return {"by": self.by, "text": self.text}


def transcript_turns(turns: Iterable[Mapping[str, Any] | Turn] | None) -> tuple[Turn, ...]:
    """Well-formed turns from stored or given ones (dicts or :class:`Turn`), each text capped
    at ``MAX_TURN_CHARS`` and only the last ``MAX_TRANSCRIPT_TURNS`` kept. Malformed items
    are dropped rather than refused: a transcript must never cost the patient their ticket."""
    kept: list[Turn] = []
    for turn in turns or ():
        if isinstance(turn, Turn):
            by, text = turn.by, turn.text
        elif isinstance(turn, Mapping):
            by, text = turn.get("by"), turn.get("text")
        else:
            continue
        if by in SPEAKERS and isinstance(text, str) and text.strip():
            kept.append(Turn(str(by), text.strip()[:MAX_TURN_CHARS]))
    return tuple(kept[-MAX_TRANSCRIPT_TURNS:])


def merged_transcript(old: Sequence[Turn], new: Sequence[Turn]) -> tuple[Turn, ...]:
    """``old`` followed by the turns of ``new`` it does not have yet.

    ``new`` is a later window of the same conversation (a follow-up's transcript), so it
    usually starts inside ``old``: the longest end of ``old`` that begins ``new`` is the
    overlap. Failing that, what follows the last turn of ``old`` found in ``new``; failing
    that too (the windows do not meet), all of ``new``.
    """
    old, new = tuple(old), tuple(new)
    for size in range(min(len(old), len(new)), 0, -1):
        if old[-size:] == new[:size]:
            return transcript_turns((*old, *new[size:]))
    if old:
        for index in range(len(new) - 1, -1, -1):
            if new[index] == old[-1]:
                return transcript_turns((*old, *new[index + 1 :]))
    return transcript_turns((*old, *new))


def search_text(
    *,
    messages: Sequence[str],
    transcript: Sequence[Turn],
    name: str | None,
    phone: str | None,
    email: str | None,
    note: str | None,
) -> str:
    """What the text search matches, case-folded: the patient's words (not the
    assistant's: searching "cost" should find patients who asked), the contact details (the
    phone also as digits only) and the staff note."""
    parts = [*messages, *(turn.text for turn in transcript if turn.by == "patient")]
    parts += [part for part in (name, phone, email, note) if part]
    if phone:
        parts.append(_NOT_DIGITS.sub("", phone))
    return "\n".join(parts).casefold()


def _row_search_text(row: Any) -> str:
    return search_text(
        messages=[str(m) for m in row.messages or ()],
        transcript=transcript_turns(row.transcript),
        name=row.contact_name,
        phone=row.contact_phone,
        email=row.contact_email,
        note=row.staff_note,
    )


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets the inbox shows. Empty tuples mean any; ``text`` is searched for in
    the messages, contact details and note (case and accents as written are ignored:
    case-folded); ``after_id`` keeps only tickets newer than that id (what polling asks)."""

    statuses: tuple[str, ...] = ACTIVE_STATUSES
    urgencies: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    treatments: tuple[str, ...] = ()
    text: str = ""
    after_id: int | None = None

    def __post_init__(self) -> None:
        for status in self.statuses:
            _choice("status", status, STATUSES)
        for urgency in self.urgencies:
            _choice("urgency", urgency, URGENCIES)
        for category in self.categories:
            _choice("category", category, CATEGORIES)
        if len(self.text) > MAX_SEARCH_CHARS:
            raise ValueError(f"search for at most {MAX_SEARCH_CHARS} characters")


@dataclass(frozen=True)
class TicketPage:
    """One page of tickets and how many match in all."""

    tickets: list[Ticket]
    total: int


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
    # Defaults: tickets from before these columns existed have neither.
    sender: str | None = field(default=None, repr=False)  # SHA-256 of the sender id
    triage_layer: str | None = None
    # None for tickets from before transcripts were kept: show ``messages`` instead.
    transcript: tuple[Turn, ...] | None = field(default=None, repr=False)
    staff_note: str | None = field(default=None, repr=False)


class _Row:
    """Attribute access to a row's values as they will be after an update."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.__dict__.update(values)


class TicketNotFoundError(LookupError):
    """No ticket with that id."""


def _choice(name: str, value: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _hashed(value: str, missing: str) -> str:
    """SHA-256 hex of a required value that may be personal data (a phone-number sender)."""
    if not value:
        raise ValueError(missing)
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _hash_key(key: str) -> str:
    return _hashed(key, "an idempotency key is required (e.g. sender id + message id)")


def _hash_sender(sender_id: str) -> str:
    return _hashed(sender_id, "a sender id is required")


def _naive_utc(moment: datetime) -> datetime:
    # Columns hold naive UTC (see created_at); callers may pass aware datetimes in any zone.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


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
        sender=row.sender,
        triage_layer=row.triage_layer,
        transcript=None if row.transcript is None else transcript_turns(row.transcript),
        staff_note=row.staff_note,
    )


def _locked_row(connection: Connection, ticket_id: int) -> Any:
    """The ticket's row, locked until the transaction ends (read-modify-write); raises
    ``TicketNotFoundError`` for an unknown id."""
    row = connection.execute(
        sa.select(tickets_table).where(tickets_table.c.id == ticket_id).with_for_update()
    ).first()
    if row is None:
        raise TicketNotFoundError(f"no ticket {ticket_id}")
    return row


def _set_wal(dbapi_connection: Any, busy_seconds: float = SQLITE_BUSY_SECONDS) -> None:
    # Switching a file that is not in WAL mode yet (new, or made without it) needs an
    # exclusive lock, and SQLite does not wait for that one: processes opening the file
    # at the same moment would fail at once with "database is locked". So wait here.
    deadline = time.monotonic() + busy_seconds
    while True:
        try:
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
    ``busy_seconds``: how long a SQLite write waits for another writer's lock before failing
    with "database is locked".
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        on_created: Callable[[Ticket], object] | None = None,
        busy_seconds: float = SQLITE_BUSY_SECONDS,
    ) -> None:
        self.url = url
        self.schema = schema or None
        self.on_created = on_created
        self._engine = self._make_engine(url, self.schema, busy_seconds)
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_env(cls, on_created: Callable[[Ticket], object] | None = None) -> TicketStore:
        return cls(database_url(), schema=os.environ.get(SCHEMA_ENV), on_created=on_created)

    @staticmethod
    def _make_engine(url: str, schema: str | None, busy_seconds: float) -> Engine:
        parsed = sa.engine.make_url(url)
        if schema and parsed.get_backend_name() == "sqlite":
            raise ValueError(f"${SCHEMA_ENV} is for PostgreSQL; SQLite has no schemas")
        options: dict[str, Any] = {"future": True, "hide_parameters": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            # The action server and the staff page are separate processes sharing the file:
            # wait for a writer's lock instead of failing at once.
            options["connect_args"] = {"timeout": busy_seconds}
        else:
            options["pool_pre_ping"] = True  # survive a database restart between requests
        engine = sa.create_engine(url, **options)
        if parsed.get_backend_name() == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _wal(dbapi_connection: Any, _record: Any) -> None:
                # WAL lets the inbox read while the action server writes.
                _set_wal(dbapi_connection, busy_seconds)

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
                # Under the write lock on SQLite: two processes upgrading an old table at
                # once must not both see a column missing (PostgreSQL's ALTER TABLE waits
                # for the other transaction by itself, then fails into the check below).
                with self._write_transaction() as connection:
                    if self.schema:
                        # SQLAlchemy 1.4's CreateSchema has no IF NOT EXISTS.
                        quoted = connection.dialect.identifier_preparer.quote(self.schema)
                        connection.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
                    _metadata.create_all(connection)
                    self._upgrade(connection)
                    self._fill_search_text(connection)
            except DBAPIError:
                # Another process created or upgraded it at the same moment; fine if it is
                # now complete.
                if self._missing_parts(sa.inspect(self._engine)):
                    raise
            self._ready = True

    def _missing_parts(self, inspector: Any) -> list[str]:
        """Columns and indexes of this version that the existing table lacks."""
        if not inspector.has_table(tickets_table.name, schema=self.schema):
            return [tickets_table.name]
        columns = {c["name"] for c in inspector.get_columns(tickets_table.name, self.schema)}
        indexes = {i["name"] for i in inspector.get_indexes(tickets_table.name, self.schema)}
        return [name for name in ADDED_COLUMNS if name not in columns] + [
            name for name in ADDED_INDEXES if name not in indexes
        ]

    def _upgrade(self, connection: Connection) -> None:
        """Adds the columns and indexes a table from an earlier version lacks.

        ``create_all`` skips an existing table entirely, so a database from before these
        columns would otherwise fail every query that names them.
        """
        missing = self._missing_parts(sa.inspect(connection))
        preparer = connection.dialect.identifier_preparer
        table = preparer.quote(tickets_table.name)
        if self.schema:
            # Raw DDL: schema_translate_map only applies to compiled constructs.
            table = f"{preparer.quote_schema(self.schema)}.{table}"
        for name in ADDED_COLUMNS:
            if name in missing:
                column = tickets_table.c[name]
                kind = column.type.compile(dialect=connection.dialect)
                logger.info("adding column %s to %s", name, tickets_table.name)
                connection.execute(
                    sa.text(f"ALTER TABLE {table} ADD COLUMN {preparer.quote(name)} {kind}")
                )
        for index in tickets_table.indexes:
            if index.name in missing:
                index.create(connection, checkfirst=True)

    @staticmethod
    def _fill_search_text(connection: Connection) -> None:
        """Search text for rows without it: made before the column existed (or by a version
        that did not fill it)."""
        rows = connection.execute(
            sa.select(tickets_table).where(tickets_table.c.search_text.is_(None))
        ).all()
        for row in rows:
            connection.execute(
                tickets_table.update()
                .where(tickets_table.c.id == row.id)
                .values(search_text=_row_search_text(row))
            )
        if rows:
            logger.info("search text filled in for %d ticket(s)", len(rows))

    def create(self, **fields: Any) -> Ticket:
        """A new open ticket; the existing one when ``idempotency_key`` was used before.
        Takes :meth:`create_once`'s keyword arguments, without saying which of the two
        happened."""
        ticket, _created = self.create_once(**fields)
        return ticket

    def create_once(
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
        sender_id: str | None = None,
        triage_layer: str | None = None,
        created_at: datetime | None = None,
        transcript: Sequence[Mapping[str, Any] | Turn] | None = None,
    ) -> tuple[Ticket, bool]:
        """A new open ticket, and whether this call inserted it (``False``: the key was used
        before and that ticket is returned).

        Build the key from the conversation and the event that triggered the ticket (e.g.
        ``f"{tracker.sender_id}:{tracker.latest_message['message_id']}"``), so a retried
        action finds its first ticket instead of creating a second. ``sender_id`` (stored
        hashed) is what ``open_episode`` and ``count_created_since`` look tickets up by.
        ``created_at`` (default: now) is when
        the patient asked, for a request written later (``clinic.frontdesk.outbox``).
        ``transcript``: the conversation as turns (``{"by": "patient", "text": ...}``)."""
        key = _hash_key(idempotency_key)
        now = _now()
        turns = None if transcript is None else transcript_turns(transcript)
        values: dict[str, Any] = {
            "idempotency_key": key,
            "created_at": now if created_at is None else _naive_utc(created_at),
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
            "sender": None if sender_id is None else _hash_sender(sender_id),
            # Truncated, not refused: the label must never cost the patient their ticket.
            "triage_layer": (_optional_text(triage_layer) or "")[:32] or None,
            "transcript": None if turns is None else [turn.to_dict() for turn in turns],
        }
        values["search_text"] = search_text(
            messages=values["messages"],
            transcript=turns or (),
            name=values["contact_name"],
            phone=values["contact_phone"],
            email=values["contact_email"],
            note=None,
        )
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
            return existing, False
        ticket = self.get(ticket_id)
        assert ticket is not None
        logger.info("ticket %s created (%s, %s)", ticket.id, ticket.category, ticket.urgency)
        if self.on_created is not None:
            try:
                self.on_created(ticket)
            except Exception:
                # The ticket is safely stored; a failing hook must not fail the patient's turn.
                logger.exception("on_created hook failed for ticket %s", ticket.id)
        return ticket, True

    def get(self, ticket_id: int) -> Ticket | None:
        self._ensure_table()
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(tickets_table).where(tickets_table.c.id == ticket_id)
            ).first()
        return _to_ticket(row) if row else None

    def find_by_key(self, idempotency_key: str) -> Ticket | None:
        """The ticket created with ``idempotency_key``, if there is one."""
        self._ensure_table()
        return self._get_by_key(_hash_key(idempotency_key))

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

    def search_tickets(
        self,
        wanted: TicketFilter | None = None,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> TicketPage:
        """One page of the tickets ``wanted`` selects, in the inbox's order (open, contacted,
        closed; urgent first; oldest first, closed ones newest first), and the total."""
        wanted = wanted or TicketFilter()
        if limit < 1 or offset < 0:
            raise ValueError("a page needs a positive size and an offset of 0 or more")
        table = tickets_table
        conditions = []
        if wanted.statuses:
            conditions.append(table.c.status.in_(list(wanted.statuses)))
        if wanted.urgencies:
            conditions.append(table.c.urgency.in_(list(wanted.urgencies)))
        if wanted.categories:
            conditions.append(table.c.category.in_(list(wanted.categories)))
        if wanted.treatments:
            conditions.append(table.c.treatment.in_(list(wanted.treatments)))
        if wanted.after_id is not None:
            conditions.append(table.c.id > wanted.after_id)
        for word in wanted.text.casefold().split():
            # Every word somewhere, in any order; autoescape: "%" and "_" match themselves.
            conditions.append(table.c.search_text.contains(word, autoescape=True))
        where = sa.and_(sa.true(), *conditions)
        self._ensure_table()
        with self._engine.connect() as connection:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(where)
            ).scalar_one()
            rows = connection.execute(
                sa.select(table).where(where).order_by(*INBOX_ORDER).limit(limit).offset(offset)
            )
            tickets = [_to_ticket(row) for row in rows]
        return TicketPage(tickets, int(total))

    def count_by_status(self) -> dict[str, int]:
        """How many tickets have each status (every status listed, 0 included)."""
        self._ensure_table()
        query = sa.select(tickets_table.c.status, sa.func.count()).group_by(tickets_table.c.status)
        with self._engine.connect() as connection:
            counted = {status: int(count) for status, count in connection.execute(query)}
        return {status: counted.get(status, 0) for status in STATUSES}

    def latest_id(self) -> int:
        """The newest ticket's id (0 when there is none)."""
        self._ensure_table()
        with self._engine.connect() as connection:
            latest = connection.execute(sa.select(sa.func.max(tickets_table.c.id))).scalar()
        return int(latest or 0)

    def list_open(self) -> list[Ticket]:
        """Open tickets, urgent > soon > routine, then oldest first."""
        return self.list_tickets(("open",))

    def open_episode(
        self,
        sender_id: str,
        *,
        category: str = "complication",
        within: timedelta = timedelta(hours=24),
        now: datetime | None = None,
    ) -> Ticket | None:
        """The sender's newest open or contacted ticket of ``category`` updated within
        ``within`` of ``now`` (default: the current time), else None.

        A follow-up message in the same conversation belongs on that ticket, not on a new
        urgent one.
        """
        _choice("category", category, CATEGORIES)
        cutoff = _naive_utc(now or datetime.now(timezone.utc)) - within
        self._ensure_table()
        query = (
            sa.select(tickets_table)
            .where(
                tickets_table.c.sender == _hash_sender(sender_id),
                tickets_table.c.category == category,
                tickets_table.c.status.in_(ACTIVE_STATUSES),
                tickets_table.c.updated_at >= cutoff,
            )
            .order_by(tickets_table.c.created_at.desc(), tickets_table.c.id.desc())
            .limit(1)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).first()
        return _to_ticket(row) if row else None

    def append_messages(
        self,
        ticket_id: int,
        messages: Sequence[str],
        *,
        phone: str | None = None,
        transcript: Sequence[Mapping[str, Any] | Turn] | None = None,
    ) -> Ticket:
        """Adds ``messages`` after the ticket's own and, when given, sets its phone number
        (``None`` never erases one). ``transcript`` is the conversation as it is now (a
        window that may overlap what the ticket has): its new turns are added to the
        ticket's transcript (:func:`merged_transcript`). Raises ``TicketNotFoundError`` for
        an unknown id."""
        added = [str(message) for message in messages]
        phone = _optional_text(phone)
        self._ensure_table()
        # Read-modify-write of JSON lists: the row stays locked from the read to the
        # commit, so concurrent appends (two processes) wait instead of losing messages.
        with self._write_transaction() as connection:
            row = _locked_row(connection, ticket_id)
            values: dict[str, Any] = {
                "messages": [*(row.messages or ()), *added],
                "updated_at": _now(),
            }
            if phone is not None:
                values["contact_phone"] = phone
            if transcript is not None:
                if row.transcript is None:
                    # A ticket from before transcripts: its messages are the patient's turns.
                    old = transcript_turns({"by": "patient", "text": str(m)} for m in row.messages)
                else:
                    old = transcript_turns(row.transcript)
                merged = merged_transcript(old, transcript_turns(transcript))
                values["transcript"] = [turn.to_dict() for turn in merged]
            self._write_row(connection, row, values)
        logger.info("ticket %s: %d message(s) added", ticket_id, len(added))
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket

    def set_contact_phone(self, ticket_id: int, phone: str) -> Ticket:
        """Sets the ticket's phone number (e.g. a call-back number given after the advice);
        raises ``TicketNotFoundError`` for an unknown id."""
        number = _optional_text(phone)
        if number is None:
            raise ValueError("a phone number is required")
        ticket = self._update(ticket_id, contact_phone=number)
        logger.info("ticket %s contact phone set", ticket_id)
        return ticket

    def count_created_since(self, sender_id: str, *, urgency: str, since: datetime) -> int:
        """How many of the sender's tickets of ``urgency`` were created at or after ``since``
        (aware, or naive UTC), e.g. to cap the urgent tickets one sender can raise."""
        _choice("urgency", urgency, URGENCIES)
        self._ensure_table()
        query = (
            sa.select(sa.func.count())
            .select_from(tickets_table)
            .where(
                tickets_table.c.sender == _hash_sender(sender_id),
                tickets_table.c.urgency == urgency,
                tickets_table.c.created_at >= _naive_utc(since),
            )
        )
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def set_status(self, ticket_id: int, status: str) -> Ticket:
        """Changes a ticket's status; raises ``TicketNotFoundError`` for an unknown id."""
        _choice("status", status, STATUSES)
        ticket = self._update(ticket_id, status=status)
        logger.info("ticket %s status set to %s", ticket_id, status)
        return ticket

    def set_staff_note(self, ticket_id: int, note: str | None) -> Ticket:
        """Sets the staff's note on a ticket (blank removes it); at most ``MAX_NOTE_CHARS``
        characters (longer: ValueError, nothing changed). It does not count as the ticket
        moving: ``updated_at`` (follow-ups, status) stays. Raises ``TicketNotFoundError``
        for an unknown id."""
        text = _optional_text(note)
        if text is not None and len(text) > MAX_NOTE_CHARS:
            raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters ({len(text)} given)")
        ticket = self._update(ticket_id, touch=False, staff_note=text)
        logger.info("ticket %s note %s", ticket_id, "set" if text else "removed")
        return ticket

    def _update(self, ticket_id: int, *, touch: bool = True, **values: Any) -> Ticket:
        """Sets ``values`` (and ``updated_at`` to now when ``touch``), keeping the search
        text in step, in one write transaction."""
        self._ensure_table()
        with self._write_transaction() as connection:
            row = _locked_row(connection, ticket_id)
            self._write_row(
                connection, row, {**values, **({"updated_at": _now()} if touch else {})}
            )
        ticket = self.get(ticket_id)
        assert ticket is not None
        return ticket

    @staticmethod
    def _write_row(connection: Connection, row: Any, values: dict[str, Any]) -> None:
        """Writes ``values`` over ``row`` (read in this transaction), with its search text
        made from the row as it will be."""
        after = {**row._mapping, **values}
        values = {**values, "search_text": _row_search_text(_Row(after))}
        connection.execute(
            tickets_table.update().where(tickets_table.c.id == row.id).values(**values)
        )

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A transaction that holds the write lock from its first statement on."""
        with self._engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # pysqlite only begins a transaction at the first write, so a read before it
                # could be stale by the time of the write; SQLite has no row locks (FOR UPDATE
                # renders nothing), so take the database's write lock up front. Other writers
                # wait for it (the connection's busy timeout).
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    def close(self) -> None:
        """Closes the database connections (the store reconnects if used again)."""
        self._engine.dispose()
