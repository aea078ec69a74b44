"""The report page at /staff/report with aiohttp's test client, on stored test conversations."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from clinic.conversation_log import DB_PATH_ENV, URL_ENV
from clinic.frontdesk.store import TicketStore
from clinic.review_file import DEFAULT_REVIEW_FILE
from tests.support.conversation_db import ConversationWriter
from webapp import create_app
from webapp.report import add_report_routes, column_chart
from webapp.staff import STAFF_TOKEN_ENV, TRUST_PROXY_ENV, add_staff_routes

TOKEN = "report-staff-token-for-the-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
NASTY = '<i>zorbing lessons</i> near me? "&"'


def hours_ago(hours: float) -> float:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).timestamp()


@pytest.fixture(autouse=True)
def no_trusted_proxy(monkeypatch) -> None:
    monkeypatch.delenv(TRUST_PROXY_ENV, raising=False)


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[ConversationWriter]:
    writer = ConversationWriter(tmp_path / "conversations.db")
    c = writer.conversation("patient-secret-id")
    c.patient(NASTY, "nlu_fallback", hours_ago(3), confidence=0.2)
    c.bot("action_fallback", "fallback", hours_ago(3))
    c.patient("zorbing lessons near me", "nlu_fallback", hours_ago(2), confidence=0.2,
              ranking=(("nlu_fallback", 0.3), ("ask_cost", 0.25)))  # fmt: skip
    c.bot("action_fallback", "fallback", hours_ago(2))
    c.patient("is prp safe", "ask_side_effects", hours_ago(1), treatments=("prp",))
    c.bot("action_answer", "answer", hours_ago(1), topic="side_effects", treatments=["prp"],
          confidence=0.95)  # fmt: skip
    c.patient("my lip is swollen and hot", "report_complication", hours_ago(0.5))
    c.bot("action_handle_complication", "urgent", hours_ago(0.5), ticket=1)
    writer.save()
    yield writer
    writer.close()


@pytest.fixture
def review(tmp_path: Path) -> Path:
    copy = tmp_path / "review.yml"
    shutil.copy(DEFAULT_REVIEW_FILE, copy)
    return copy


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    yield store
    store.close()


def report_app(writer: ConversationWriter, review: Path, store: TicketStore) -> web.Application:
    app = web.Application()
    add_staff_routes(app, token=TOKEN, store=store)
    add_report_routes(app, conversations_url=writer.url, review_file=review)
    return app


def run_with_client(app: web.Application, check: Callable[[TestClient], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            await check(client)

    asyncio.run(run())


async def signed_in(client: TestClient) -> str:
    """Sign in with the form; returns the report page's form token."""
    response = await client.post("/staff/login", data={"token": TOKEN}, allow_redirects=False)
    assert response.status == 303
    page = await (await client.get("/staff/report")).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def test_the_report_needs_the_staff_sign_in(writer, review, store) -> None:
    async def check(client: TestClient) -> None:
        for path in ("/staff/report", "/staff/report.csv"):
            response = await client.get(path)
            assert response.status == 401, path
            assert "zorbing" not in await response.text()
        response = await client.post(
            "/staff/report/label/save", data={"message": "zorbing", "intent": "out_of_scope"}
        )
        assert response.status == 401
        assert "zorbing" not in review.read_text(encoding="utf-8")

    run_with_client(report_app(writer, review, store), check)


def test_the_page_shows_groups_figures_and_escapes_patient_text(writer, review, store) -> None:
    async def check(client: TestClient) -> None:
        response = await client.get("/staff/report", headers=BEARER)
        assert response.status == 200
        page = await response.text()
        assert "<i>zorbing" not in page
        assert "&lt;i&gt;zorbing lessons&lt;/i&gt; near me? &quot;&amp;&quot;" in page
        assert '<span class="count" title="messages">2</span>' in page  # both zorbing messages
        assert "swollen" not in page  # complications: counts only
        assert "patient-secret-id" not in page
        assert "<svg" in page and 'role="img"' in page and "<desc" in page
        assert 'aria-current="page"' in page and "What patients asked" in page
        policy = response.headers["Content-Security-Policy"]
        scripts = [
            d for d in policy.split(";") if d.strip().startswith(("script-src", "default-src"))
        ]
        assert scripts and not any("'unsafe-inline'" in d for d in scripts)
        assert "<script>" not in page  # no inline script: the charts are drawn on the server
        assert response.headers["Cache-Control"] == "no-store"
        filtered = await (
            await client.get("/staff/report?days=7&treatment=prp", headers=BEARER)
        ).text()
        assert "zorbing" not in filtered.split('id="groups"')[1]
        bad = await client.get("/staff/report?days=12", headers=BEARER)
        assert bad.status == 400 and "days must be one of" in await bad.text()

    run_with_client(report_app(writer, review, store), check)


