"""Conversations that survive restarts: the SQL tracker store on SQLite (the default) and on
PostgreSQL (by URL), saved and read back through Rasa's own tracker-store API."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from clinic.paths import PROJECT_ROOT
from serving.tracker_store import ClinicSQLTrackerStore, conversations_url

DOMAIN = Domain.from_yaml(
    "version: '3.1'\nslots:\n  contact_name:\n    type: text\n    mappings:\n      - type: custom\n"
)


def a_conversation(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    for event in (
        ActionExecuted("action_listen"),
        UserUttered("book me in", {"name": "request_booking", "confidence": 0.9}),
        BotUttered("What name should the team use for you?"),
        SlotSet("contact_name", "Priya"),
    ):
        tracker.update(event)
    return tracker


def round_trip(store: TrackerStore) -> None:
    sender = f"rest:{uuid.uuid4().hex}"
    asyncio.run(store.save(a_conversation(sender)))
    again = asyncio.run(store.retrieve(sender))
    assert again is not None
    assert [e.as_dict()["event"] for e in again.events][-3:] == ["user", "bot", "slot"]
    assert again.get_slot("contact_name") == "Priya"


def test_the_default_is_a_sqlite_file_under_build():
    assert conversations_url({}) == f"sqlite:///{PROJECT_ROOT / 'build' / 'conversations.db'}"


def test_a_url_wins_over_the_file_and_a_relative_file_is_taken_from_the_project_root():
    url = "postgresql://clinic@db:5432/clinic"
    assert (
        conversations_url({"CLINIC_CONVERSATIONS_URL": url, "CLINIC_CONVERSATIONS_DB": "x"}) == url
    )
    assert conversations_url({"CLINIC_CONVERSATIONS_DB": "build/c.db"}).endswith("/build/c.db")


def test_rasa_loads_it_from_the_endpoints_file_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_CONVERSATIONS_DB", str(tmp_path / "conversations.db"))
    config = EndpointConfig(type="serving.tracker_store.ClinicSQLTrackerStore")
    store = TrackerStore.create(config, DOMAIN)
    # Rasa falls back to its in-memory store when a custom class fails to load.
    assert isinstance(store, ClinicSQLTrackerStore)
    round_trip(store)
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / "conversations.db").is_file()


def test_a_saved_conversation_is_read_back_by_a_second_store_as_after_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    sender = f"rest:{uuid.uuid4().hex}"
    asyncio.run(ClinicSQLTrackerStore(DOMAIN, url=url).save(a_conversation(sender)))
    restarted = ClinicSQLTrackerStore(DOMAIN, url=url)
    assert asyncio.run(restarted.retrieve(sender)).get_slot("contact_name") == "Priya"


def test_it_runs_on_postgresql(postgres_url):
    store = ClinicSQLTrackerStore(DOMAIN, url=postgres_url)
    assert store.engine.dialect.name == "postgresql"
    round_trip(store)


@pytest.mark.parametrize("kind", ["url", "host"])
def test_rasa_passes_the_endpoint_url_as_host(tmp_path, kind):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = ClinicSQLTrackerStore(DOMAIN, **{kind: url})
    assert str(store.engine.url) == url


def test_a_value_error_inside_a_session_is_an_error_not_the_end_of_the_server(tmp_path):
    store = ClinicSQLTrackerStore(DOMAIN, url=f"sqlite:///{tmp_path / 'v.db'}")
    with pytest.raises(UnicodeEncodeError), store.session_scope():
        "\ud800".encode()
    round_trip(store)  # and the store still works


def test_a_remembered_conversation_is_read_again_when_another_server_added_to_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'two.db'}"
    first, second = ClinicSQLTrackerStore(DOMAIN, url=url), ClinicSQLTrackerStore(DOMAIN, url=url)
    sender = f"rest:{uuid.uuid4().hex}"
    asyncio.run(first.save(a_conversation(sender)))
    on_second = asyncio.run(second.retrieve(sender))
    on_second.update(UserUttered("and the price?", {"name": "ask_cost", "confidence": 0.9}))
    on_second.update(SlotSet("contact_name", "Sam"))
    asyncio.run(second.save(on_second))
    again = asyncio.run(first.retrieve(sender))
    assert again.get_slot("contact_name") == "Sam"
    assert [e.as_dict()["event"] for e in again.events] == [
        e.as_dict()["event"] for e in on_second.events
    ]


def test_a_remembered_conversation_is_a_copy_the_caller_may_change(tmp_path):
    store = ClinicSQLTrackerStore(DOMAIN, url=f"sqlite:///{tmp_path / 'copy.db'}")
    sender = f"rest:{uuid.uuid4().hex}"
    asyncio.run(store.save(a_conversation(sender)))
    changed = asyncio.run(store.retrieve(sender))
    changed.update(SlotSet("contact_name", "not saved"))
    assert asyncio.run(store.retrieve(sender)).get_slot("contact_name") == "Priya"
