"""Urgent-ticket notifications against a real local HTTP receiver (http.server in a thread)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from clinic import frontdesk
from clinic.frontdesk.notify import NOTIFY_URL_ENV, STAFF_URL_ENV, Notifier
from clinic.frontdesk.store import DB_PATH_ENV, URL_ENV, Ticket, TicketStore
from tests.support.fake_http import RecordedRequest, fake_endpoint

STAFF_URL = "https://clinic.example/staff"
PATIENT = {
    "name": "Jane Example",
    "phone": "+44 7700 900123",
    "email": "jane.example@example.org",
    "messages": ["My lip is swollen and hot after the filler top-up", "it started last night"],
}
PERSONAL_VALUES = (
    PATIENT["name"],
    PATIENT["phone"],
    "7700 900123",
    PATIENT["email"],
    *PATIENT["messages"],
    "swollen",
)


def ok(_request: RecordedRequest) -> tuple[int, dict]:
    return 200, {"ok": True}


def fail_first(times: int):
    calls = {"n": 0}

    def respond(_request: RecordedRequest) -> tuple[int, dict]:
        calls["n"] += 1
        return (500, {"error": "busy"}) if calls["n"] <= times else (200, {"ok": True})

    return respond


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    yield store
    store.close()


@pytest.fixture
def notifiers() -> Iterator[list[Notifier]]:
    """Notifiers made by a test, closed (their threads ended) after it."""
    made: list[Notifier] = []
    yield made
    for notifier in made:
        notifier.close()


def new_notifier(made: list[Notifier], url: str, **options) -> Notifier:
    notifier = Notifier(url, staff_url=STAFF_URL, backoff=0.02, timeout=3, **options)
    made.append(notifier)
    return notifier


def urgent_ticket(store: TicketStore, key: str = "conv-1:msg-1") -> Ticket:
    return store.create(
        idempotency_key=key,
        category="complication",
        urgency="urgent",
        channel="twilio",
        treatment="prp",
        **PATIENT,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_urgent_ticket_is_delivered_as_json_without_personal_data(
    store: TicketStore, notifiers: list[Notifier]
) -> None:
    ticket = urgent_ticket(store)
    with fake_endpoint(ok) as receiver:
        notifier = new_notifier(notifiers, f"{receiver.url}/hooks/clinic")
        assert notifier.notify_if_urgent(ticket).result(timeout=10) is True
    [request] = receiver.requests
    assert request.path == "/hooks/clinic"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "event": "ticket.urgent",
        "ticket_id": ticket.id,
        "category": "complication",
        "urgency": "urgent",
        "treatment": "prp",
        "created_at": ticket.created_at.isoformat(),
        "url": f"{STAFF_URL}#ticket-{ticket.id}",
    }
    body = request.body.decode()
    for value in PERSONAL_VALUES:
        assert value not in body


def test_other_tickets_are_not_notified(store: TicketStore, notifiers: list[Notifier]) -> None:
    with fake_endpoint(ok) as receiver:
        notifier = new_notifier(notifiers, receiver.url)
        for urgency in ("soon", "routine"):
            ticket = store.create(
                idempotency_key=urgency, category="booking", urgency=urgency, channel="rest"
            )
            assert notifier.notify_if_urgent(ticket) is None
        assert notifier.wait(timeout=5)
    assert receiver.requests == []


def test_retried_after_a_failure(store: TicketStore, notifiers: list[Notifier]) -> None:
    ticket = urgent_ticket(store)
    with fake_endpoint(fail_first(2)) as receiver:
        notifier = new_notifier(notifiers, receiver.url, attempts=4)
        assert notifier.notify_if_urgent(ticket).result(timeout=10) is True
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1  # the same alert each time


def test_gives_up_after_the_last_attempt(store: TicketStore, notifiers: list[Notifier]) -> None:
    ticket = urgent_ticket(store)
    with fake_endpoint(fail_first(99)) as receiver:
        notifier = new_notifier(notifiers, receiver.url, attempts=3)
        assert notifier.notify(ticket).result(timeout=10) is False
    assert len(receiver.requests) == 3


def test_a_refusal_is_not_retried(store: TicketStore, notifiers: list[Notifier]) -> None:
    ticket = urgent_ticket(store)
    with fake_endpoint(lambda _r: (404, {"error": "no such hook"})) as receiver:
        notifier = new_notifier(notifiers, receiver.url, attempts=4)
        assert notifier.notify(ticket).result(timeout=10) is False
    assert len(receiver.requests) == 1


def test_unreachable_receiver_is_retried_then_given_up(
    store: TicketStore, notifiers: list[Notifier]
) -> None:
    ticket = urgent_ticket(store)
    notifier = new_notifier(notifiers, f"http://127.0.0.1:{closed_port()}/hook", attempts=3)
    assert notifier.notify(ticket).result(timeout=10) is False


def test_patient_reply_is_not_delayed(tmp_path: Path, notifiers: list[Notifier]) -> None:
    release = threading.Event()

    def slow(_request: RecordedRequest) -> tuple[int, dict]:
        release.wait(timeout=10)  # a receiver that takes its time
        return 200, {"ok": True}

    with fake_endpoint(slow) as receiver:
        notifier = new_notifier(notifiers, receiver.url)
        store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", on_created=notifier.notify_if_urgent)
        store.list_open()  # table created outside the timed part
        started = time.monotonic()
        ticket = urgent_ticket(store)
        elapsed = time.monotonic() - started
        # The receiver is still holding the request while the ticket is already returned.
        receiver.wait_for(lambda requests: len(requests) == 1, timeout=5)
        assert not release.is_set()
        assert elapsed < 0.5, f"create() waited {elapsed:.2f}s for the notification"
        release.set()
        assert notifier.wait(timeout=10)
        store.close()
    assert receiver.requests[0].json()["ticket_id"] == ticket.id


def test_store_from_environment_notifies_urgent_tickets_once(monkeypatch, tmp_path: Path) -> None:
    with fake_endpoint(ok) as receiver:
        monkeypatch.delenv(URL_ENV, raising=False)
        monkeypatch.setenv(DB_PATH_ENV, str(tmp_path / "env.db"))
        monkeypatch.setenv(NOTIFY_URL_ENV, f"{receiver.url}/alert")
        monkeypatch.setenv(STAFF_URL_ENV, STAFF_URL)
        frontdesk.get_store.cache_clear()
        try:
            store = frontdesk.get_store()
            first = urgent_ticket(store)
            urgent_ticket(store)  # a retried action: no second ticket, no second alert
            store.create(idempotency_key="r", category="question", urgency="routine", channel="x")
            receiver.wait_for(lambda requests: len(requests) >= 1, timeout=5)
            time.sleep(0.2)  # room for a wrong second alert to arrive
            store.close()
        finally:
            frontdesk.get_store.cache_clear()
    assert [r.json()["ticket_id"] for r in receiver.requests] == [first.id]
    assert receiver.requests[0].json()["url"] == f"{STAFF_URL}#ticket-{first.id}"


def test_notifier_settings_from_environment(monkeypatch) -> None:
    monkeypatch.delenv(NOTIFY_URL_ENV, raising=False)
    assert Notifier.from_env() is None
    monkeypatch.setenv(NOTIFY_URL_ENV, "file:///etc/passwd")
    with pytest.raises(ValueError, match=NOTIFY_URL_ENV):
        Notifier.from_env()
    monkeypatch.setenv(NOTIFY_URL_ENV, "https://hooks.example/abc")
    monkeypatch.setenv(STAFF_URL_ENV, "https://clinic.example/staff/")
    notifier = Notifier.from_env()
    try:
        assert notifier.url == "https://hooks.example/abc"
        assert notifier.staff_url == "https://clinic.example/staff"
    finally:
        notifier.close()


def test_logs_never_contain_contact_details_or_messages(
    tmp_path: Path, notifiers: list[Notifier], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # As if someone turned on SQL logging: statements may be logged, their values must not.
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    with fake_endpoint(fail_first(1)) as receiver:
        notifier = new_notifier(notifiers, receiver.url, attempts=3)
        unreachable = new_notifier(notifiers, f"http://127.0.0.1:{closed_port()}/x", attempts=2)

        def both(ticket: Ticket) -> None:
            notifier.notify_if_urgent(ticket)
            unreachable.notify_if_urgent(ticket)

        store = TicketStore(f"sqlite:///{tmp_path / 'logged.db'}", on_created=both)
        ticket = urgent_ticket(store)
        assert urgent_ticket(store).id == ticket.id  # the duplicate path (IntegrityError)
        store.set_status(ticket.id, "contacted")
        store.list_open()
        assert notifier.wait(timeout=10) and unreachable.wait(timeout=10)
        store.close()

    logged = caplog.text + "".join(repr(record.args) for record in caplog.records)
    assert f"ticket {ticket.id} created" in logged
    assert f"notification for ticket {ticket.id} delivered" in logged
    assert "attempt 1/3 failed (HTTP 500)" in logged
    assert f"ticket {ticket.id} not delivered after 2 attempts" in logged
    assert "INSERT INTO clinic_tickets" in logged  # SQL logging really was on
    for value in PERSONAL_VALUES:
        assert value not in logged, value
    assert "conv-1:msg-1" not in logged  # the key holds the sender id (a phone number on SMS)
