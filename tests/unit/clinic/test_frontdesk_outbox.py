"""The outbox: requests kept when the ticket database cannot be written, written when it can.

Real SQLite files, a real PostgreSQL port nobody listens on and a real local HTTP receiver.
The tests run as root, for whom ``chmod`` makes nothing unwritable, so the database is made
unwritable in ways that fail for root too:

- the database path is a directory (SQLite: "unable to open database file"), removed to make
  the database writable again;
- an exclusive lock held by another connection, with a short busy timeout ("database is
  locked"), released to make it writable again;
- a PostgreSQL URL on a port nobody listens on ("connection refused").
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clinic import frontdesk
from clinic.frontdesk.notify import NOTIFY_URL_ENV, Notifier
from clinic.frontdesk.outbox import (
    OUTBOX_DIR_ENV,
    RETRY_SECONDS_ENV,
    FrontDesk,
    Outbox,
    Outcome,
    TicketRequest,
    details_key,
    outbox_path,
    retry_seconds,
)
from clinic.frontdesk.store import DB_PATH_ENV, URL_ENV, TicketStore
from clinic.paths import PROJECT_ROOT
from tests.support.fake_http import RecordedRequest, fake_endpoint

PATIENT = {
    "name": "Jane Example",
    "phone": "+44 7700 900123",
    "email": "jane@example.org",
    "messages": ("My face is really swollen since the PRP yesterday", "Is that normal?"),
}
PERSONAL_VALUES = (
    PATIENT["name"],
    PATIENT["phone"],
    PATIENT["email"],
    *PATIENT["messages"],
    "swollen",
    "conv-1",
)


def booking(key: str = "conv-1:m1", **changes) -> TicketRequest:
    values = {"idempotency_key": key, "category": "booking", "urgency": "routine",
              "channel": "rest", "treatment": "prp", **PATIENT, **changes}  # fmt: skip
    return TicketRequest(**values)


def complication(key: str, text: str, sender: str = "conv-1") -> TicketRequest:
    return TicketRequest(
        idempotency_key=key, category="complication", urgency="urgent", channel="rest",
        messages=("hello", text), sender_id=sender, triage_layer="rules", join_episode=True,
    )  # fmt: skip


class UnwritableSqlite:
    """A SQLite database path that is a directory (fails for root too), until ``repair``."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "tickets.db"
        self.path.mkdir()
        self.url = f"sqlite:///{self.path}"

    def repair(self) -> None:
        self.path.rmdir()


@pytest.fixture
def broken(tmp_path: Path) -> UnwritableSqlite:
    return UnwritableSqlite(tmp_path)


@pytest.fixture
def desks() -> Iterator[list[FrontDesk]]:
    made: list[FrontDesk] = []
    yield made
    for desk in made:
        desk.close()
        if desk.notifier is not None:
            desk.notifier.close()


def new_desk(made: list[FrontDesk], url: str, outbox: Path, **options) -> FrontDesk:
    busy = options.pop("busy_seconds", 0.2)
    desk = FrontDesk(
        lambda: TicketStore(url, busy_seconds=busy),
        Outbox(outbox / "tickets-test.jsonl"),
        **options,
    )
    made.append(desk)
    return desk


def reader(url: str) -> TicketStore:
    return TicketStore(url)


def test_a_failed_write_is_kept_on_disk_then_written_when_the_database_is_back(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    request = booking(requested_at=datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc))
    filed = desk.submit(request)
    assert (filed.outcome, filed.ticket, filed.waiting) == (Outcome.KEPT, None, 1)
    # On disk, in full, before the patient is told it is kept.
    (line,) = desk.outbox.path.read_text().splitlines()
    assert json.loads(line)["request"]["name"] == PATIENT["name"]
    assert desk.retry_pending() == 1  # still broken: kept

    broken.repair()
    assert desk.retry_pending() == 0
    (ticket,) = reader(broken.url).list_open()
    assert (ticket.category, ticket.contact_name, ticket.contact_phone, ticket.contact_email) == (
        "booking", PATIENT["name"], PATIENT["phone"], PATIENT["email"],
    )  # fmt: skip
    assert ticket.messages == PATIENT["messages"]
    assert ticket.created_at == request.requested_at  # when the patient asked, not when written
    assert not desk.outbox.path.exists()  # emptied: no personal data left behind
    assert desk.retry_pending() == 0 and len(reader(broken.url).list_open()) == 1


