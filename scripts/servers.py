"""Start the real action server and Rasa server on free ports (for e2e tests and benchmarks)."""

from __future__ import annotations

import os
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

from clinic.paths import PROJECT_ROOT

RASA = str(Path(sys.executable).parent / "rasa")


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
        [RASA, "run", "actions", "--actions", "actions", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=server_env(env),
    )


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


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
                json={"sender": "readiness-check", "message": "hello"},
                timeout=5,
            )
            if reply.ok and reply.json():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"Rasa did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@dataclass
class RunningAssistant:
    rasa_url: str
    action_url: str
    work_dir: Path

    def send(self, message: str, sender: str | None = None) -> list[dict[str, Any]]:
        response = requests.post(
            f"{self.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender or uuid.uuid4().hex, "message": message},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_assistant(
    model: Path,
    work_dir: Path,
    credentials: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[RunningAssistant]:
    """Both servers up, on free ports; stopped (and logs kept in ``work_dir``) afterwards.

    ``credentials`` defaults to the project's credentials.yml; ``env`` adds environment
    variables for both servers (channel secrets, fake API addresses in tests).
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    action_port, rasa_port = free_port(), free_port()
    endpoints = work_dir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://localhost:{action_port}/webhook"\n'
        "  enable_selective_domain: true\n"
    )
    action_log, rasa_log = work_dir / "action-server.log", work_dir / "rasa-server.log"
    # Tickets go to this run's own SQLite file unless the caller chose a database.
    env = {"CLINIC_TICKETS_DB": str(work_dir / "tickets.db"), **(env or {})}
    action_server = start_action_server(action_port, action_log, env)
    rasa_server = subprocess.Popen(
        [
            RASA, "run", "--model", str(model), "--port", str(rasa_port),
            "--endpoints", str(endpoints),
            "--credentials", str(credentials or PROJECT_ROOT / "credentials.yml"),
        ],
        cwd=PROJECT_ROOT,
        stdout=rasa_log.open("w"),
        stderr=subprocess.STDOUT,
        env=server_env(env),
    )  # fmt: skip
    try:
        wait_until_up(f"http://localhost:{action_port}/health", action_server, action_log)
        wait_until_answering(f"http://localhost:{rasa_port}", rasa_server, rasa_log)
        yield RunningAssistant(
            f"http://localhost:{rasa_port}", f"http://localhost:{action_port}", work_dir
        )
    finally:
        stop(rasa_server)
        stop(action_server)
