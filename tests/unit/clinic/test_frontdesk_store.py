"""The ticket store on a real SQLite file and a real PostgreSQL server.

PostgreSQL: ``$CLINIC_TEST_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``.
Each test gets its own schema, dropped afterwards, so parallel runs never share a table. An
unreachable server fails these tests (it is part of what is being tested), never skips them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from clinic.frontdesk.__main__ import main
from clinic.frontdesk.store import (
    DB_PATH_ENV,
    SCHEMA_ENV,
    URL_ENV,
    Ticket,
    TicketNotFoundError,
    TicketStore,
    database_url,
)
from clinic.paths import PROJECT_ROOT

POSTGRES_URL = os.environ.get(
    "CLINIC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)

PATIENT = {
    "name": "Jane Example",
    "phone": "+44 7700 900123",
    "email": "jane@example.org",
    "messages": ["My face is really swollen since the PRP yesterday 😟", "Is that normal?"],
}

StoreFactory = Callable[..., TicketStore]


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards."""
    engine = sa.create_engine(POSTGRES_URL, future=True, connect_args={"connect_timeout": 3})
    problem = None
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        problem = " ".join(str(error.orig).split())
    if problem:
        pytest.fail(
            f"PostgreSQL is unreachable at {POSTGRES_URL} ({problem}). These tests need it: "
            "start the server (trust auth, database 'test') or point CLINIC_TEST_POSTGRES_URL "
            "at one.",
            pytrace=False,
        )
    schema = f"tickets_test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request, tmp_path: Path) -> Iterator[StoreFactory]:
    """Makes stores on one database: a second store is the same data after a restart."""
    with ExitStack() as cleanup:
        if request.param == "sqlite":
            url, schema = f"sqlite:///{tmp_path / 'tickets.db'}", None
        else:
            url, schema = POSTGRES_URL, cleanup.enter_context(postgres_schema())

        def make(**kwargs) -> TicketStore:
            store = TicketStore(url, schema=schema, **kwargs)
            cleanup.callback(store.close)  # runs before the schema is dropped
            return store

        yield make


@pytest.fixture
def store(new_store: StoreFactory) -> TicketStore:
    return new_store()


def make_ticket(store: TicketStore, key: str, urgency: str = "routine", **fields) -> Ticket:
    values = {"category": "question", "channel": "rest", **fields}
    return store.create(idempotency_key=key, urgency=urgency, **values)


def test_create_stores_every_field(store: TicketStore) -> None:
    ticket = store.create(
        idempotency_key="conv-1:msg-1",
        category="complication",
        urgency="urgent",
        channel="twilio",
        treatment="prp",
        **PATIENT,
    )
    assert ticket.id > 0
    assert ticket.status == "open"
    assert (ticket.category, ticket.urgency, ticket.channel, ticket.treatment) == (
        "complication",
        "urgent",
        "twilio",
        "prp",
    )
    assert (ticket.contact_name, ticket.contact_phone, ticket.contact_email) == (
        PATIENT["name"],
        PATIENT["phone"],
        PATIENT["email"],
    )
    assert ticket.messages == tuple(PATIENT["messages"])
    assert ticket.created_at.tzinfo is not None
    assert store.get(ticket.id) == ticket
    assert store.get(ticket.id + 1000) is None


def test_ticket_repr_has_no_personal_data(store: TicketStore) -> None:
    ticket = make_ticket(store, "k", **PATIENT)
    for value in (PATIENT["name"], PATIENT["phone"], PATIENT["email"], *PATIENT["messages"]):
        assert value not in repr(ticket)


def test_open_tickets_most_urgent_first_then_oldest(store: TicketStore) -> None:
    routine = make_ticket(store, "a", "routine")
    urgent_old = make_ticket(store, "b", "urgent", category="complication")
    soon = make_ticket(store, "c", "soon", category="callback")
    urgent_new = make_ticket(store, "d", "urgent", category="complication")
    routine_new = make_ticket(store, "e", "routine", category="booking")
    closed = make_ticket(store, "f", "urgent")
    store.set_status(closed.id, "closed")

    assert [t.id for t in store.list_open()] == [
        urgent_old.id,
        urgent_new.id,
        soon.id,
        routine.id,
        routine_new.id,
    ]


def test_status_changes(store: TicketStore) -> None:
    ticket = make_ticket(store, "a", "soon")
    contacted = store.set_status(ticket.id, "contacted")
    assert contacted.status == "contacted"
    assert contacted.updated_at >= ticket.updated_at
    assert store.list_open() == []
    assert [t.id for t in store.list_tickets(("contacted",))] == [ticket.id]

    store.set_status(ticket.id, "closed")
    assert store.get(ticket.id).status == "closed"
    assert store.list_tickets(("open", "contacted")) == []

    store.set_status(ticket.id, "open")
    assert [t.id for t in store.list_open()] == [ticket.id]

    with pytest.raises(TicketNotFoundError):
        store.set_status(ticket.id + 1000, "closed")
    with pytest.raises(ValueError, match="status"):
        store.set_status(ticket.id, "done")


