"""The front-desk inbox at /staff with aiohttp's test client and a real SQLite ticket store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from clinic.frontdesk.store import DB_PATH_ENV, URL_ENV, Ticket, TicketStore
from webapp import create_app
from webapp.staff import SESSION_COOKIE, STAFF_TOKEN_ENV

TOKEN = "s3cret-staff-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    yield store
    store.close()


def run_with_client(app, check: Callable[[TestClient], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            await check(client)

    asyncio.run(run())


def make_ticket(store: TicketStore, key: str, urgency: str, **fields) -> Ticket:
    values = {"category": "question", "channel": "rest", **fields}
    return store.create(idempotency_key=key, urgency=urgency, **values)


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no form token on the page"
    return match.group(1)


def test_unconfigured_inbox_answers_503(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(STAFF_TOKEN_ENV, raising=False)
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(tmp_path / "unused.db"))

    async def check(client: TestClient) -> None:
        for method, path in (
            ("GET", "/staff"),
            ("POST", "/staff/login"),
            ("POST", "/staff/tickets/1/status"),
        ):
            response = await client.request(method, path, headers=BEARER, data={"token": ""})
            assert response.status == 503, path
            assert "staff inbox not configured" in await response.text()

    run_with_client(create_app(), check)
    assert not (tmp_path / "unused.db").exists()  # the database is not even opened


def test_without_a_token_answers_401_with_the_sign_in_form(store: TicketStore) -> None:
    make_ticket(store, "a", "urgent", name="Jane Example")

    async def check(client: TestClient) -> None:
        response = await client.get("/staff")
        assert response.status == 401
        page = await response.text()
        assert 'action="/staff/login"' in page
        assert "Jane Example" not in page
        assert response.headers["Cache-Control"] == "no-store"

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Cookie": f"{SESSION_COOKIE}=1700000000.nonce.forgedsignature"},
    ],
)
def test_wrong_token_answers_401(store: TicketStore, headers: dict[str, str]) -> None:
    ticket = make_ticket(store, "a", "urgent")

    async def check(client: TestClient) -> None:
        assert (await client.get("/staff", headers=headers)).status == 401
        response = await client.post(
            f"/staff/tickets/{ticket.id}/status",
            headers=headers,
            data={"status": "closed"},
            allow_redirects=False,
        )
        assert response.status == 401

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)
    assert store.get(ticket.id).status == "open"


def test_lists_open_tickets_most_urgent_first_with_their_details(store: TicketStore) -> None:
    routine = make_ticket(store, "a", "routine", category="booking", treatment="mesotherapy")
    urgent = make_ticket(
        store,
        "b",
        "urgent",
        category="complication",
        treatment="prp",
        name="Jane Example",
        phone="+44 7700 900123",
        email="jane@example.org",
        messages=["My cheek is very swollen since the PRP", "and it is getting worse"],
    )
    soon = make_ticket(store, "c", "soon", category="callback", treatment="exosomes")
    closed = make_ticket(store, "d", "urgent")
    store.set_status(closed.id, "closed")

    async def check(client: TestClient) -> None:
        response = await client.get("/staff", headers=BEARER)
        assert response.status == 200
        page = await response.text()
        positions = [page.index(f'id="ticket-{t.id}"') for t in (urgent, soon, routine)]
        assert positions == sorted(positions)
        assert f'id="ticket-{closed.id}"' not in page
        for text in (
            "complication",
            "callback",
            "booking",
            "prp",
            "exosomes",
            "mesotherapy",
            "Jane Example",
            "+44 7700 900123",
            "jane@example.org",
            "My cheek is very swollen since the PRP",
            "and it is getting worse",
        ):
            assert text in page, text
        assert "script-src" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_token_comes_from_the_environment(monkeypatch, store: TicketStore) -> None:
    monkeypatch.setenv(STAFF_TOKEN_ENV, TOKEN)

    async def check(client: TestClient) -> None:
        assert (await client.get("/staff", headers=BEARER)).status == 200

    run_with_client(create_app(ticket_store=store), check)


def test_status_change_with_the_bearer_token(store: TicketStore) -> None:
    ticket = make_ticket(store, "a", "urgent", category="complication")

    async def check(client: TestClient) -> None:
        path = f"/staff/tickets/{ticket.id}/status"
        response = await client.post(
            path, headers=BEARER, data={"status": "contacted"}, allow_redirects=False
        )
        assert response.status == 303
        assert response.headers["Location"] == f"/staff#ticket-{ticket.id}"
        assert store.get(ticket.id).status == "contacted"
        # Contacted tickets stay on the page (to be closed later), under their own heading.
        page = await (await client.get("/staff", headers=BEARER)).text()
        assert page.index("Contacted, not closed yet") < page.index(f'id="ticket-{ticket.id}"')

        await client.post(path, headers=BEARER, data={"status": "closed"}, allow_redirects=False)
        assert store.get(ticket.id).status == "closed"
        page = await (await client.get("/staff", headers=BEARER)).text()
        assert f'id="ticket-{ticket.id}"' not in page

        bad = await client.post(path, headers=BEARER, data={"status": "deleted"})
        assert bad.status == 400
        missing = await client.post(
            f"/staff/tickets/{ticket.id + 100}/status", headers=BEARER, data={"status": "closed"}
        )
        assert missing.status == 404

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_browser_sign_in_and_status_change_with_form_token(store: TicketStore) -> None:
    ticket = make_ticket(store, "a", "soon", category="callback")

    async def check(client: TestClient) -> None:
        wrong = await client.post("/staff/login", data={"token": "guess"})
        assert wrong.status == 401
        assert "not right" in await wrong.text()
        assert SESSION_COOKIE not in client.session.cookie_jar.filter_cookies(
            client.make_url("/staff")
        )

        signed_in = await client.post("/staff/login", data={"token": TOKEN}, allow_redirects=False)
        assert signed_in.status == 303
        cookie = signed_in.cookies[SESSION_COOKIE]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"

        inbox = await client.get("/staff")
        assert inbox.status == 200
        page = await inbox.text()
        assert f'id="ticket-{ticket.id}"' in page
        path = f"/staff/tickets/{ticket.id}/status"

        # A cross-site form can ride on the cookie but cannot know the form token.
        forged = await client.post(path, data={"status": "closed"}, allow_redirects=False)
        assert forged.status == 403
        forged = await client.post(
            path, data={"status": "closed", "csrf_token": "0" * 64}, allow_redirects=False
        )
        assert forged.status == 403
        assert store.get(ticket.id).status == "open"

        changed = await client.post(
            path,
            data={"status": "closed", "csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        assert changed.status == 303
        assert store.get(ticket.id).status == "closed"

        signed_out = await client.post(
            "/staff/logout", data={"csrf_token": csrf_token(page)}, allow_redirects=False
        )
        assert signed_out.status == 303
        assert (await client.get("/staff")).status == 401

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_patient_text_is_escaped(store: TicketStore) -> None:
    ticket = make_ticket(
        store,
        "a",
        "urgent",
        category="complication",
        treatment='prp"><script>alert("t")</script>',
        name="<script>alert('name')</script>",
        phone='"><img src=x onerror=alert(1)>',
        email="x@example.org<svg onload=alert(2)>",
        messages=["<b>help</b> & <script>document.cookie</script>", "</li></ol><form>"],
        channel="<iframe>",
    )

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff", headers=BEARER)).text()
        assert f'id="ticket-{ticket.id}"' in page
        for raw in ("<script", "<img", "<svg", "<iframe", "<b>help", "</li></ol><form>"):
            assert raw not in page, raw
        assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page
        assert "&lt;b&gt;help&lt;/b&gt; &amp; &lt;script&gt;document.cookie" in page
        assert "&lt;/li&gt;&lt;/ol&gt;&lt;form&gt;" in page

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_follow_ups_and_the_triage_layer_are_shown(store: TicketStore) -> None:
    sender = "whatsapp:+447700900123"
    followed = make_ticket(
        store,
        "a",
        "urgent",
        category="complication",
        sender_id=sender,
        triage_layer="classifier",
        messages=["my lip feels weird after the filler"],
    )
    followed = store.append_messages(followed.id, ["now it is white and cold", "please help"])
    by_rules = make_ticket(
        store,
        "b",
        "urgent",
        category="complication",
        triage_layer="rules",
        messages=["I can't see properly"],
    )
    screened = make_ticket(
        store, "c", "urgent", category="complication", triage_layer="symptom_screen"
    )
    assert followed.updated_at != followed.created_at
    assert by_rules.updated_at == by_rules.created_at

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff", headers=BEARER)).text()
        sections = {
            ticket.id: page[page.index(f'id="ticket-{ticket.id}"') :].split("</article>")[0]
            for ticket in (followed, by_rules, screened)
        }
        last = f"{followed.updated_at:%Y-%m-%d %H:%M}"
        assert f"<dt>Messages</dt><dd>3 messages · updated {last} UTC</dd>" in sections[followed.id]
        assert (
            "<dt>Caught by</dt><dd>classifier — no sign named, check with the patient</dd>"
            in sections[followed.id]
        )
        for message in ("my lip feels weird", "now it is white and cold", "please help"):
            assert message in sections[followed.id]
        # The oldest message first, as the patient wrote them.
        text = sections[followed.id]
        assert text.index("my lip feels weird") < text.index("white and cold") < text.index("help<")

        assert "<dt>Messages</dt><dd>1 message</dd>" in sections[by_rules.id]
        assert "updated" not in sections[by_rules.id]
        assert "Caught by" not in sections[by_rules.id]  # the rules name the sign themselves
        assert "<dt>Caught by</dt><dd>symptom_screen — " in sections[screened.id]
        assert "<dt>Messages</dt><dd>0 messages</dd>" in sections[screened.id]

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_follow_ups_and_the_triage_layer_are_escaped(store: TicketStore) -> None:
    ticket = make_ticket(
        store,
        "a",
        "urgent",
        category="complication",
        triage_layer="<script>x</script>",
        messages=["first"],
    )
    store.append_messages(ticket.id, ["<img src=x onerror=alert(1)>"])

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff", headers=BEARER)).text()
        assert "<script" not in page
        assert "<img" not in page
        assert "<dd>&lt;script&gt;x&lt;/script&gt; — no sign named" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "2 messages · updated" in page

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)
