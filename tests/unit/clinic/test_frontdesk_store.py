"""The ticket store on a real SQLite file and a real PostgreSQL server.

PostgreSQL: the ``postgres_url`` fixture (tests/conftest.py): ``$CLINIC_TEST_POSTGRES_URL``, or
a private server started for the session. Each test gets its own schema, dropped afterwards, so
tests sharing a server never share a table. An unreachable server fails these tests (it is part
of what is being tested), never skips them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from clinic.frontdesk.__main__ import main
from clinic.frontdesk.store import (
    DB_PATH_ENV,
    MAX_NOTE_CHARS,
    MAX_TRANSCRIPT_TURNS,
    MAX_TURN_CHARS,
    SCHEMA_ENV,
    URL_ENV,
    Ticket,
    TicketFilter,
    TicketNotFoundError,
    TicketPage,
    TicketStore,
    Turn,
    database_url,
    merged_transcript,
)
from clinic.paths import PROJECT_ROOT
from tests.support.services import POSTGRES_URL_ENV

PATIENT = {
    "name": "Jane Example",
    "phone": "+44 7700 900123",
    "email": "jane@example.org",
    "messages": ["My face is really swollen since the PRP yesterday 😟", "Is that normal?"],
}

StoreFactory = Callable[..., TicketStore]


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema on the test server at ``url``, dropped afterwards."""
    engine = sa.create_engine(url, future=True, connect_args={"connect_timeout": 3})
    problem = None
    try:
        with engine.connect():
            pass
    except OperationalError as error:
        problem = " ".join(str(error.orig).split())
    if problem:
        pytest.fail(
            f"PostgreSQL is unreachable at {url} ({problem}). These tests need it: unset "
            f"{POSTGRES_URL_ENV} to have them start a private server, or point it at a running "
            "one (trust auth, database 'test').",
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
def database(request, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """The URL and schema of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tickets.db'}", None
    else:
        # Asked for here, not as an argument, so a SQLite-only run starts no PostgreSQL.
        url = request.getfixturevalue("postgres_url")
        with postgres_schema(url) as schema:
            yield url, schema


@pytest.fixture
def new_store(database: tuple[str, str | None]) -> Iterator[StoreFactory]:
    """Makes stores on one database: a second store is the same data after a restart."""
    url, schema = database
    with ExitStack() as cleanup:

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
    clicked = make_ticket(store, "d", "routine", messages=['/ask_cost{"treatment":"prp"}'])
    store.set_staff_note(clicked.id, "rang back")
    store.close()

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.index(f"#{urgent.id} ") < out.index(f"#{sneaky.id} ") < out.index(f"#{routine.id} ")
    for value in (PATIENT["name"], PATIENT["phone"], PATIENT["email"], "Is that normal?"):
        assert value in out
    assert "\x1b" not in out  # no terminal control sequences from patient text
    assert "cleared your screen" in out
    # Treatment names and button payloads in words, as in the inbox; the staff note.
    assert "PRP (platelet-rich plasma)" in out
    assert "> Cost · PRP (platelet-rich plasma)" in out and "/ask_cost" not in out
    assert "note: rang back" in out


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


# -- urgent episodes: one ticket per conversation, follow-ups appended ------------------

SENDER = "whatsapp:+447700900123"
OTHER_SENDER = "whatsapp:+447700900999"


def make_complication(store: TicketStore, key: str, sender: str = SENDER, **fields) -> Ticket:
    values = {"urgency": "urgent", "messages": ["my lip is swollen"], **fields}
    return make_ticket(store, key, category="complication", sender_id=sender, **values)


def test_sender_is_stored_hashed_with_the_triage_layer(store: TicketStore) -> None:
    ticket = make_complication(store, "conv-1:msg-1", triage_layer="classifier")
    assert ticket.sender == hashlib.sha256(SENDER.encode()).hexdigest()
    assert ticket.triage_layer == "classifier"
    assert store.get(ticket.id) == ticket
    assert SENDER not in repr(ticket)
    assert ticket.sender not in repr(ticket)

    plain = make_ticket(store, "k")  # callers that predate the episode API
    assert (plain.sender, plain.triage_layer) == (None, None)
    # An unknown layer name is kept (truncated), never a reason to lose the ticket.
    odd = make_complication(store, "conv-1:msg-2", triage_layer="x" * 40)
    assert odd.triage_layer == "x" * 32
    with pytest.raises(ValueError, match="sender"):
        make_complication(store, "conv-1:msg-3", sender="")


def test_open_episode_is_the_senders_newest_active_complication(store: TicketStore) -> None:
    assert store.open_episode(SENDER) is None
    first = make_complication(store, "conv-1:msg-1")
    make_ticket(store, "conv-1:msg-2", "routine", category="booking", sender_id=SENDER)
    make_complication(store, "conv-2:msg-1", sender=OTHER_SENDER)

    assert store.open_episode(SENDER) == first
    assert store.open_episode("whatsapp:+447700900000") is None
    assert store.open_episode(SENDER, category="callback") is None
    assert store.open_episode(SENDER, category="booking").category == "booking"

    store.set_status(first.id, "contacted")  # staff are on it: still the same episode
    assert store.open_episode(SENDER).id == first.id
    newer = make_complication(store, "conv-1:msg-3")
    assert store.open_episode(SENDER).id == newer.id

    store.set_status(newer.id, "closed")
    store.set_status(first.id, "closed")
    assert store.open_episode(SENDER) is None
    assert store.open_episode(OTHER_SENDER) is not None
    with pytest.raises(ValueError, match="category"):
        store.open_episode(SENDER, category="emergency")


def test_open_episode_ends_a_day_after_the_last_update(store: TicketStore) -> None:
    ticket = make_complication(store, "conv-1:msg-1")
    updated = ticket.updated_at

    assert store.open_episode(SENDER, now=updated + timedelta(hours=23, minutes=59)) == ticket
    assert store.open_episode(SENDER, now=updated + timedelta(hours=24, seconds=1)) is None
    # Naive UTC and other time zones mean the same instant.
    naive = (updated + timedelta(hours=25)).replace(tzinfo=None)
    assert store.open_episode(SENDER, now=naive) is None
    paris = timezone(timedelta(hours=1))
    assert store.open_episode(SENDER, now=(updated + timedelta(hours=23)).astimezone(paris))
    assert store.open_episode(SENDER, now=updated + timedelta(hours=2)) is not None
    assert (
        store.open_episode(SENDER, within=timedelta(hours=1), now=updated + timedelta(hours=2))
        is None
    )

    # A follow-up moves the window: the episode lasts a day after the latest message.
    later = store.append_messages(ticket.id, ["still swollen"])
    assert store.open_episode(SENDER, now=later.updated_at + timedelta(hours=23)).id == ticket.id


def test_append_messages_keeps_order_and_never_erases_the_phone(new_store: StoreFactory) -> None:
    store = new_store()
    ticket = make_complication(store, "conv-1:msg-1", messages=["my lip is swollen", "and hot"])
    assert ticket.contact_phone is None

    appended = store.append_messages(ticket.id, ["it is spreading", "and it hurts"])
    assert appended.messages == ("my lip is swollen", "and hot", "it is spreading", "and it hurts")
    assert appended.updated_at > ticket.updated_at
    assert appended.created_at == ticket.created_at
    assert appended.contact_phone is None

    with_phone = store.append_messages(ticket.id, ["call me"], phone=" +44 7700 900123 ")
    assert with_phone.contact_phone == "+44 7700 900123"
    kept = store.append_messages(ticket.id, ["hello?"], phone=None)
    assert kept.contact_phone == "+44 7700 900123"
    kept = store.append_messages(ticket.id, ["anyone?"], phone="  ")
    assert kept.contact_phone == "+44 7700 900123"
    changed = store.append_messages(ticket.id, [], phone="07700 900456")
    assert changed.contact_phone == "07700 900456"
    assert changed.messages[-2:] == ("hello?", "anyone?")

    with pytest.raises(TicketNotFoundError):
        store.append_messages(ticket.id + 1000, ["lost"])
    store.close()
    after = new_store().get(ticket.id)  # stored, not just returned
    assert after == changed
    assert len(after.messages) == 7


def test_concurrent_appends_lose_no_message(new_store: StoreFactory) -> None:
    # Two stores are two processes (separate connection pools) appending to one ticket.
    stores = [new_store(), new_store()]
    ticket = make_complication(stores[0], "conv-1:msg-1", messages=["first"])
    writers, per_writer = 6, 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def append(writer: int) -> None:
        store = stores[writer % 2]
        barrier.wait()
        try:
            for n in range(per_writer):
                store.append_messages(ticket.id, [f"w{writer}-{n}"])
        except BaseException as error:  # reported below: a thread's error is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    messages = stores[0].get(ticket.id).messages
    assert messages[0] == "first"
    assert len(messages) == 1 + writers * per_writer
    for writer in range(writers):
        own = [m for m in messages if m.startswith(f"w{writer}-")]
        assert own == [f"w{writer}-{n}" for n in range(per_writer)]


def test_set_contact_phone(store: TicketStore) -> None:
    ticket = make_complication(store, "conv-1:msg-1")
    updated = store.set_contact_phone(ticket.id, "07700 900123")
    assert updated.contact_phone == "07700 900123"
    assert store.get(ticket.id).contact_phone == "07700 900123"
    assert updated.messages == ticket.messages
    assert updated.updated_at > ticket.updated_at
    with pytest.raises(TicketNotFoundError):
        store.set_contact_phone(ticket.id + 1000, "07700 900123")
    with pytest.raises(ValueError, match="phone"):
        store.set_contact_phone(ticket.id, " ")
    assert store.get(ticket.id).contact_phone == "07700 900123"


def test_count_created_since(store: TicketStore) -> None:
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    urgent = [make_complication(store, f"conv-1:msg-{n}") for n in range(3)]
    make_complication(store, "conv-1:msg-9", urgency="soon")
    make_complication(store, "conv-2:msg-1", sender=OTHER_SENDER)
    make_ticket(store, "no-sender", "urgent", category="complication")

    assert store.count_created_since(SENDER, urgency="urgent", since=start) == 3
    assert store.count_created_since(SENDER, urgency="soon", since=start) == 1
    assert store.count_created_since(SENDER, urgency="routine", since=start) == 0
    assert store.count_created_since(OTHER_SENDER, urgency="urgent", since=start) == 1
    assert store.count_created_since("sms:+15550000", urgency="urgent", since=start) == 0

    # "At or after": the boundary instant counts, one microsecond later does not.
    last = urgent[-1].created_at
    third = store.count_created_since(SENDER, urgency="urgent", since=last)
    assert third == sum(t.created_at >= last for t in urgent) >= 1
    after = last + timedelta(microseconds=1)
    assert store.count_created_since(SENDER, urgency="urgent", since=after) == 0
    # Naive UTC, and an aware time in another zone, are the same instants.
    assert (
        store.count_created_since(SENDER, urgency="urgent", since=last.replace(tzinfo=None))
        == third
    )
    tokyo = timezone(timedelta(hours=9))
    assert store.count_created_since(SENDER, urgency="urgent", since=after.astimezone(tokyo)) == 0
    assert store.count_created_since(SENDER, urgency="urgent", since=start.astimezone(tokyo)) == 3
    with pytest.raises(ValueError, match="urgency"):
        store.count_created_since(SENDER, urgency="asap", since=start)


# -- databases made by the previous version ---------------------------------------------


def old_tickets_table(metadata: sa.MetaData) -> sa.Table:
    """The table as the first release created it (before ``sender`` and ``triage_layer``)."""
    return sa.Table(
        "clinic_tickets",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
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
        sa.CheckConstraint(
            "category IN ('complication', 'booking', 'callback', 'question')",
            name="clinic_tickets_category",
        ),
        sa.CheckConstraint(
            "urgency IN ('urgent', 'soon', 'routine')", name="clinic_tickets_urgency"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'contacted', 'closed')", name="clinic_tickets_status"
        ),
        sa.Index("clinic_tickets_status_idx", "status"),
    )


@contextmanager
def old_database(url: str, schema: str | None) -> Iterator[tuple[sa.engine.Engine, sa.Table]]:
    """A database with the old table and one old urgent ticket in it."""
    engine = sa.create_engine(url, future=True)
    if schema:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = engine.execution_options(schema_translate_map={None: schema})
    table = old_tickets_table(sa.MetaData())
    try:
        with engine.begin() as connection:
            table.create(connection)
            connection.execute(
                table.insert().values(
                    idempotency_key="0" * 64,
                    created_at=datetime(2026, 1, 5, 9, 30),
                    updated_at=datetime(2026, 1, 5, 9, 30),
                    channel="twilio",
                    category="complication",
                    urgency="urgent",
                    status="open",
                    contact_phone="+44 7700 900123",
                    messages=["my eye is swollen after the filler"],
                )
            )
        yield engine, table
    finally:
        engine.dispose()


def columns_of(engine: sa.engine.Engine, schema: str | None) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("clinic_tickets", schema)}


def test_a_database_from_the_previous_version_is_upgraded(
    database: tuple[str, str | None], new_store: StoreFactory
) -> None:
    url, schema = database
    with old_database(url, schema) as (engine, _table):
        assert {"sender", "triage_layer"}.isdisjoint(columns_of(engine, schema))
        store = new_store()
        (old,) = store.list_open()
        assert old.messages == ("my eye is swollen after the filler",)
        assert (old.sender, old.triage_layer, old.contact_phone) == (None, None, "+44 7700 900123")
        assert old.created_at == datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)

        assert {"sender", "triage_layer"} <= columns_of(engine, schema)
        indexes = {i["name"] for i in sa.inspect(engine).get_indexes("clinic_tickets", schema)}
        assert "clinic_tickets_sender_idx" in indexes

        new = make_complication(store, "conv-1:msg-1", triage_layer="symptom_screen")
        assert store.get(new.id).triage_layer == "symptom_screen"
        assert store.open_episode(SENDER) == new
        appended = store.append_messages(old.id, ["it is worse now"])
        assert appended.messages == ("my eye is swollen after the filler", "it is worse now")
        assert store.count_created_since(SENDER, urgency="urgent", since=old.created_at) == 1
        assert [t.id for t in store.list_open()] == [old.id, new.id]
        store.close()

        # A restart finds the upgraded table and changes nothing.
        again = new_store()
        assert again.get(old.id) == store.get(old.id)
        assert again.get(new.id).sender == new.sender


def test_concurrent_upgrades_of_an_old_database(
    database: tuple[str, str | None], new_store: StoreFactory
) -> None:
    # The action server and the web app start together after a deploy: both upgrade.
    url, schema = database
    with old_database(url, schema) as (engine, _table):
        stores = [new_store() for _ in range(4)]
        barrier = threading.Barrier(len(stores))
        results: list[object] = []

        def first_use(store: TicketStore) -> None:
            barrier.wait()
            try:
                results.append(len(store.list_open()))
            except BaseException as error:
                results.append(error)

        threads = [threading.Thread(target=first_use, args=(s,)) for s in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results == [1, 1, 1, 1]
        assert {"sender", "triage_layer"} <= columns_of(engine, schema)
        assert make_complication(stores[0], "conv-1:msg-1").sender is not None


# -- transcripts, notes, and the inbox's search ------------------------------------------


def turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"by": by, "text": text} for by, text in pairs]


def test_the_transcript_is_stored_and_malformed_turns_dropped(store: TicketStore) -> None:
    given = [
        *turns(("patient", "Cost · PRP"), ("assistant", "PRP costs from £300.")),
        {"by": "doctor", "text": "not a speaker"},
        {"by": "patient"},
        "just a string",
        {"by": "patient", "text": "x" * (MAX_TURN_CHARS + 50)},
    ]
    ticket = make_ticket(store, "t-1", transcript=given)
    assert ticket.transcript == (
        Turn("patient", "Cost · PRP"),
        Turn("assistant", "PRP costs from £300."),
        Turn("patient", "x" * MAX_TURN_CHARS),
    )
    assert make_ticket(store, "t-2").transcript is None  # none given: render the messages
    long = make_ticket(store, "t-3", transcript=turns(*[("patient", f"m{n}") for n in range(99)]))
    assert len(long.transcript) == MAX_TRANSCRIPT_TURNS
    assert long.transcript[-1] == Turn("patient", "m98")


def test_merged_transcript_adds_only_the_new_turns() -> None:
    first, reply, second, reply2, third = (
        Turn("patient", "my cheek is swollen"),
        Turn("assistant", "Please call us now."),
        Turn("patient", "it is worse"),
        Turn("assistant", "Call 999 if you cannot breathe."),
        Turn("patient", "now it is white"),
    )
    # The window slid on: it starts inside the old transcript.
    assert merged_transcript([first], [first, reply, second]) == (first, reply, second)
    assert merged_transcript([first, reply, second], [reply, second, reply2, third]) == (
        first,
        reply,
        second,
        reply2,
        third,
    )
    # The windows do not line up at the start: continue after the last turn known.
    assert merged_transcript([first, second], [reply, second, third]) == (first, second, third)
    # Nothing in common: all of it, after the old turns.
    assert merged_transcript([first], [third]) == (first, third)
    assert merged_transcript([], [first]) == (first,)
    assert merged_transcript([first, reply], [first, reply]) == (first, reply)


def test_append_messages_merges_the_transcript(store: TicketStore) -> None:
    ticket = make_complication(
        store,
        "c-1",
        messages=["my cheek is swollen"],
        transcript=turns(("patient", "my cheek is swollen")),
    )
    appended = store.append_messages(
        ticket.id,
        ["it is worse"],
        transcript=turns(
            ("patient", "my cheek is swollen"),
            ("assistant", "Please call us now."),
            ("patient", "it is worse"),
        ),
    )
    assert [t.text for t in appended.transcript] == [
        "my cheek is swollen",
        "Please call us now.",
        "it is worse",
    ]
    # Without a transcript (an older caller) the transcript stays as it was.
    again = store.append_messages(ticket.id, ["and hot"])
    assert again.transcript == appended.transcript
    assert again.messages[-1] == "and hot"


def test_append_to_a_ticket_without_transcript_keeps_its_messages(store: TicketStore) -> None:
    ticket = make_complication(store, "c-1", messages=["my eye is swollen"])
    appended = store.append_messages(
        ticket.id,
        ["worse now"],
        transcript=turns(
            ("patient", "my eye is swollen"), ("assistant", "Call us."), ("patient", "worse now")
        ),
    )
    assert [(t.by, t.text) for t in appended.transcript] == [
        ("patient", "my eye is swollen"),
        ("assistant", "Call us."),
        ("patient", "worse now"),
    ]


def test_staff_note_is_capped_blank_removes_it_and_the_ticket_does_not_move(
    store: TicketStore,
) -> None:
    ticket = make_ticket(store, "n-1")
    noted = store.set_staff_note(ticket.id, "  Called, left a voicemail  ")
    assert noted.staff_note == "Called, left a voicemail"
    assert noted.updated_at == ticket.updated_at  # a note is not the patient writing again
    with pytest.raises(ValueError, match=f"at most {MAX_NOTE_CHARS} characters"):
        store.set_staff_note(ticket.id, "y" * (MAX_NOTE_CHARS + 1))
    assert store.get(ticket.id).staff_note == "Called, left a voicemail"
    assert store.set_staff_note(ticket.id, "   ").staff_note is None
    with pytest.raises(TicketNotFoundError):
        store.set_staff_note(ticket.id + 100, "x")


def ids(page: TicketPage) -> list[int]:
    return [t.id for t in page.tickets]


def test_search_filters_by_status_urgency_category_and_treatment(store: TicketStore) -> None:
    urgent = make_complication(store, "a", treatment="prp")
    soon = make_ticket(store, "b", "soon", category="callback", treatment="exosomes")
    routine = make_ticket(store, "c", "routine", category="booking", treatment="prp")
    contacted = make_ticket(store, "d", "urgent", category="complication")
    store.set_status(contacted.id, "contacted")
    closed_old = make_ticket(store, "e", "routine")
    closed_new = make_ticket(store, "f", "urgent")
    store.set_status(closed_old.id, "closed")
    store.set_status(closed_new.id, "closed")

    # Default: open then contacted, urgent first.
    assert ids(store.search_tickets()) == [urgent.id, soon.id, routine.id, contacted.id]
    assert ids(store.search_tickets(TicketFilter(statuses=("open",)))) == [
        urgent.id,
        soon.id,
        routine.id,
    ]
    everything = store.search_tickets(TicketFilter(statuses=()))
    # Closed ones last, the most recently made first.
    assert ids(everything)[-2:] == [closed_new.id, closed_old.id]
    assert everything.total == 6
    assert ids(store.search_tickets(TicketFilter(urgencies=("urgent",)))) == [
        urgent.id,
        contacted.id,
    ]
    assert ids(store.search_tickets(TicketFilter(categories=("booking", "callback")))) == [
        soon.id,
        routine.id,
    ]
    assert ids(store.search_tickets(TicketFilter(treatments=("prp",)))) == [urgent.id, routine.id]
    assert ids(store.search_tickets(TicketFilter(after_id=routine.id))) == [contacted.id]
    assert store.count_by_status() == {"open": 3, "contacted": 1, "closed": 2}
    assert store.latest_id() == closed_new.id
    with pytest.raises(ValueError, match="status must be one of"):
        TicketFilter(statuses=("deleted",))


def test_search_finds_messages_contact_details_and_the_note(store: TicketStore) -> None:
    jane = make_ticket(store, "a", **PATIENT)
    other = make_ticket(
        store,
        "b",
        name="Zoë Brontë",
        email="zoe@example.net",
        transcript=turns(("patient", "Café au lait spots?"), ("assistant", "Ask at the desk")),
    )
    noted = make_ticket(store, "c", messages=["hello"])
    store.set_staff_note(noted.id, "Prefers evenings")

    def found(text: str) -> list[int]:
        return ids(store.search_tickets(TicketFilter(statuses=(), text=text)))

    assert found("swollen") == [jane.id]
    assert found("SWOLLEN prp") == [jane.id]  # every word, any order, any case
    assert found("jane example") == [jane.id]
    assert found("07700 900123".replace("0", "", 1)) == [jane.id]  # "7700 900123"
    assert found("7700900123") == [jane.id]  # digits only
    assert found("jane@example.org") == [jane.id]
    assert found("zoë") == [other.id]
    assert found("BRONTË") == [other.id]
    assert found("café") == [other.id]  # in the transcript's patient turn
    assert found("desk") == []  # the assistant's words are not searched
    assert found("evenings") == [noted.id]
    assert found("nothing like it") == []


def test_search_wildcards_match_only_themselves(store: TicketStore) -> None:
    percent = make_ticket(store, "a", messages=["is it 100% safe?"])
    underscore = make_ticket(store, "b", messages=["my_name"])
    make_ticket(store, "c", messages=["myXname is 1000 safe"])

    def found(text: str) -> list[int]:
        return ids(store.search_tickets(TicketFilter(text=text)))

    assert found("100%") == [percent.id]
    assert found("%") == [percent.id]
    assert found("my_name") == [underscore.id]
    assert found("_") == [underscore.id]
    assert found("/") == []  # the escape character itself is plain text too


def test_search_pages(store: TicketStore) -> None:
    made = [make_ticket(store, f"p-{n}", messages=[f"question {n}"]) for n in range(7)]
    first = store.search_tickets(limit=3)
    second = store.search_tickets(limit=3, offset=3)
    last = store.search_tickets(limit=3, offset=6)
    assert first.total == second.total == last.total == 7
    assert ids(first) + ids(second) + ids(last) == [t.id for t in made]
    assert store.search_tickets(limit=3, offset=9).tickets == []
    with pytest.raises(ValueError):
        store.search_tickets(limit=0)


def test_an_old_database_gets_the_new_columns_and_its_tickets_are_searchable(
    database: tuple[str, str | None], new_store: StoreFactory
) -> None:
    url, schema = database
    with old_database(url, schema) as (engine, _table):
        store = new_store()
        (old,) = store.search_tickets(TicketFilter(text="eye swollen")).tickets
        assert {"transcript", "staff_note", "search_text"} <= columns_of(engine, schema)
        assert (old.transcript, old.staff_note) == (None, None)
        assert ids(store.search_tickets(TicketFilter(text="900123"))) == [old.id]
        noted = store.set_staff_note(old.id, "rang back")
        assert noted.messages == old.messages
        assert ids(store.search_tickets(TicketFilter(text="rang"))) == [old.id]
