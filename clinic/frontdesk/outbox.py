"""The outbox: ticket requests the ticket database could not take, kept on disk until it can.

A patient's request must never be lost to a database that is locked, unreachable, unwritable or
full. :class:`FrontDesk` writes each request to the store; when that fails, the request is kept
in the outbox instead, a JSON-lines file on local disk independent of the database
(``$CLINIC_OUTBOX_DIR``, default ``build/outbox`` under the project root; one file per ticket
database, ``tickets-<id>.jsonl``, so a request is only ever written to the database it was
meant for, even when several configurations share the directory), and written to the store
later: by a background thread in the action server (a pass at start-up, then every
``$CLINIC_OUTBOX_RETRY_SECONDS``, default 30, and at once when a write succeeds again), or by
``python -m clinic.frontdesk outbox --retry``.

- Durable: a request is one line, appended and fsync'ed (the directory too when the file is
  new) before the patient is told it is kept. The file holds contact details and messages, so
  it is created (and kept) 0600.
- Safe to retry: a request keeps its idempotency key, so one written to the store but not yet
  removed from the outbox (a crash in between) finds its ticket again instead of making a
  second. Written requests are removed by rewriting the file atomically (temporary file,
  rename); the file is deleted when empty.
- Shared safely: a lock file (``flock``) serialises the threads and processes using the
  directory. A line that cannot be read (a write cut short by a crash, before the patient was
  told anything) is kept as it is, never dropped.
- Alerts: the first failure of an episode (until the outbox is empty again) is logged once at
  ERROR with how many requests are waiting, and sent to ``$CLINIC_NOTIFY_URL`` when set
  (``{"event": "tickets.waiting", "waiting": 2, ...}``). Logs and alerts hold counts and entry
  ids only, never personal data.

The desk also files requests the same way in both paths (now, and from the outbox): a
complication joins the sender's open episode; a booking keyed by its details
(:func:`details_key`) is a duplicate while its ticket is still open, a new request once closed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from clinic.frontdesk.notify import Notifier
from clinic.frontdesk.store import (
    ACTIVE_STATUSES,
    CATEGORIES,
    SCHEMA_ENV,
    URGENCIES,
    Ticket,
    TicketNotFoundError,
    TicketStore,
    database_url,
    transcript_turns,
)
from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

OUTBOX_DIR_ENV = "CLINIC_OUTBOX_DIR"
DEFAULT_OUTBOX_DIR = "build/outbox"
RETRY_SECONDS_ENV = "CLINIC_OUTBOX_RETRY_SECONDS"
DEFAULT_RETRY_SECONDS = 30.0
OUTBOX_FILE_PREFIX = "tickets-"
FILE_MODE = 0o600
RECORD_VERSION = 1
# The database could not be written (down, locked, unwritable, full): stop this pass and retry
# later. Any other error belongs to one request; the others are still written.
STORAGE_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError)


def outbox_dir(environ: dict[str, str] | None = None) -> Path:
    """``$CLINIC_OUTBOX_DIR`` (a relative path is taken from the project root)."""
    env = os.environ if environ is None else environ
    path = Path(env.get(OUTBOX_DIR_ENV) or DEFAULT_OUTBOX_DIR).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def outbox_path(url: str, schema: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """The outbox file for the ticket database at ``url`` (and ``schema``), in the outbox
    directory: named after the database (its URL without the password), so one database's
    requests are never written into another."""
    parsed = sa.engine.make_url(url)
    address = sa.engine.URL.create(
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database
    ).render_as_string(hide_password=False)
    digest = hashlib.sha256(f"{address}|{schema or ''}".encode()).hexdigest()[:16]
    return outbox_dir(environ) / f"{OUTBOX_FILE_PREFIX}{digest}.jsonl"


def retry_seconds(environ: dict[str, str] | None = None) -> float:
    """``$CLINIC_OUTBOX_RETRY_SECONDS``: how long between retries (at least 0.1 s)."""
    env = os.environ if environ is None else environ
    raw = (env.get(RETRY_SECONDS_ENV) or "").strip()
    if not raw:
        return DEFAULT_RETRY_SECONDS
    try:
        return max(0.1, float(raw))
    except ValueError:
        logger.warning("$%s is not a number; using %s", RETRY_SECONDS_ENV, DEFAULT_RETRY_SECONDS)
        return DEFAULT_RETRY_SECONDS


def details_key(conversation: str, *details: str | None) -> str:
    """An idempotency key for a request known by what it says: the same details in the same
    conversation (case and spacing aside) give the same key, so sending them again finds the
    ticket already made."""
    normalised = "\x1f".join(" ".join(str(detail or "").split()).casefold() for detail in details)
    return f"{conversation}:{hashlib.sha256(normalised.encode('utf-8')).hexdigest()[:32]}"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class TicketRequest:
    """A ticket to file: ``TicketStore.create``'s arguments, and how to file it.

    ``join_episode``: a complication, added to the sender's open episode when there is one
    (its last message). ``reopen_when_closed``: a key made from the details
    (:func:`details_key`); once that ticket is closed, the same details are a new request.
    ``requested_at`` becomes the ticket's creation time, also when it is written later.
    ``transcript``: the conversation as ``{"by": ..., "text": ...}`` turns (None: not kept,
    as in requests kept by an earlier version).
    """

    idempotency_key: str = field(repr=False)  # built from the sender id: a phone number on SMS
    category: str
    urgency: str
    channel: str
    treatment: str | None = None
    name: str | None = field(default=None, repr=False)
    phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    messages: tuple[str, ...] = field(default=(), repr=False)
    sender_id: str | None = field(default=None, repr=False)
    triage_layer: str | None = None
    join_episode: bool = False
    reopen_when_closed: bool = False
    requested_at: datetime = field(default_factory=_utc_now)
    transcript: tuple[dict[str, str], ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Refused here, before anything is kept: a request the store would always refuse.
        if not self.idempotency_key:
            raise ValueError("a ticket request needs an idempotency key")
        if self.category not in CATEGORIES:
            raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}")
        if self.join_episode and not self.sender_id:
            raise ValueError("joining an episode needs the sender id")
        object.__setattr__(self, "messages", tuple(str(message) for message in self.messages))
        if self.transcript is not None:
            turns = tuple(turn.to_dict() for turn in transcript_turns(self.transcript))
            object.__setattr__(self, "transcript", turns)

    def to_record(self) -> dict[str, Any]:
        return {
            "idempotency_key": self.idempotency_key,
            "category": self.category,
            "urgency": self.urgency,
            "channel": self.channel,
            "treatment": self.treatment,
            "name": self.name,
            "phone": self.phone,
            "email": self.email,
            "messages": list(self.messages),
            "sender_id": self.sender_id,
            "triage_layer": self.triage_layer,
            "join_episode": self.join_episode,
            "reopen_when_closed": self.reopen_when_closed,
            "requested_at": self.requested_at.isoformat(),
            "transcript": None if self.transcript is None else list(self.transcript),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TicketRequest:
        values = dict(record)
        values["messages"] = tuple(values.get("messages") or ())
        values["requested_at"] = datetime.fromisoformat(values["requested_at"])
        return cls(**values)


@dataclass(frozen=True)
class OutboxEntry:
    """One waiting request: a ticket to create, or a call-back number to add to a ticket."""

    id: str
    queued_at: datetime
    request: TicketRequest | None = None
    ticket_id: int | None = None
    phone: str | None = field(default=None, repr=False)

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "version": RECORD_VERSION,
            "id": self.id,
            "queued_at": self.queued_at.isoformat(),
        }
        if self.request is not None:
            record.update(op="create", request=self.request.to_record())
        else:
            record.update(op="set_phone", ticket_id=self.ticket_id, phone=self.phone)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> OutboxEntry:
        queued_at = datetime.fromisoformat(record["queued_at"])
        if record["op"] == "create":
            request = TicketRequest.from_record(record["request"])
            return cls(record["id"], queued_at, request=request)
        if record["op"] == "set_phone":
            return cls(record["id"], queued_at, ticket_id=int(record["ticket_id"]),
                       phone=str(record["phone"]))  # fmt: skip
        raise ValueError("unknown outbox operation")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    # A new or renamed file's name is only durable once its directory is synced.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    """Waiting requests in a JSON-lines file (one entry a line), safe across threads and
    processes. The directory is created when the first request is kept."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._drain_lock_path = self.path.with_name(self.path.name + ".drain-lock")
        self._thread_lock = threading.Lock()
        self._unreadable_reported = 0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Outbox:
        """The outbox of the environment's ticket database (``clinic.frontdesk.store``)."""
        env = os.environ if environ is None else environ
        return cls(outbox_path(database_url(env), env.get(SCHEMA_ENV) or None, env))

    def others_waiting(self) -> list[Path]:
        """Other outbox files in the directory with something in them: requests kept for
        another ticket database (e.g. before its URL changed), which this one never writes."""
        try:
            files = sorted(self.path.parent.glob(f"{OUTBOX_FILE_PREFIX}*.jsonl"))
        except OSError:
            return []
        return [f for f in files if f != self.path and f.is_file() and f.stat().st_size > 0]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This outbox to itself: other threads (thread lock) and processes (``flock``) wait."""
        with self._thread_lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock

    @contextmanager
    def draining(self) -> Iterator[bool]:
        """Whether this process may write the entries now: ``False`` while another process
        (e.g. a second action server on the same directory) is doing it."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._drain_lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def put_request(self, request: TicketRequest) -> tuple[OutboxEntry, bool]:
        """Keeps ``request`` (on disk when this returns). ``False`` and the waiting entry when
        a request with the same key is already waiting: it is not kept twice."""
        with self._locked():
            entries, _unreadable = self._read()
            for entry in entries:
                if entry.request and entry.request.idempotency_key == request.idempotency_key:
                    return entry, False
            entry = OutboxEntry(uuid.uuid4().hex, _utc_now(), request=request)
            self._append(entry.to_record())
        return entry, True

    def put_phone(self, ticket_id: int, phone: str) -> OutboxEntry:
        """Keeps a call-back number to add to ticket ``ticket_id``."""
        entry = OutboxEntry(uuid.uuid4().hex, _utc_now(), ticket_id=int(ticket_id), phone=phone)
        with self._locked():
            self._append(entry.to_record())
        return entry

    def pending(self) -> list[OutboxEntry]:
        """The waiting entries, oldest first."""
        if not self.path.exists():  # nothing kept yet: touch nothing on disk
            return []
        with self._locked():
            entries, unreadable = self._read()
        if len(unreadable) > self._unreadable_reported:
            logger.warning(
                "outbox %s has %d unreadable line(s), kept as they are", self.path, len(unreadable)
            )
            self._unreadable_reported = len(unreadable)
        return entries

    def count(self) -> int:
        return len(self.pending())

    def remove(self, entry_ids: set[str] | list[str]) -> int:
        """Removes written entries; returns how many still wait (any kept meanwhile included)."""
        done = set(entry_ids)
        if not self.path.exists():
            return 0
        with self._locked():
            entries, unreadable = self._read()
            remaining = [entry for entry in entries if entry.id not in done]
            if len(remaining) < len(entries):
                self._rewrite([entry.to_record() for entry in remaining], unreadable)
        return len(remaining)

    def _read(self) -> tuple[list[OutboxEntry], list[bytes]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        entries: list[OutboxEntry] = []
        unreadable: list[bytes] = []
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                entries.append(OutboxEntry.from_record(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                unreadable.append(line)
        return entries, unreadable

    def _append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        new_file = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # also a file made earlier with wider permissions
            size = os.fstat(fd).st_size
            # After a line cut short by a crash: start a new line, never extend that one.
            prefix = b"\n" if size and os.pread(fd, 1, size - 1) != b"\n" else b""
            try:
                _write_all(fd, prefix + line + b"\n")
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # e.g. the disk filled up mid-line: leave no half line
                raise
        finally:
            os.close(fd)
        if new_file:
            _fsync_dir(self.path.parent)

    def _rewrite(self, records: list[dict[str, Any]], unreadable: list[bytes]) -> None:
        if not records and not unreadable:
            self.path.unlink(missing_ok=True)  # empty: no personal data left behind
            _fsync_dir(self.path.parent)
            return
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() for r in records]
        data = b"".join(line + b"\n" for line in [*unreadable, *lines])
        temporary = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)


class Outcome(str, Enum):
    """What became of a request."""

    CREATED = "created"  # a new ticket
    JOINED = "joined"  # added to the sender's open complication ticket
    EXISTING = "existing"  # already with the team: a retried action, or the same details again
    UPDATED = "updated"  # the ticket changed (its call-back number)
    KEPT = "kept"  # the store failed: kept in the outbox, written when it can be
    UNSAVED = "unsaved"  # neither written nor kept: only the patient's call will reach the team


@dataclass(frozen=True)
class Filed:
    """The outcome, the ticket when one was written, and the requests waiting in the outbox."""

    outcome: Outcome
    ticket: Ticket | None = None
    waiting: int = 0


class FrontDesk:
    """Files ticket requests: in the store when it can be written, else in the outbox until
    it can. Thread-safe. ``open_store`` makes the store when first needed (making it can fail
    too, e.g. a SQLite directory that cannot be created)."""

    def __init__(
        self,
        open_store: Callable[[], TicketStore],
        outbox: Outbox,
        *,
        notifier: Notifier | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self._open_store = open_store
        self._store: TicketStore | None = None
        self.outbox = outbox
        self.notifier = notifier
        self.retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._failing = False  # in a failure episode: the first failure was reported
        self._stuck_reported: set[str] = set()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def store(self) -> TicketStore:
        with self._lock:
            if self._store is None:
                self._store = self._open_store()
            return self._store

    def submit(
        self,
        request: TicketRequest,
        *,
        now: datetime | None = None,
        urgent_per_hour: int | None = None,
    ) -> Filed:
        """Writes ``request`` to the store, or keeps it in the outbox when that fails.

        ``now`` (default: the current time) is when the complication episode is looked up
        from; ``urgent_per_hour`` caps the sender's new urgent tickets (further ones are
        filed as "soon")."""
        try:
            filed = self._write(self.store(), request, now=now, urgent_per_hour=urgent_per_hour)
        except Exception as error:  # whatever stopped the write, the request must not be lost
            return self._keep(error, lambda: self.outbox.put_request(request)[1])
        self._written()
        return filed

    def set_contact_phone(self, ticket_id: int, phone: str) -> Filed:
        """Adds a call-back number to a ticket, or keeps it in the outbox when that fails.
        Raises ``TicketNotFoundError`` for an unknown ticket."""
        if not (phone or "").strip():
            raise ValueError("a phone number is required")
        try:
            ticket = self.store().set_contact_phone(ticket_id, phone)
        except TicketNotFoundError:
            raise
        except Exception as error:  # as in submit: the number must not be lost
            return self._keep(error, lambda: bool(self.outbox.put_phone(ticket_id, phone)))
        self._written()
        return Filed(Outcome.UPDATED, ticket)

    def _write(
        self,
        store: TicketStore,
        request: TicketRequest,
        *,
        now: datetime | None = None,
        urgent_per_hour: int | None = None,
    ) -> Filed:
        if request.join_episode:
            assert request.sender_id is not None  # checked by TicketRequest
            existing = store.find_by_key(request.idempotency_key)
            if existing is not None:
                return Filed(Outcome.EXISTING, existing)
            episode = store.open_episode(request.sender_id, category=request.category, now=now)
            if episode is not None:
                latest = list(request.messages[-1:])
                # Already on it: a retried action, or a request written before it was removed
                # from the outbox (a crash in between).
                if not latest or latest[0] in episode.messages:
                    return Filed(Outcome.EXISTING, episode)
                ticket = store.append_messages(
                    episode.id, latest, phone=request.phone, transcript=request.transcript
                )
                return Filed(Outcome.JOINED, ticket)
            if request.urgency == "urgent" and urgent_per_hour is not None:
                since = (now or _utc_now()) - timedelta(hours=1)
                recent = store.count_created_since(request.sender_id, urgency="urgent", since=since)
                if recent >= urgent_per_hour:
                    logger.warning("Urgent tickets per sender per hour reached; filing as soon")
                    request = replace(request, urgency="soon")
        key = request.idempotency_key
        while True:
            ticket, created = store.create_once(
                idempotency_key=key,
                category=request.category,
                urgency=request.urgency,
                channel=request.channel,
                treatment=request.treatment,
                name=request.name,
                phone=request.phone,
                email=request.email,
                messages=request.messages,
                sender_id=request.sender_id,
                triage_layer=request.triage_layer,
                created_at=request.requested_at,
                transcript=request.transcript,
            )
            if created:
                return Filed(Outcome.CREATED, ticket)
            if ticket.status in ACTIVE_STATUSES or not request.reopen_when_closed:
                return Filed(Outcome.EXISTING, ticket)
            # The same details after that request was dealt with: a new one, under a key
            # that is just as repeatable (the next retry finds this ticket).
            key = f"{request.idempotency_key}:after:{ticket.id}"

    def _keep(self, error: BaseException, put: Callable[[], bool]) -> Filed:
        try:
            added = put()
            waiting = self.outbox.count()
        except Exception as outbox_error:
            logger.error(
                "A ticket request could not be written (%s) nor kept in the outbox %s (%s); "
                "the patient was asked to call the clinic",
                type(error).__name__,
                self.outbox.path,
                type(outbox_error).__name__,
            )
            self._notify("tickets.unsaved", unsaved=1)
            return Filed(Outcome.UNSAVED)
        if not added:
            logger.info("The same ticket request is already waiting in the outbox")
        self._failed(error, waiting)
        return Filed(Outcome.KEPT, waiting=waiting)

    def _failed(self, error: BaseException, waiting: int) -> None:
        with self._lock:
            first, self._failing = not self._failing, True
        if first:
            logger.error(
                "The ticket database could not be written (%s): %d ticket request(s) waiting "
                "in the outbox %s, retried every %g s",
                type(error).__name__,
                waiting,
                self.outbox.path,
                self.retry_seconds,
            )
            self._notify("tickets.waiting", waiting=waiting)
        else:
            logger.warning(
                "The ticket database still cannot be written (%s): %d ticket request(s) waiting",
                type(error).__name__,
                waiting,
            )

    def _written(self) -> None:
        # The store took a write: anything still waiting can go now, not at the next tick.
        if self._failing or self.outbox.path.exists():
            self._wake.set()

    def _notify(self, event: str, **fields: Any) -> None:
        if self.notifier is None:
            return
        try:
            self.notifier.notify_event(event, **fields)
        except Exception as error:  # the alert is extra; the request is handled either way
            logger.error("Could not start the %s notification (%s)", event, type(error).__name__)

    def retry_pending(self) -> int:
        """Writes the waiting requests to the store, oldest first; returns how many still wait.

        Stops at the first storage failure (the database is still down). A request refused
        for another reason stays in the outbox for a person to look at (logged once, by entry
        id), and the others are still written.
        """
        if not self._drain_lock.acquire(blocking=False):
            return self.outbox.count()  # another thread is writing them now
        try:
            entries = self.outbox.pending()
            written: list[str] = []
            failure: BaseException | None = None
            if entries:
                with self.outbox.draining() as ours:
                    if not ours:
                        return len(entries)  # another process is writing them now
                    entries = self.outbox.pending()  # as they are now that the turn is ours
                    try:
                        store = self.store()
                        for entry in entries:
                            if self._write_entry(store, entry):
                                written.append(entry.id)
                    except Exception as error:  # the store, not one request: try again later
                        failure = error
                    waiting = self.outbox.remove(written) if written else len(entries)
            else:
                waiting = 0
        finally:
            self._drain_lock.release()
        if written:
            logger.info(
                "%d ticket request(s) written from the outbox; %d waiting", len(written), waiting
            )
        if failure is not None:
            self._failed(failure, waiting)
        elif waiting == 0:
            with self._lock:
                recovered, self._failing = self._failing, False
            if recovered:
                logger.info("The ticket database is writable again; the outbox is empty")
        return waiting

    def _write_entry(self, store: TicketStore, entry: OutboxEntry) -> bool:
        """Whether the entry is written; storage failures propagate (the pass stops)."""
        try:
            if entry.request is not None:
                self._write(store, entry.request)
            else:
                assert entry.ticket_id is not None and entry.phone is not None
                store.set_contact_phone(entry.ticket_id, entry.phone)
        except STORAGE_ERRORS:
            raise
        except Exception as error:
            if entry.id not in self._stuck_reported:
                self._stuck_reported.add(entry.id)
                logger.error(
                    "Outbox entry %s could not be written (%s); it stays in %s",
                    entry.id,
                    type(error).__name__,
                    self.outbox.path,
                )
            return False
        return True

    def start_retrying(self, interval: float | None = None) -> None:
        """Retries in a daemon thread (once per desk): a pass now, then every ``interval``
        seconds (default ``retry_seconds``), and at once after a write succeeds again."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._retry_forever,
                args=(interval or self.retry_seconds,),
                name="clinic-outbox",
                daemon=True,
            )
            self._thread.start()

    def _retry_forever(self, interval: float) -> None:
        while not self._stopping:
            try:
                self.retry_pending()
            except Exception as error:  # the retries must outlive any one failure
                logger.error("Outbox retry failed (%s)", type(error).__name__)
            self._wake.wait(interval)
            self._wake.clear()

    def stop(self, timeout: float = 10.0) -> None:
        """Ends the background retries (the pass under way is finished first)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stopping = True
        self._wake.set()
        if thread is not None:
            thread.join(timeout)

    def close(self) -> None:
        """Stops the retries and closes the store's connections (reopened if used again)."""
        self.stop()
        with self._lock:
            store = self._store
        if store is not None:
            store.close()
