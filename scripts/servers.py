"""Start the real action server and Rasa server on free ports (for e2e tests and benchmarks)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from clinic.contract import READINESS_SENDER
from clinic.paths import PROJECT_ROOT

PYTHON = sys.executable
RASA = str(Path(sys.executable).parent / "rasa")
TRACKER_STORE = "serving.tracker_store.ClinicSQLTrackerStore"
LOCK_STORE = "serving.lock_store.ClinicRedisLockStore"
ACTION_SECRET_HEADER = "X-Clinic-Action-Secret"


def endpoints_text(action_url: str, lock_store_url: str = "") -> str:
    """An endpoints file: the action server (with the shared secret, which Rasa reads from
    ``$CLINIC_ACTION_SECRET``), the SQL tracker store and, for several Rasa servers, the
    Redis lock store. Written as text: a process that has used Rasa's YAML reader would
    quote the ``${...}`` reference when dumping YAML, and Rasa would not expand it."""
    text = (
        "action_endpoint:\n"
        f'  url: "{action_url}"\n'
        "  enable_selective_domain: true\n"
        "  headers:\n"
        f"    {ACTION_SECRET_HEADER}: ${{CLINIC_ACTION_SECRET}}\n"
        "tracker_store:\n"
        f"  type: {TRACKER_STORE}\n"
    )
    if lock_store_url:
        text += f'lock_store:\n  type: {LOCK_STORE}\n  url: "{lock_store_url}"\n'
    return text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.update(extra or {})
    return env


def start_action_server(port: int, log: Path, env: dict[str, str] | None = None):
    return subprocess.Popen(
        [PYTHON, "-m", "serving.action_server", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=server_env(env),
    )


def wait_until_up(
    url: str, process: subprocess.Popen, log: Path, timeout: float = 120, *, name: str = "server"
) -> None:
    """Wait until ``url`` answers; RuntimeError with the end of ``log`` if the process exits
    first or nothing answers within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the {name} stopped while starting (exit code {process.returncode}); "
                f"its log ends:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(
        f"the {name} ({url}) did not answer within {timeout:.0f} s; its log ends:\n"
        f"{log.read_text(errors='replace')[-3000:]}"
    )


def wait_until_answering(
    rasa_url: str, process: subprocess.Popen, log: Path, timeout: float = 120
) -> None:
    """Rasa's HTTP server is up before its model is loaded; wait for a real answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "Could not load model" in log.read_text(errors="replace"):
            raise RuntimeError(f"Rasa could not load the model:\n{log.read_text()[-3000:]}")
        if process.poll() is not None:
            raise RuntimeError(f"Rasa exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            reply = requests.post(
                f"{rasa_url}/webhooks/rest/webhook",
                json={"sender": READINESS_SENDER, "message": "hello"},
                timeout=5,
            )
            if reply.ok and reply.json():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Rasa did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RunningAssistant:
    """Both servers of one run; tests may stop, kill and restart either."""

    model: Path
    work_dir: Path
    credentials: Path
    env: dict[str, str]
    action_port: int
    rasa_port: int
    rasa_args: tuple[str, ...] = ()
    action_server: subprocess.Popen | None = None
    rasa_server: subprocess.Popen | None = None

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}"

    @property
    def rasa_log(self) -> Path:
        return self.work_dir / "rasa-server.log"

    @property
    def action_log(self) -> Path:
        return self.work_dir / "action-server.log"

    def start_action_server(self) -> None:
        self.action_server = start_action_server(self.action_port, self.action_log, self.env)
        wait_until_up(f"{self.action_url}/health", self.action_server, self.action_log)

    def start_rasa_server(self) -> None:
        endpoints = self.work_dir / "endpoints.yml"
        endpoints.write_text(endpoints_text(f"{self.action_url}/webhook"))
        self.rasa_server = subprocess.Popen(
            [
                PYTHON, "-m", "serving.rasa_server", "run", "--model", str(self.model),
                "--port", str(self.rasa_port), "-i", "127.0.0.1",
                "--endpoints", str(endpoints), "--credentials", str(self.credentials),
                *self.rasa_args,
            ],
            cwd=PROJECT_ROOT,
            stdout=self.rasa_log.open("a"),
            stderr=subprocess.STDOUT,
            env=server_env(self.env),
        )  # fmt: skip
        wait_until_answering(self.rasa_url, self.rasa_server, self.rasa_log)

    def stop_all(self) -> None:
        for process in (self.rasa_server, self.action_server):
            if process is not None and process.poll() is None:
                stop(process)

    def send(self, message: str, sender: str | None = None) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender or uuid.uuid4().hex, "message": message},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def running_assistant(
    model: Path,
    work_dir: Path,
    credentials: Path | None = None,
    env: dict[str, str] | None = None,
    rasa_args: tuple[str, ...] = (),
) -> Iterator[RunningAssistant]:
    """Both servers up, on free ports; stopped (and logs kept in ``work_dir``) afterwards.

    ``credentials`` defaults to the project's credentials.yml; ``env`` adds environment
    variables for both servers (channel secrets, fake API addresses in tests); ``rasa_args``
    are extra arguments of ``rasa run`` (e.g. ``--debug``).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    # Tickets and conversations go to this run's own SQLite files unless the caller chose
    # databases; fresh secrets for this run.
    env = {
        "CLINIC_TICKETS_DB": str(work_dir / "tickets.db"),
        "CLINIC_CONVERSATIONS_DB": str(work_dir / "conversations.db"),
        "CLINIC_OUTBOX_DIR": str(work_dir / "outbox"),
        "CLINIC_ACTION_SECRET": secrets.token_urlsafe(32),
        "CLINIC_WIDGET_SECRET": secrets.token_urlsafe(32),
        **(env or {}),
    }
    assistant = RunningAssistant(
        model, work_dir, credentials or PROJECT_ROOT / "credentials.yml", env,
        free_port(), free_port(), rasa_args,
    )  # fmt: skip
    try:
        assistant.start_action_server()
        assistant.start_rasa_server()
        yield assistant
    finally:
        assistant.stop_all()
