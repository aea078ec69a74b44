"""Browser-test fixtures: the real servers, the demo web app and a headless Chromium.

The action server and the Rasa server run as in ``scripts/servers.py``, with the socket.io
channel on (``channels.socketio.ClinicSocketIOInput``, accepting the demo page's origin) and
CORS open, as the widget on the demo page (another port, so another origin) needs. The
secrets are made once per session, so widget sessions survive a restart of the Rasa server.
The browser is Debian's ``chromium`` (``make install-browser``), driven by Playwright;
no browser is downloaded.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from scripts.servers import (
    PROJECT_ROOT,
    RASA,
    endpoints_text,
    free_port,
    server_env,
    start_action_server,
    stop,
    wait_until_answering,
    wait_until_up,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "results" / "browser"
CREDENTIALS = """\
channels.rest.ClinicRestInput:
channels.socketio.ClinicSocketIOInput:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true
"""


@dataclass
class Servers:
    """The action server, the Rasa server (restartable on its port) and the demo web app."""

    model: Path
    work_dir: Path
    rasa_port: int = field(default_factory=free_port)
    action_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    widget_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    action_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def rasa_url(self) -> str:
        return f"http://localhost:{self.rasa_port}"

    @property
    def page_url(self) -> str:
        return f"http://localhost:{self.web_port}/"

    def log(self, name: str) -> Path:
        return self.work_dir / f"{name}.log"

    def env(self) -> dict[str, str]:
        return server_env(
            {
                "CLINIC_WIDGET_SECRET": self.widget_secret,
                "CLINIC_ACTION_SECRET": self.action_secret,
                "CLINIC_SITE_ORIGINS": f"http://localhost:{self.web_port}",
                "CLINIC_TICKETS_DB": str(self.work_dir / "tickets.db"),
                "CLINIC_CONVERSATIONS_DB": str(self.work_dir / "conversations.db"),
            }
        )

    def start(self) -> None:
        self.processes["actions"] = start_action_server(
            self.action_port, self.log("actions"), self.env()
        )
        self.processes["webapp"] = self._popen(
            "webapp",
            [
                sys.executable,
                "-m",
                "webapp",
                "--port",
                str(self.web_port),
                "--rasa-url",
                self.rasa_url,
            ],
        )
        self.start_rasa()
        wait_until_up(
            f"http://localhost:{self.action_port}/health",
            self.processes["actions"],
            self.log("actions"),
        )
        wait_until_up(self.page_url, self.processes["webapp"], self.log("webapp"))
        self.wait_for_rasa()

    def start_rasa(self) -> None:
        endpoints, credentials = self.work_dir / "endpoints.yml", self.work_dir / "credentials.yml"
        endpoints.write_text(endpoints_text(f"http://localhost:{self.action_port}/webhook"))
        credentials.write_text(CREDENTIALS)
        self.processes["rasa"] = self._popen(
            "rasa",
            [
                RASA, "run", "--model", str(self.model), "--port", str(self.rasa_port),
                "--endpoints", str(endpoints), "--credentials", str(credentials), "--cors", "*",
            ],
        )  # fmt: skip

    def wait_for_rasa(self) -> None:
        wait_until_answering(self.rasa_url, self.processes["rasa"], self.log("rasa"))

    def stop_rasa(self) -> None:
        stop(self.processes["rasa"])

    def stop_all(self) -> None:
        for process in self.processes.values():
            stop(process)

    def _popen(self, name: str, command: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            stdout=self.log(name).open("w"),
            stderr=subprocess.STDOUT,
            env=self.env(),
        )


@pytest.fixture(scope="session")
def servers(trained_model: Path, tmp_path_factory) -> Iterator[Servers]:
    running = Servers(trained_model, tmp_path_factory.mktemp("browser-servers"))
    try:
        running.start()
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"no {CHROMIUM}: run make install-browser (as root)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, request, **context_options) -> Iterator[Page]:
    """A page in a fresh browser profile (so empty localStorage); a screenshot at the end.

    Uncaught JavaScript errors on the page fail the test.
    """
    context = browser.new_context(**context_options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        page.screenshot(path=SCREENSHOTS / f"{name}.png")
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page(browser, request) -> Iterator[Page]:
    """A desktop-sized page."""
    yield from open_page(browser, request, viewport={"width": 1280, "height": 800})


@pytest.fixture
def phone_page(browser, request) -> Iterator[Page]:
    """A page on a 360 px wide phone screen."""
    yield from open_page(
        browser, request, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True
    )


@pytest.fixture
def tablet_page(browser, request) -> Iterator[Page]:
    """A page on an 800 x 1100 tablet screen (portrait)."""
    yield from open_page(browser, request, viewport={"width": 800, "height": 1100}, has_touch=True)


@dataclass
class ReportWebApp:
    """A second web app beside ``servers``: the staff pages on the Rasa server's conversation
    database, labelling into a temporary copy of the review file."""

    url: str
    token: str
    review_file: Path


@pytest.fixture(scope="session")
def report_webapp(servers: Servers, tmp_path_factory) -> Iterator[ReportWebApp]:
    from clinic.review_file import DEFAULT_REVIEW_FILE, REVIEW_FILE_ENV

    work = tmp_path_factory.mktemp("report-webapp")
    review_file = work / "review.yml"
    review_file.write_text(DEFAULT_REVIEW_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    token, port = secrets.token_urlsafe(32), free_port()
    env = servers.env()  # the same CLINIC_CONVERSATIONS_DB and tickets as the Rasa server
    env.update({"CLINIC_STAFF_TOKEN": token, REVIEW_FILE_ENV: str(review_file)})
    for name in ("CLINIC_CONVERSATIONS_URL", "CLINIC_TICKETS_URL", "CLINIC_TRUST_PROXY"):
        env.pop(name, None)
    log = work / "webapp.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "webapp", "--port", str(port), "--rasa-url", servers.rasa_url],
        cwd=PROJECT_ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_until_up(f"http://localhost:{port}/", process, log)
        yield ReportWebApp(f"http://localhost:{port}", token, review_file)
    finally:
        stop(process)


@pytest.fixture
def no_script_page(browser, request) -> Iterator[Page]:
    """A desktop-sized page with JavaScript turned off."""
    yield from open_page(
        browser, request, viewport={"width": 1280, "height": 800}, java_script_enabled=False
    )
