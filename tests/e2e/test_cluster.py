"""Several servers (``make run-cluster``, at small scale): two Rasa servers behind nginx on
the Redis lock store and a PostgreSQL conversation database.

- one conversation's messages sent at the same time to both Rasa servers: every turn is in
  the database once, whole and in order (the lock store keeps the servers apart);
- the fault suite: 20 conversations at once, one Rasa server killed (``kill -9``) mid-run:
  every message gets a non-empty reply (nginx passes it to the other server), no event lost
  or duplicated, a half-filled booking form goes on; the action server killed: replies
  within 5 s, the urgent advice still given.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from clinic.paths import PROJECT_ROOT
from clinic.settings import get_settings
from scripts.servers import free_port
from tests.support.replies import reply_of, text_of

QUESTIONS = [
    "what is prp",
    "how many sessions of mesotherapy do I need",
    "how long is the downtime after microneedling?",
    "how much are exosomes",
    "prp vs exosomes",
    "does it hurt?",
]
EMERGENCY = "my lips are swelling and I can't breathe properly after the treatment"


def pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


class Cluster:
    def __init__(self, work: Path, lock_url: str, conversations_url: str) -> None:
        self.work = work
        self.ports = {
            "RASA_PORT": free_port(),
            "ACTION_PORT": free_port(),
            "WEB_PORT": free_port(),
            "PROXY_PORT": free_port(),
        }
        # The two Rasa servers take RASA_PORT and RASA_PORT + 1.
        while self._busy(self.ports["RASA_PORT"] + 1):
            self.ports["RASA_PORT"] = free_port()
        self.engine = sa.create_engine(conversations_url)
        env = {
            **os.environ,
            **{name: str(port) for name, port in self.ports.items()},
            "CLINIC_LOCK_STORE_URL": lock_url,
            "CLINIC_CONVERSATIONS_URL": conversations_url,
            "CLINIC_TICKETS_DB": str(work / "tickets.db"),
            "CLINIC_OUTBOX_DIR": str(work / "outbox"),
            "CLINIC_ACTION_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
            "CLINIC_WIDGET_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        }
        self.out = work / "run.out"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scripts.run", "--rasa-servers", "2", "--action-servers", "1",
             "--proxy"],
            cwd=PROJECT_ROOT, env=env, stdout=self.out.open("w"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while "The clinic assistant is running" not in self.out.read_text():
            assert self.process.poll() is None, self.out.read_text()
            assert time.monotonic() < deadline, self.out.read_text()
            time.sleep(0.5)

    @staticmethod
    def _busy(port: int) -> bool:
        import socket

        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.ports['PROXY_PORT']}"

    def rasa(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports['RASA_PORT'] + index}"

    def send(self, base: str, sender: str, message: str) -> list[dict]:
        response = requests.post(
            f"{base}/webhooks/rest/webhook", json={"sender": sender, "message": message}, timeout=60
        )
        response.raise_for_status()
        return response.json()

    def events(self, sender: str) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT data FROM events WHERE sender_id LIKE :s ORDER BY id"),
                {"s": f"%{sender}"},
            ).fetchall()
        return [json.loads(row[0]) for row in rows]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.engine.dispose()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, redis_url, postgres_url):
    database = f"cluster_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {database}"))
    admin.dispose()
    url = sa.engine.make_url(postgres_url).set(database=database)
    running = Cluster(tmp_path_factory.mktemp("cluster"), redis_url, str(url))
    yield running
    running.stop()


def turns(events: list[dict]) -> list[list[dict]]:
    """The events split at each user message (the events before the first are dropped)."""
    found: list[list[dict]] = []
    for event in events:
        if event["event"] == "user":
            found.append([event])
        elif found:
            found[-1].append(event)
    return found


def assert_whole_turns(events: list[dict], sent: list[str]) -> None:
    """Each message sent is in the conversation once, and each turn is whole: the user
    message, the bot's reply, and the turn ending with action_listen before the next one."""
    split = turns(events)
    assert sorted(turn[0]["text"] for turn in split) == sorted(sent)
    for turn in split:
        kinds = [event["event"] for event in turn]
        assert "bot" in kinds, f"a turn without a reply: {kinds}"
        last_action = [e for e in turn if e["event"] == "action"][-1]
        assert last_action["name"] == "action_listen", f"an unfinished turn: {kinds}"
        assert kinds.count("user") == 1


def test_one_conversation_sent_to_both_servers_at_once_stays_whole_and_in_order(cluster):
    sender = uuid.uuid4().hex
    sent = [f"{question} ({index})" for index, question in enumerate(QUESTIONS * 2)]

    def send(index: int) -> list[dict]:
        return cluster.send(cluster.rasa(index % 2), sender, sent[index])

    with ThreadPoolExecutor(len(sent)) as pool:
        replies = list(pool.map(send, range(len(sent))))
    assert all(text_of(reply) for reply in replies)
    assert_whole_turns(cluster.events(sender), sent)


def test_a_rasa_server_killed_mid_run_loses_no_message_and_no_event(cluster):
    conversations = [uuid.uuid4().hex for _ in range(20)]
    booking = conversations[0]
    failures: list[str] = []
    booking_replies: list[dict] = []
    killed = threading.Event()

    def talk(sender: str) -> list[str]:
        messages = (
            ["I'd like to book a consultation", "Priya Patel", "07700 900123"]
            if sender == booking
            else [f"{question} [{sender[:4]}]" for question in QUESTIONS]
        )
        for index, message in enumerate(messages):
            if sender == booking and index == 2:
                killed.wait(60)  # the form's last step comes after the kill
            try:
                replies = cluster.send(cluster.proxy, sender, message)
            except requests.RequestException as error:
                failures.append(f"{message!r}: {error}")
                continue
            if not text_of(replies):
                failures.append(f"{message!r}: an empty reply {replies}")
            if sender == booking:
                booking_replies.append(reply_of(replies))
        return messages

    def kill_first_rasa_server() -> None:
        time.sleep(2)
        (pid,) = pids_of(f"serving.rasa_server run .*--port {cluster.ports['RASA_PORT']} ")
        os.kill(pid, signal.SIGKILL)
        killed.set()

    killer = threading.Thread(target=kill_first_rasa_server)
    killer.start()
    with ThreadPoolExecutor(len(conversations)) as pool:
        sent = dict(zip(conversations, pool.map(talk, conversations), strict=True))
    killer.join()

    assert failures == []
    for sender, messages in sent.items():
        assert_whole_turns(cluster.events(sender), messages)
    steps = [reply.get("step") for reply in booking_replies]
    assert steps[0] == "contact_name" and steps[1] == "contact_details"
    assert steps[2] == "treatment_of_interest", f"the form did not go on: {booking_replies}"


def test_with_the_action_server_killed_patients_hear_back_within_5_s(cluster):
    (pid,) = pids_of(f"serving.action_server --port {cluster.ports['ACTION_PORT']}")
    os.kill(pid, signal.SIGKILL)
    for message in (EMERGENCY, "how much is prp"):
        started = time.monotonic()
        replies = cluster.send(cluster.proxy, uuid.uuid4().hex, message)
        assert time.monotonic() - started < 5
        assert text_of(replies)
    assert reply_of(cluster.send(cluster.proxy, uuid.uuid4().hex, EMERGENCY))["emergency"] is True
    assert get_settings().emergency_number in text_of(
        cluster.send(cluster.proxy, uuid.uuid4().hex, EMERGENCY)
    )