def test_a_locked_database_keeps_the_request(tmp_path: Path, desks: list[FrontDesk]) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    reader(url).list_open()  # the table exists; only the write will be refused
    holder = sqlite3.connect(tmp_path / "tickets.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process writing, for longer than we wait
    try:
        desk = new_desk(desks, url, tmp_path / "outbox", busy_seconds=0.2)
        assert desk.submit(booking()).outcome is Outcome.KEPT
        assert desk.retry_pending() == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert desk.retry_pending() == 0
    assert len(reader(url).list_open()) == 1


def test_an_unreachable_postgresql_keeps_the_request(
    tmp_path: Path, desks: list[FrontDesk]
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    desk = new_desk(desks, f"postgresql://nobody@127.0.0.1:{port}/none", tmp_path / "outbox")
    filed = desk.submit(booking())
    assert (filed.outcome, desk.outbox.count()) == (Outcome.KEPT, 1)


def test_a_retry_after_a_crash_makes_no_second_ticket(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.submit(booking())
    desk.submit(complication("conv-2:m1", "I have a fever", sender="conv-2"))
    desk.submit(complication("conv-2:m2", "now there is pus", sender="conv-2"))
    kept = desk.outbox.path.read_bytes()
    broken.repair()
    assert desk.retry_pending() == 0
    # As if the process died after writing, before the written requests left the outbox.
    desk.outbox.path.write_bytes(kept)
    assert desk.retry_pending() == 0
    tickets = reader(broken.url).list_open()
    assert sorted(t.category for t in tickets) == ["booking", "complication"]
    (episode,) = [t for t in tickets if t.category == "complication"]
    # Both kept messages joined one episode, each once.
    assert episode.messages == ("hello", "I have a fever", "now there is pus")


def test_the_same_request_is_kept_once(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    assert [desk.submit(booking()).outcome for _ in range(2)] == [Outcome.KEPT] * 2
    assert desk.outbox.count() == 1


def test_the_same_details_make_one_ticket_until_it_is_closed(
    tmp_path: Path, desks: list[FrontDesk]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    desk = new_desk(desks, url, tmp_path / "outbox")
    key = details_key("form:conv-1:booking", "Jane Example", "jane@example.org", "prp", "mornings")
    assert key == details_key("form:conv-1:booking", " jane  EXAMPLE", "jane@example.org",
                              "prp", "Mornings ")  # fmt: skip
    first = desk.submit(booking(key, reopen_when_closed=True))
    again = desk.submit(booking(key, reopen_when_closed=True))
    assert (first.outcome, again.outcome, again.ticket.id) == (
        Outcome.CREATED, Outcome.EXISTING, first.ticket.id,
    )  # fmt: skip
    desk.store().set_status(first.ticket.id, "closed")
    later = desk.submit(booking(key, reopen_when_closed=True))
    assert later.outcome is Outcome.CREATED and later.ticket.id != first.ticket.id
    assert desk.submit(booking(key, reopen_when_closed=True)).ticket.id == later.ticket.id
    assert len(reader(url).list_open()) == 1


def test_the_outbox_file_is_readable_by_its_owner_only(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    (outbox / "tickets-test.jsonl").write_text("")
    (outbox / "tickets-test.jsonl").chmod(0o644)  # an older file with wider permissions
    desk = new_desk(desks, broken.url, outbox)
    previous = os.umask(0)  # not even a permissive umask widens it
    try:
        desk.submit(booking())
        desk.submit(booking("conv-1:m2"))
    finally:
        os.umask(previous)
    for path in outbox.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # Still 0600 after the file is rewritten (one request written, one left).
    (waiting,) = [e for e in desk.outbox.pending() if e.request.idempotency_key == "conv-1:m2"]
    assert desk.outbox.remove([e.id for e in desk.outbox.pending() if e != waiting]) == 1
    assert stat.S_IMODE(desk.outbox.path.stat().st_mode) == 0o600


def test_a_new_outbox_is_created_0600(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "new" / "outbox")
    desk.submit(booking())
    assert stat.S_IMODE(desk.outbox.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(desk.outbox.path.parent.stat().st_mode) & 0o077 == 0


def test_one_error_per_failure_episode_and_no_personal_data_in_logs(
    tmp_path: Path,
    broken: UnwritableSqlite,
    desks: list[FrontDesk],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.submit(booking("conv-1:m1"))
    desk.submit(booking("conv-1:m2"))
    desk.retry_pending()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "1 ticket request(s) waiting" in errors[0], errors
    assert any("2 ticket request(s) waiting" in r.getMessage() for r in caplog.records)

    broken.repair()
    desk.retry_pending()
    assert "writable again" in caplog.text
    desk.close()  # no pooled connection keeps the old file open
    broken.path.unlink()
    broken.path.mkdir()  # a second outage: a second episode, a second error
    desk.submit(booking("conv-1:m3"))
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 2
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for value in PERSONAL_VALUES:
        assert value not in logged, value


def test_the_staff_are_alerted_without_personal_data(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    def ok(_request: RecordedRequest) -> tuple[int, dict]:
        return 200, {"ok": True}

    with fake_endpoint(ok) as receiver:
        notifier = Notifier(f"{receiver.url}/alert", backoff=0.02, timeout=3)
        desk = new_desk(desks, broken.url, tmp_path / "outbox", notifier=notifier)
        desk.submit(booking("conv-1:m1"))
        desk.submit(booking("conv-1:m2"))  # same episode: no second alert
        receiver.wait_for(lambda requests: len(requests) >= 1, timeout=5)
        assert notifier.wait(timeout=5)
        time.sleep(0.2)  # room for a wrong second alert
    (alert,) = receiver.requests
    body = alert.json()
    assert (body["event"], body["waiting"]) == ("tickets.waiting", 1)
    for value in PERSONAL_VALUES:
        assert value not in alert.body.decode()


def test_background_retries_write_what_was_kept(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.start_retrying(interval=0.1)
    assert desk.submit(booking()).outcome is Outcome.KEPT
    broken.repair()
    deadline = time.monotonic() + 10
    while desk.outbox.path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reader(broken.url).list_open()) == 1


def test_requests_kept_before_a_restart_are_written_at_start_up(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    new_desk(desks, broken.url, tmp_path / "outbox").submit(booking())
    broken.repair()
    restarted = new_desk(desks, broken.url, tmp_path / "outbox")
    restarted.start_retrying(interval=3600)  # only the start-up pass can write it in time
    deadline = time.monotonic() + 10
    while restarted.outbox.path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reader(broken.url).list_open()) == 1


def test_a_write_that_works_again_wakes_the_retries(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.submit(booking("conv-1:m1"))
    desk.start_retrying(interval=3600)
    time.sleep(0.2)  # the start-up pass has failed; the next is an hour away
    broken.repair()
    assert desk.submit(booking("conv-1:m2")).outcome is Outcome.CREATED
    deadline = time.monotonic() + 10
    while desk.outbox.path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(reader(broken.url).list_open()) == 2


def test_an_unusable_outbox_too_is_reported_as_unsaved(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk], caplog
) -> None:
    (tmp_path / "outbox").write_text("a file where the directory should be")
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    assert desk.submit(booking()).outcome is Outcome.UNSAVED
    assert "nor kept in the outbox" in caplog.text


def test_a_line_cut_short_by_a_crash_is_kept_and_never_glued_to(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.submit(booking("conv-1:m1"))
    with desk.outbox.path.open("ab") as file:
        file.write(b'{"version":1,"id":"cut-short","op":"crea')
    desk.submit(booking("conv-1:m2"))
    assert len(desk.outbox.pending()) == 2
    broken.repair()
    assert desk.retry_pending() == 0
    assert len(reader(broken.url).list_open()) == 2
    assert desk.outbox.path.read_bytes() == b'{"version":1,"id":"cut-short","op":"crea\n'


def test_concurrent_failures_lose_nothing(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    threads = [
        threading.Thread(target=desk.submit, args=(booking(f"conv-1:m{n}"),)) for n in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Another process sharing the directory (its own Outbox object) sees the same requests.
    assert len(Outbox(desk.outbox.path).pending()) == 12
    broken.repair()
    assert desk.retry_pending() == 0
    assert len(reader(broken.url).list_open()) == 12


def test_one_process_at_a_time_writes_the_outbox(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.submit(booking())
    broken.repair()
    # Another action server on the same directory is writing them: its lock, held here.
    lock = desk.outbox.path.with_name(desk.outbox.path.name + ".drain-lock")
    other = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        assert desk.retry_pending() == 1
        assert reader(broken.url).list_open() == []
    finally:
        os.close(other)
    assert desk.retry_pending() == 0 and len(reader(broken.url).list_open()) == 1


def test_a_kept_call_back_number_is_added_when_the_database_is_back(
    tmp_path: Path, desks: list[FrontDesk]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    ticket = reader(url).create(idempotency_key="k", category="complication", urgency="urgent",
                                channel="rest")  # fmt: skip
    holder = sqlite3.connect(tmp_path / "tickets.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    desk = new_desk(desks, url, tmp_path / "outbox")
    try:
        assert desk.set_contact_phone(ticket.id, "07700900123").outcome is Outcome.KEPT
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert desk.retry_pending() == 0
    assert reader(url).get(ticket.id).contact_phone == "07700900123"


def test_a_request_the_store_refuses_stays_and_the_others_are_written(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    desk.set_contact_phone(999, "07700900123")  # a ticket that will not exist
    desk.submit(booking())
    broken.repair()
    assert desk.retry_pending() == 1
    assert len(reader(broken.url).list_open()) == 1
    (stuck,) = desk.outbox.pending()
    assert stuck.ticket_id == 999


def test_each_database_has_its_own_outbox(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(OUTBOX_DIR_ENV, raising=False)
    first = outbox_path("postgresql://clinic:secret@db:5432/clinic")
    assert first.parent == PROJECT_ROOT / "build" / "outbox"
    assert first == outbox_path("postgresql://clinic:other-secret@db:5432/clinic")
    assert first != outbox_path("postgresql://clinic@db:5432/clinic", "other_schema")
    assert first != outbox_path(f"sqlite:///{tmp_path / 'tickets.db'}")
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "kept"))
    assert outbox_path("sqlite:///x.db").parent == tmp_path / "kept"


@pytest.mark.parametrize("raw, seconds", [("", 30.0), ("5", 5.0), ("0", 0.1), ("soon", 30.0)])
def test_retry_seconds_from_environment(monkeypatch, raw: str, seconds: float) -> None:
    monkeypatch.setenv(RETRY_SECONDS_ENV, raw)
    assert retry_seconds() == seconds


@contextmanager
def environment(monkeypatch, tmp_path: Path, db: Path) -> Iterator[None]:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(NOTIFY_URL_ENV, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(db))
    monkeypatch.setenv(OUTBOX_DIR_ENV, str(tmp_path / "outbox"))
    try:
        yield
    finally:
        frontdesk.get_desk().close()


def test_the_action_server_start_up_starts_one_retry_thread(
    monkeypatch, tmp_path: Path, broken: UnwritableSqlite
) -> None:
    with environment(monkeypatch, tmp_path, broken.path):
        desk = frontdesk.start_outbox_retries()
        assert frontdesk.start_outbox_retries() is desk is frontdesk.get_desk()
        assert [t.name for t in threading.enumerate()].count("clinic-outbox") >= 1
        assert desk.submit(booking()).outcome is Outcome.KEPT
        broken.repair()
        desk.submit(booking("conv-1:m2"))  # works again: wakes the retries
        deadline = time.monotonic() + 10
        while desk.outbox.path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reader(broken.url).list_open()) == 2


def test_cli_lists_and_retries_the_outbox(
    monkeypatch, tmp_path: Path, broken: UnwritableSqlite
) -> None:
    with environment(monkeypatch, tmp_path, broken.path):
        frontdesk.get_desk().submit(booking())
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}

    def cli(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "clinic.frontdesk", "outbox", *args],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    listed = cli()
    assert "ROUTINE" in listed and PATIENT["name"] in listed and PATIENT["messages"][0] in listed
    broken.repair()
    assert cli("--retry").strip() == "No requests waiting in the outbox."
    assert len(reader(broken.url).list_open()) == 1


def test_store_create_once_says_whether_it_created(tmp_path: Path) -> None:
    store = reader(f"sqlite:///{tmp_path / 'tickets.db'}")
    asked = datetime.now(timezone.utc) - timedelta(minutes=30)
    first, created = store.create_once(idempotency_key="k", category="booking",
                                       urgency="routine", channel="rest", created_at=asked)  # fmt: skip
    again, created_again = store.create_once(idempotency_key="k", category="booking",
                                             urgency="routine", channel="rest")  # fmt: skip
    assert (created, created_again, again.id) == (True, False, first.id)
    assert first.created_at == asked and store.find_by_key("k") == first
    assert store.find_by_key("other") is None


# -- the transcript travels with the request -----------------------------------------------

TRANSCRIPT = (
    {"by": "patient", "text": "Cost · PRP"},
    {"by": "assistant", "text": "PRP costs from £300, confirmed at your consultation."},
    {"by": "patient", "text": "Book a consultation"},
)


def test_a_kept_request_keeps_its_transcript(
    tmp_path: Path, broken: UnwritableSqlite, desks: list[FrontDesk]
) -> None:
    desk = new_desk(desks, broken.url, tmp_path / "outbox")
    assert desk.submit(booking(transcript=TRANSCRIPT)).outcome == Outcome.KEPT
    (line,) = desk.outbox.path.read_text().splitlines()
    assert json.loads(line)["request"]["transcript"] == list(TRANSCRIPT)
    broken.repair()
    assert desk.retry_pending() == 0
    (ticket,) = reader(broken.url).list_open()
    assert [(turn.by, turn.text) for turn in ticket.transcript] == [
        (turn["by"], turn["text"]) for turn in TRANSCRIPT
    ]


def test_an_outbox_line_from_before_transcripts_is_still_written(
    tmp_path: Path, desks: list[FrontDesk]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    desk = new_desk(desks, url, tmp_path / "outbox")
    record = {
        "version": 1, "id": "old-line", "queued_at": "2026-12-01T09:30:00+00:00", "op": "create",
        "request": {
            "idempotency_key": "conv-9:m1", "category": "callback", "urgency": "soon",
            "channel": "rest", "treatment": None, "name": "Old Line", "phone": "+44 7700 900999",
            "email": None, "messages": ['/ask_cost{"treatment":"prp"}'], "sender_id": None,
            "triage_layer": None, "join_episode": False, "reopen_when_closed": True,
            "requested_at": "2026-12-01T09:30:00+00:00",
        },
    }  # fmt: skip
    desk.outbox.path.parent.mkdir(parents=True)
    desk.outbox.path.write_text(json.dumps(record) + "\n")
    (entry,) = desk.outbox.pending()
    assert entry.request.transcript is None
    assert desk.retry_pending() == 0
    (ticket,) = reader(url).list_open()
    assert (ticket.contact_name, ticket.transcript) == ("Old Line", None)


def test_a_follow_up_adds_its_new_turns_to_the_episode(
    tmp_path: Path, desks: list[FrontDesk]
) -> None:
    url = f"sqlite:///{tmp_path / 'tickets.db'}"
    desk = new_desk(desks, url, tmp_path / "outbox")
    first = TicketRequest(
        idempotency_key="conv-1:m1", category="complication", urgency="urgent", channel="rest",
        messages=("my lip is swollen",), sender_id="conv-1", join_episode=True,
        transcript=({"by": "patient", "text": "my lip is swollen"},),
    )  # fmt: skip
    follow_up = replace(
        first,
        idempotency_key="conv-1:m2",
        messages=("my lip is swollen", "now it is white"),
        transcript=(
            {"by": "patient", "text": "my lip is swollen"},
            {"by": "assistant", "text": "Please call the clinic now."},
            {"by": "patient", "text": "now it is white"},
        ),
    )
    assert desk.submit(first).outcome == Outcome.CREATED
    joined = desk.submit(follow_up)
    assert joined.outcome == Outcome.JOINED
    assert [turn.text for turn in joined.ticket.transcript] == [
        "my lip is swollen",
        "Please call the clinic now.",
        "now it is white",
    ]