def test_create_is_idempotent(new_store: StoreFactory) -> None:
    created: list[int] = []
    store = new_store(on_created=lambda ticket: created.append(ticket.id))
    first = make_ticket(store, "conv-1:msg-7", "urgent", **PATIENT)
    # A retried action: same key, possibly different details; the first ticket wins.
    again = make_ticket(store, "conv-1:msg-7", "routine", category="booking")
    other = make_ticket(store, "conv-1:msg-8", "routine")

    assert again == first
    assert other.id != first.id
    assert [t.id for t in store.list_open()] == [first.id, other.id]
    assert created == [first.id, other.id]  # the hook (notification) ran once per ticket


def test_concurrent_duplicates_create_one_ticket(new_store: StoreFactory) -> None:
    created: list[int] = []
    store = new_store(on_created=lambda ticket: created.append(ticket.id))
    make_ticket(store, "warm-up")  # tables exist before the race
    results: list[int] = []
    barrier = threading.Barrier(6)

    def create() -> None:
        barrier.wait()
        results.append(make_ticket(store, "conv-2:msg-1", "urgent").id)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6
    assert len(set(results)) == 1
    assert created.count(results[0]) == 1


def test_tickets_survive_a_restart(new_store: StoreFactory) -> None:
    before = new_store()
    ticket = make_ticket(before, "conv-3:msg-1", "soon", treatment="exosomes", **PATIENT)
    before.set_status(ticket.id, "contacted")
    before.close()

    after = new_store()
    assert after.get(ticket.id) == before.get(ticket.id)
    assert after.get(ticket.id).status == "contacted"
    assert after.get(ticket.id).messages == tuple(PATIENT["messages"])
    # A retry arriving after the restart still finds the first ticket.
    assert make_ticket(after, "conv-3:msg-1", "urgent").id == ticket.id


@pytest.mark.parametrize(
    ("field", "value"),
    [("category", "emergency"), ("urgency", "asap"), ("idempotency_key", "")],
)
def test_invalid_values_are_refused(store: TicketStore, field: str, value: str) -> None:
    values = {
        "idempotency_key": "k",
        "category": "question",
        "urgency": "routine",
        "channel": "rest",
        field: value,
    }
    with pytest.raises(ValueError, match=field.split("_")[0]):
        store.create(**values)
    assert store.list_open() == []


def test_database_url_from_environment() -> None:
    assert database_url({}) == f"sqlite:///{PROJECT_ROOT / 'build' / 'tickets.db'}"
    assert database_url({DB_PATH_ENV: "data/t.db"}) == f"sqlite:///{PROJECT_ROOT / 'data/t.db'}"
    assert database_url({DB_PATH_ENV: "/var/lib/t.db"}) == "sqlite:////var/lib/t.db"
    assert (
        database_url({URL_ENV: "postgresql://u@db/clinic", DB_PATH_ENV: "x.db"})
        == "postgresql://u@db/clinic"
    )
    assert database_url({URL_ENV: "postgres://u@db/clinic"}) == "postgresql://u@db/clinic"


def test_schema_is_refused_on_sqlite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=SCHEMA_ENV):
        TicketStore(f"sqlite:///{tmp_path / 't.db'}", schema="clinic")


def test_sqlite_file_and_its_directory_are_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "tickets.db"
    store = TicketStore(f"sqlite:///{path}")
    make_ticket(store, "k")
    store.close()
    assert path.is_file()


def test_cli_lists_open_tickets_most_urgent_first(
    tmp_path: Path, monkeypatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(tmp_path / "cli.db"))
    assert main(["list"]) == 0
    assert capsys.readouterr().out.strip() == "No open tickets."

    store = TicketStore.from_env()
    routine = make_ticket(store, "a", "routine", messages=["when can I book?"])
    urgent = make_ticket(store, "b", "urgent", category="complication", treatment="prp", **PATIENT)
    sneaky = make_ticket(store, "c", "soon", messages=["\x1b[2Jcleared\nyour screen"])
    store.close()

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.index(f"#{urgent.id} ") < out.index(f"#{sneaky.id} ") < out.index(f"#{routine.id} ")
    for value in (PATIENT["name"], PATIENT["phone"], PATIENT["email"], "Is that normal?"):
        assert value in out
    assert "\x1b" not in out  # no terminal control sequences from patient text
    assert "cleared your screen" in out


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    env = {**os.environ, DB_PATH_ENV: str(tmp_path / "module.db")}
    env.pop(URL_ENV, None)
    result = subprocess.run(
        [sys.executable, "-m", "clinic.frontdesk", "list"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No open tickets."
