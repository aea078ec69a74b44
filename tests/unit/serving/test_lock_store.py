"""ClinicRedisLockStore against a real Redis: one conversation's turns never overlap across
servers, and a dead server frees its conversations within a lease.

Each test uses its own key prefix and conversation ids, so tests can share one Redis database.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.core.utils import AvailableEndpoints, number_of_sanic_workers
from rasa.utils.endpoints import EndpointConfig

from clinic.paths import PROJECT_ROOT
from serving.lock_store import URL_ENV, ClinicRedisLockStore
from tests.support.lock_contention import contend
from tests.support.lock_holder import HOLDING
from tests.support.services import free_port
from tests.support.silent_server import silent_server

CLASS_PATH = "serving.lock_store.ClinicRedisLockStore"
# Phone-number-like, as Twilio sender ids are: must appear in no key name and no log line.
PATIENT_ID = "whatsapp:+15550104477"


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    prefix = f"test_lock_{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        leftovers = list(client.scan_iter(match=f"{prefix}:*"))
        if leftovers:
            client.delete(*leftovers)
    finally:
        client.close()


def keys_under(redis_url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{prefix}:*"))
    finally:
        client.close()


def make_store(redis_url: str, key_prefix: str, **settings: float) -> ClinicRedisLockStore:
    return ClinicRedisLockStore(url=redis_url, key_prefix=key_prefix, **settings)


def conversation() -> str:
    return f"conversation-{uuid.uuid4().hex[:8]}"


# -- two servers, one conversation ---------------------------------------------------------


def test_many_turns_on_two_servers_never_overlap_and_all_get_their_turn(
    redis_url: str, key_prefix: str
) -> None:
    servers = [make_store(redis_url, key_prefix, poll_seconds=0.005) for _ in range(2)]

    result = contend(servers, conversation(), tasks_per_server=25, hold_seconds=0.005)

    assert result.errors == []
    assert len(result.turns) == 50
    assert {(turn.server, turn.task) for turn in result.turns} == {
        (server, task) for server in range(2) for task in range(25)
    }
    assert result.overlapping_pairs() == []
    assert keys_under(redis_url, key_prefix) == []  # an empty queue leaves nothing behind


def test_simultaneous_messages_on_two_servers_never_overlap(
    redis_url: str, key_prefix: str
) -> None:
    """The scenario of RasaHQ/rasa#9213: one message each reaching two servers at once."""
    servers = [make_store(redis_url, key_prefix, poll_seconds=0.005) for _ in range(2)]

    for _ in range(30):
        result = contend(servers, conversation(), tasks_per_server=1, hold_seconds=0.01)
        assert result.errors == []
        assert len(result.turns) == 2
        assert result.overlapping_pairs() == []


def test_rasas_own_redis_lock_store_lets_two_servers_hold_one_conversation_at_once(
    redis_url: str, key_prefix: str
) -> None:
    """The same probe as above on Rasa 3.6's RedisLockStore: both servers read the empty lock,
    both issue ticket 0, both enter. It happened in about 9 rounds of 10 here; 20 rounds make a
    miss (about 0.13 ** 20) practically impossible while a broken lock is still told apart."""
    address = urlsplit(redis_url)
    db = int(address.path.lstrip("/") or 0)
    rasa_prefix = key_prefix.replace("_", "")  # Rasa takes only alphanumeric prefixes
    servers = [
        RedisLockStore(host=address.hostname, port=address.port, db=db, key_prefix=rasa_prefix)
        for _ in range(2)
    ]
    same_ticket_overlaps = []
    try:
        for _ in range(20):
            result = contend(
                servers,
                conversation(),
                tasks_per_server=1,
                hold_seconds=0.01,
                lock_kwargs={"wait_time_in_seconds": 0.005},
                task_timeout=2.0,  # a clobbered ticket can stall Rasa's waiter for 60 s
            )
            same_ticket_overlaps = [
                (first, second)
                for first, second in result.overlapping_pairs()
                if first.ticket == second.ticket and first.server != second.server
            ]
            if same_ticket_overlaps:
                break
    finally:
        client = redis.Redis.from_url(redis_url)
        leftovers = list(client.scan_iter(match=f"{rasa_prefix}:*"))
        if leftovers:
            client.delete(*leftovers)
        client.close()

    assert same_ticket_overlaps, "Rasa's RedisLockStore never overlapped in 20 rounds"


