"""``make run``'s supervisor (scripts/run.py) on the real servers: it prints where to chat,
restarts a server that dies instead of stopping everything, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from clinic.paths import PROJECT_ROOT
from scripts.servers import free_port
from tests.support.replies import reply_of


def pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def wait_for_answer(rasa_url: str, message: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = requests.post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={"sender": uuid.uuid4().hex, "message": message},
                timeout=10,
            )
            if response.ok and response.json():
                return reply_of(response.json())
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer from {rasa_url} within {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def supervisor(tmp_path_factory):
    work = tmp_path_factory.mktemp("run")
    ports = {name: str(free_port()) for name in ("RASA_PORT", "ACTION_PORT", "WEB_PORT")}
    env = {
        **os.environ,
        **ports,
        "CLINIC_TICKETS_DB": str(work / "tickets.db"),
        "CLINIC_OUTBOX_DIR": str(work / "outbox"),
        "CLINIC_CONVERSATIONS_DB": str(work / "conversations.db"),
        "CLINIC_ACTION_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
        "CLINIC_WIDGET_SECRET": uuid.uuid4().hex + uuid.uuid4().hex,
    }
    out = (work / "run.out").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.run"], cwd=PROJECT_ROOT, env=env, stdout=out,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while "The clinic assistant is running" not in (work / "run.out").read_text():
        assert process.poll() is None, (work / "run.out").read_text()
        assert time.monotonic() < deadline, (work / "run.out").read_text()
        time.sleep(0.5)
    yield process, ports, work / "run.out"
    if process.poll() is None:
        process.kill()
        process.wait()


def test_it_prints_where_to_chat(supervisor):
    _, ports, out = supervisor
    text = out.read_text()
    assert f"http://localhost:{ports['WEB_PORT']}" in text
    assert f"http://localhost:{ports['RASA_PORT']}/webhooks/rest/webhook" in text


def test_a_killed_action_server_is_restarted_and_answers_again(supervisor):
    _, ports, out = supervisor
    (pid,) = pids_of(f"serving.action_server --port {ports['ACTION_PORT']}")
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    # Meanwhile the patient is not left in silence ...
    reply = wait_for_answer(f"http://127.0.0.1:{ports['RASA_PORT']}", "What is PRP?", 10)
    assert reply["type"] in {"answer", "handoff"}
    # ... and the action server is back within seconds.
    deadline = time.monotonic() + 60
    while (
        wait_for_answer(f"http://127.0.0.1:{ports['RASA_PORT']}", "What is PRP?", 10)["type"]
        != "answer"
    ):
        assert time.monotonic() < deadline, out.read_text()
        time.sleep(1)
    assert "restarting it" in out.read_text()


def test_a_killed_rasa_server_is_restarted(supervisor):
    _, ports, _ = supervisor
    (pid,) = pids_of(f"serving.rasa_server run .*--port {ports['RASA_PORT']}")
    os.kill(pid, signal.SIGKILL)
    reply = wait_for_answer(f"http://127.0.0.1:{ports['RASA_PORT']}", "What is PRP?", 120)
    assert reply["type"] == "answer"


def test_ctrl_c_stops_everything_and_exits_0(supervisor):
    process, ports, out = supervisor
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    assert out.read_text().rstrip().endswith("Stopped.")
    for port in ports.values():
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}/", timeout=2)