def test_the_csv_downloads_with_the_filters(writer, review, store) -> None:
    async def check(client: TestClient) -> None:
        response = await client.get("/staff/report.csv?days=30&reason=fallback", headers=BEARER)
        assert response.status == 200
        assert response.content_type == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(await response.text())))
        assert rows[0][0] == "message"
        assert sorted(row[0] for row in rows[1:]) == [NASTY, "zorbing lessons near me"]
        assert "swollen" not in await response.text()

    run_with_client(report_app(writer, review, store), check)


def test_labelling_needs_the_form_token_then_previews_then_saves(writer, review, store) -> None:
    form = {"message": "zorbing lessons near me", "intent": "out_of_scope", "treatment": ""}

    async def check(client: TestClient) -> None:
        csrf = await signed_in(client)
        for token in ("", "wrong"):
            refused = await client.post(
                "/staff/report/label/save", data={**form, "csrf_token": token}
            )
            assert refused.status == 403
        assert "zorbing" not in review.read_text(encoding="utf-8")

        shown = await client.post("/staff/report/label", data={**form, "csrf_token": csrf})
        assert shown.status == 200
        page = await shown.text()
        assert '<span class="add">+    - zorbing lessons near me</span>' in page
        assert 'action="/staff/report/label/save"' in page
        assert "zorbing" not in review.read_text(encoding="utf-8")  # a preview writes nothing

        saved = await client.post("/staff/report/label/save", data={**form, "csrf_token": csrf})
        assert saved.status == 200 and "Saved" in await saved.text()
        data = yaml.safe_load(review.read_text(encoding="utf-8"))
        assert data["nlu"] == [
            {"intent": "out_of_scope", "examples": "- zorbing lessons near me\n"}
        ]

        again = await client.post("/staff/report/label/save", data={**form, "csrf_token": csrf})
        assert again.status == 400 and "already in the training data" in await again.text()

    run_with_client(report_app(writer, review, store), check)


def test_a_refused_label_is_explained_and_escaped(writer, review, store) -> None:
    async def check(client: TestClient) -> None:
        response = await client.post(
            "/staff/report/label",
            data={"message": "hi", "intent": "<b>nope</b>", "treatment": ""},
            headers=BEARER,
        )
        assert response.status == 400
        page = await response.text()
        assert "Unknown intent" in page and "<b>nope</b>" not in page

    run_with_client(report_app(writer, review, store), check)


def test_the_web_app_registers_the_report_and_applies_retention(writer, store, monkeypatch) -> None:
    old = writer.conversation("patient-old")
    old.patient("a question from long ago", "greet", hours_ago(24 * 400))
    old.bot("utter_greet", "smalltalk", hours_ago(24 * 400))
    writer.save()
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(writer.path))
    monkeypatch.setenv(STAFF_TOKEN_ENV, TOKEN)

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff/report", headers=BEARER)).text()
        assert "zorbing" in page and "long ago" not in page

    run_with_client(create_app(ticket_store=store), check)
    with sqlite3.connect(writer.path) as connection:
        texts = [row[0] for row in connection.execute("select data from events")]
    assert not any("long ago" in text for text in texts)
    assert any("zorbing" in text for text in texts)


def test_without_a_staff_token_the_report_is_not_configured(monkeypatch) -> None:
    monkeypatch.delenv(STAFF_TOKEN_ENV, raising=False)

    async def check(client: TestClient) -> None:
        response = await client.get("/staff/report", headers=BEARER)
        assert response.status == 503

    app = web.Application()
    add_staff_routes(app, token="")
    add_report_routes(app)
    run_with_client(app, check)


def test_charts_have_text_alternatives() -> None:
    svg = column_chart("c", "Per day", [("01 Dec", 2), ("02 Dec", 5)], "messages", "#123456")
    assert "7 messages over 2 days; the most on 02 Dec: 5" in svg
    assert "<table>" in svg