def test_turns_are_served_in_the_order_they_reached_redis(redis_url: str, key_prefix: str) -> None:
    server_a = make_store(redis_url, key_prefix, poll_seconds=0.005)
    server_b = make_store(redis_url, key_prefix, poll_seconds=0.005)
    conversation_id = conversation()
    order: list[int] = []

    async def turn(store: ClinicRedisLockStore, number: int) -> None:
        async with store.lock(conversation_id):
            order.append(number)
            await asyncio.sleep(0.005)

    async def scenario() -> None:
        release_first = asyncio.Event()

        async def first_turn() -> None:
            async with server_a.lock(conversation_id):
                order.append(0)
                await release_first.wait()

        tasks = [asyncio.create_task(first_turn())]
        for number in range(1, 9):
            await _until(lambda number=number: _ticket_count(server_a, conversation_id) == number)
            # Alternate servers: the order holds across them, not only inside one.
            store = server_a if number % 2 else server_b
            tasks.append(asyncio.create_task(turn(store, number)))
        await _until(lambda: _ticket_count(server_a, conversation_id) == 9)
        release_first.set()
        await asyncio.gather(*tasks)
        await server_a.close()
        await server_b.close()

    asyncio.run(scenario())
    assert order == list(range(9))


def test_different_conversations_do_not_wait_for_each_other(
    redis_url: str, key_prefix: str
) -> None:
    store = make_store(redis_url, key_prefix)

    async def scenario() -> float:
        held = asyncio.Event()
        done = asyncio.Event()

        async def hold_a() -> None:
            async with store.lock("conversation-a"):
                held.set()
                await done.wait()

        holder = asyncio.create_task(hold_a())
        await held.wait()
        started = time.monotonic()
        async with store.lock("conversation-b"):
            waited = time.monotonic() - started
        done.set()
        await holder
        await store.close()
        return waited

    assert asyncio.run(scenario()) < 0.5


# -- dead holders, stuck holders, waiting too long -----------------------------------------


def test_a_killed_server_frees_its_conversation_within_the_lease(
    redis_url: str, key_prefix: str
) -> None:
    lease = 2.0  # short for the test; long enough that a loaded machine still renews in time
    conversation_id = conversation()
    arguments = [redis_url, key_prefix, conversation_id, str(lease)]
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.support.lock_holder", *arguments],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == HOLDING

        async def lock_within(max_wait: float) -> float:
            started = time.monotonic()
            impatient = make_store(redis_url, key_prefix, max_wait_seconds=max_wait)
            try:
                async with impatient.lock(conversation_id):
                    return time.monotonic() - started
            finally:
                await impatient.close()

        # Alive, it keeps renewing: still held after more than one lease.
        with pytest.raises(LockError):
            asyncio.run(lock_within(lease * 1.5))
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        freed_after = asyncio.run(lock_within(30))
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert keys_under(redis_url, key_prefix) == []
    assert freed_after < lease + 1.5  # not Rasa's 60 s lock lifetime


def test_a_holder_stuck_past_its_lock_lifetime_lets_the_next_turn_through(
    redis_url: str, key_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(redis_url, key_prefix, lease_seconds=0.3, poll_seconds=0.01)

    async def scenario() -> float:
        held = asyncio.Event()
        finish = asyncio.Event()

        async def stuck() -> None:
            async with store.lock(PATIENT_ID, lock_lifetime=1.0):
                held.set()
                await finish.wait()

        holder = asyncio.create_task(stuck())
        await held.wait()
        started = time.monotonic()
        async with store.lock(PATIENT_ID):
            waited = time.monotonic() - started
        finish.set()
        await holder
        await store.close()
        return waited

    with caplog.at_level(logging.WARNING, logger="serving.lock_store"):
        waited = asyncio.run(scenario())
    assert 0.6 < waited < 1.0 + 0.3 + 0.5
    assert "lock lifetime" in caplog.text
    assert PATIENT_ID not in caplog.text and "15550104477" not in caplog.text


def test_a_dead_ticket_at_the_head_of_the_queue_is_skipped_when_it_expires(
    redis_url: str, key_prefix: str
) -> None:
    """A ticket that nobody renews (a server that queued it, then died) holds up the queue only
    until its own lifetime ends."""
    store = make_store(redis_url, key_prefix)
    conversation_id = conversation()
    store.issue_ticket(conversation_id, lock_lifetime=0.5)

    async def scenario() -> float:
        started = time.monotonic()
        async with store.lock(conversation_id):
            waited = time.monotonic() - started
        await store.close()
        return waited

    assert 0.3 < asyncio.run(scenario()) < 1.5
    assert keys_under(redis_url, key_prefix) == []


def test_waiting_longer_than_max_wait_raises_lock_error_and_leaves_the_queue(
    redis_url: str, key_prefix: str
) -> None:
    store = make_store(redis_url, key_prefix, max_wait_seconds=0.3)
    conversation_id = conversation()

    async def scenario() -> tuple[float, int]:
        held = asyncio.Event()
        finish = asyncio.Event()

        async def holder() -> None:
            async with store.lock(conversation_id):
                held.set()
                await finish.wait()

        holding = asyncio.create_task(holder())
        await held.wait()
        started = time.monotonic()
        with pytest.raises(LockError, match="Gave up waiting"):
            async with store.lock(conversation_id):
                pass
        gave_up_after = time.monotonic() - started
        tickets_left = _ticket_count(store, conversation_id)
        finish.set()
        await holding
        await store.close()
        return gave_up_after, tickets_left

    gave_up_after, tickets_left = asyncio.run(scenario())
    assert 0.3 <= gave_up_after < 1.0
    assert tickets_left == 1  # only the holder's: the one that gave up does not block others


def test_by_default_a_turn_waits_longer_than_rasas_one_second_wait_time(
    redis_url: str, key_prefix: str
) -> None:
    """Rasa calls lock() with wait_time_in_seconds=1; that is a pause between attempts, not a
    limit: a second message behind a 1.5 s turn must still be answered."""
    store = make_store(redis_url, key_prefix)
    conversation_id = conversation()

    async def scenario() -> float:
        held = asyncio.Event()

        async def slow_turn() -> None:
            async with store.lock(conversation_id):
                held.set()
                await asyncio.sleep(1.5)

        holding = asyncio.create_task(slow_turn())
        await held.wait()
        started = time.monotonic()
        async with store.lock(conversation_id, wait_time_in_seconds=1):
            waited = time.monotonic() - started
        await holding
        await store.close()
        return waited

    assert 1.2 < asyncio.run(scenario()) < 2.5


def test_a_cancelled_waiter_gives_up_its_place_at_once(redis_url: str, key_prefix: str) -> None:
    store = make_store(redis_url, key_prefix, poll_seconds=0.005)
    conversation_id = conversation()

    async def scenario() -> float:
        release_first = asyncio.Event()
        held = asyncio.Event()

        async def first() -> None:
            async with store.lock(conversation_id):
                held.set()
                await release_first.wait()

        async def waiter() -> None:
            async with store.lock(conversation_id):
                pass

        holding = asyncio.create_task(first())
        await held.wait()
        hung_up = asyncio.create_task(waiter())  # a client that will hang up while waiting
        await _until(lambda: _ticket_count(store, conversation_id) == 2)
        third = asyncio.create_task(waiter())
        await _until(lambda: _ticket_count(store, conversation_id) == 3)
        hung_up.cancel()
        await _until(lambda: _ticket_count(store, conversation_id) == 2)
        released_at = time.monotonic()
        release_first.set()
        await third
        waited = time.monotonic() - released_at
        await holding
        with pytest.raises(asyncio.CancelledError):
            await hung_up
        await store.close()
        return waited

    # Without the cancelled ticket removed, the third would wait for its lease (5 s).
    assert asyncio.run(scenario()) < 0.5
    assert keys_under(redis_url, key_prefix) == []


# -- Redis unreachable ----------------------------------------------------------------------


def test_redis_refusing_connections_raises_lock_error_naming_the_url_at_once() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    store = ClinicRedisLockStore(url=url)

    async def scenario() -> None:
        async with store.lock(conversation()):
            pytest.fail("locked without a Redis")

    started = time.monotonic()
    with pytest.raises(LockError) as raised:
        asyncio.run(scenario())
    assert time.monotonic() - started < 1.0
    assert url in str(raised.value)


def test_a_redis_that_never_answers_raises_lock_error_within_the_socket_timeout() -> None:
    with silent_server() as port:
        store = ClinicRedisLockStore(url=f"redis://:hunter2@127.0.0.1:{port}/0", socket_timeout=0.5)

        async def scenario() -> None:
            async with store.lock(conversation()):
                pytest.fail("locked without a Redis")

        started = time.monotonic()
        with pytest.raises(LockError) as raised:
            asyncio.run(scenario())
        took = time.monotonic() - started
    assert took < 0.5 + 1.0
    assert f"redis://:***@127.0.0.1:{port}/0" in str(raised.value)
    assert "hunter2" not in str(raised.value)


# -- how Rasa loads it ---------------------------------------------------------------------


def test_rasa_loads_it_from_an_endpoint_config(redis_url: str, key_prefix: str) -> None:
    config = EndpointConfig(
        url=redis_url, type=CLASS_PATH, key_prefix=key_prefix, lease_seconds="0.5"
    )

    store = LockStore.create(config)

    assert isinstance(store, ClinicRedisLockStore)
    assert (store.url, store.key_prefix, store.lease_seconds) == (redis_url, key_prefix, 0.5)
    result = contend([store, LockStore.create(config)], conversation(), 5, hold_seconds=0.005)
    assert result.errors == [] and len(result.turns) == 10 and result.overlapping_pairs() == []


def test_rasa_reads_it_from_endpoints_yml_with_the_url_from_the_environment(
    redis_url: str, key_prefix: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"lock_store:\n  type: {CLASS_PATH}\n  key_prefix: {key_prefix}\n")
    monkeypatch.setenv(URL_ENV, redis_url)
    monkeypatch.setenv("SANIC_WORKERS", "3")

    config = AvailableEndpoints.read_endpoints(str(endpoints)).lock_store
    store = LockStore.create(config)

    assert isinstance(store, ClinicRedisLockStore)
    assert (store.url, store.key_prefix) == (redis_url, key_prefix)
    # Rasa allows several Sanic workers only with a lock store shared between them.
    assert number_of_sanic_workers(config) == 3

    async def scenario() -> None:
        async with store.lock(conversation()):
            pass
        await store.close()

    asyncio.run(scenario())


# -- Rasa's synchronous ticket API, and privacy --------------------------------------------


def test_rasas_ticket_api_works_on_the_same_atomic_queue(redis_url: str, key_prefix: str) -> None:
    store = make_store(redis_url, key_prefix)
    conversation_id = conversation()

    first = store.issue_ticket(conversation_id)
    second = store.issue_ticket(conversation_id)
    lock = store.get_lock(conversation_id)

    assert (first, second) == (1, 2)
    assert lock is not None and [ticket.number for ticket in lock.tickets] == [1, 2]
    assert lock.now_serving == 1 and store.is_someone_waiting(conversation_id)
    with pytest.raises(NotImplementedError):
        store.save_lock(lock)
    store.finish_serving(conversation_id, first)
    assert [ticket.number for ticket in store.get_lock(conversation_id).tickets] == [2]
    store.cleanup(conversation_id, second)
    assert store.get_lock(conversation_id) is None
    assert not store.is_someone_waiting(conversation_id)
    assert keys_under(redis_url, key_prefix) == []

    store.issue_ticket(conversation_id)
    store.delete_lock(conversation_id)
    assert keys_under(redis_url, key_prefix) == []


def test_key_names_do_not_contain_the_conversation_id(redis_url: str, key_prefix: str) -> None:
    store = make_store(redis_url, key_prefix)

    async def scenario() -> list[str]:
        async with store.lock(PATIENT_ID):
            keys = keys_under(redis_url, key_prefix)
        await store.close()
        return keys

    keys = asyncio.run(scenario())
    assert len(keys) == 3
    assert not any("15550104477" in key for key in keys)


# -- helpers -------------------------------------------------------------------------------


def _ticket_count(store: ClinicRedisLockStore, conversation_id: str) -> int:
    lock = store.get_lock(conversation_id)
    return len(lock.tickets) if lock else 0


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)
