"""The front-desk inbox at /staff with aiohttp's test client and a real SQLite ticket store."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import re
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clinic.frontdesk.store import DB_PATH_ENV, URL_ENV, Ticket, TicketStore
from clinic.paths import PROJECT_ROOT
from clinic.settings import get_settings
from webapp import create_app
from webapp.staff import (
    SESSION_COOKIE,
    STAFF_TOKEN_ENV,
    TRUST_PROXY_ENV,
    SignInLimits,
    StaffAuth,
    add_staff_routes,
    staff_page,
    when,
)

TOKEN = "s3cret-staff-token-for-tests-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
# Wrong guesses with no 4-character piece in common with any log text.
GUESS = "Qx7Zv2Kp9Jw4Rt6Yh3Nb8Lm5Fd1Gs0Hc"
BEARER_GUESS = "Wd4Jm8Tq1Zx6Ck3Vn9Ph2Lb7Rf5Gy0Hs"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TicketStore]:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    yield store
    store.close()


@pytest.fixture(autouse=True)
def no_trusted_proxy(monkeypatch) -> None:
    # Tests that want a trusted proxy say so; a developer's environment must not decide.
    monkeypatch.delenv(TRUST_PROXY_ENV, raising=False)


def run_with_client(
    app, check: Callable[[TestClient], Awaitable[None]], *, tls: ssl.SSLContext | None = None
) -> None:
    async def run() -> None:
        server = TestServer(app)
        if tls is not None:
            await server.start_server(ssl=tls)  # TestClient would start it without TLS
        async with TestClient(server) as client:
            await check(client)

    asyncio.run(run())


def staff_app(store: TicketStore, **settings) -> web.Application:
    """Just the inbox routes, with ``add_staff_routes`` settings such as ``limits``."""
    app = web.Application()
    add_staff_routes(app, token=TOKEN, store=store, **settings)
    return app


async def sign_in(client: TestClient, token: str = TOKEN, headers: dict | None = None):
    return await client.post(
        "/staff/login", data={"token": token}, headers=headers, allow_redirects=False
    )


def forwarded(address: str) -> dict[str, str]:
    # Proxies behind the first (nginx behind a load balancer) append their own hops.
    return {"X-Forwarded-For": f"{address}, 10.0.0.2"}


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
        {"Cookie": f"{SESSION_COOKIE}=made-up-session-id.{'0' * 64}"},
        {"Cookie": f'{SESSION_COOKIE}="s\u00e9ssion.sign\u00e9"'},  # quoted: kept as is
        {"Authorization": "Bearer gu\u00e9ss"},
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
        tickets = page[page.index('id="tickets"') :]
        for text in (
            "Complication",
            "Call-back",
            "Booking",
            # Names from the knowledge file, never the ids.
            "PRP (platelet-rich plasma)",
            "Exosomes",
            "Mesotherapy",
            "Jane Example",
            "+44 7700 900123",
            "jane@example.org",
            "My cheek is very swollen since the PRP",
            "and it is getting worse",
        ):
            assert text in tickets, text
        assert ">prp<" not in tickets and "· prp" not in tickets
        # Scripts from this app only: the inbox's own file, never inline or from elsewhere.
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response.headers["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'"
        assert policy["connect-src"] == "'self'"
        assert policy["default-src"] == "'none'"
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
        # The one script is the inbox's own file; patient text adds none.
        assert page.count("<script") == 1
        assert '<script src="/staff/static/staff.js" defer></script>' in page
        page = page[page.index('id="tickets"') :]
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
        # In the clinic's time zone, as a receptionist would say it.
        last = followed.updated_at.astimezone(get_settings().time_zone)
        assert (
            f"<dt>Messages</dt><dd>3 messages · updated Today {last:%H:%M}</dd>"
            in sections[followed.id]
        )
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
        page = page[page.index('id="tickets"') :]
        assert "<script" not in page
        assert "<img" not in page
        assert "<dd>&lt;script&gt;x&lt;/script&gt; — no sign named" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
        assert "2 messages · updated" in page

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


# -- sign-in hardening ----------------------------------------------------------------------


def test_wrong_tokens_from_one_address_get_429_with_retry_after(store: TicketStore) -> None:
    async def check(client: TestClient) -> None:
        assert (await sign_in(client)).status == 303  # a session from before the guessing
        for attempt in range(5):  # the default limit: 5 per address, form and Bearer alike
            if attempt % 2:
                wrong = await client.get("/staff", headers={"Authorization": f"Bearer {GUESS}"})
            else:
                wrong = await sign_in(client, GUESS)
            assert wrong.status == 401, attempt

        locked = await sign_in(client)  # the right token too: else the lock answers guesses
        assert locked.status == 429
        assert 295 <= int(locked.headers["Retry-After"]) <= 300
        page = await locked.text()
        assert "Too many wrong tokens. Try again in 5 minutes." in page
        assert 'action="/staff/login"' in page
        assert SESSION_COOKIE not in locked.cookies
        bearer = await client.get("/staff", headers=BEARER)
        assert bearer.status == 429
        assert 295 <= int(bearer.headers["Retry-After"]) <= 300
        assert bearer.headers["Cache-Control"] == "no-store"

        assert (await client.get("/staff")).status == 200  # the session keeps working

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_the_lockout_ends_when_the_failures_leave_the_window(store: TicketStore) -> None:
    app = staff_app(store, limits=SignInLimits(per_address=2, overall=10, window_seconds=1))

    async def check(client: TestClient) -> None:
        assert (await sign_in(client, GUESS)).status == 401
        assert (await sign_in(client, GUESS)).status == 401
        locked = await sign_in(client)
        assert locked.status == 429
        assert locked.headers["Retry-After"] == "1"
        await asyncio.sleep(1.1)
        assert (await sign_in(client)).status == 303

    run_with_client(app, check)


def test_wrong_tokens_from_many_addresses_lock_token_sign_in_for_everyone(
    store: TicketStore,
) -> None:
    ticket = make_ticket(store, "a", "urgent", category="complication")
    app = staff_app(store, trust_proxy=True, limits=SignInLimits(per_address=3, overall=6))
    desk = forwarded("192.0.2.100")

    async def check(client: TestClient) -> None:
        assert (await sign_in(client, headers=desk)).status == 303
        page = await (await client.get("/staff", headers=desk)).text()
        for number in range(6):  # one guess each: no address reaches its own limit
            guess = await sign_in(client, GUESS, headers=forwarded(f"198.51.100.{number}"))
            assert guess.status == 401, number

        newcomer = await sign_in(client, headers=forwarded("203.0.113.9"))
        assert newcomer.status == 429
        assert 295 <= int(newcomer.headers["Retry-After"]) <= 300
        bearer = await client.get("/staff", headers={**BEARER, **forwarded("203.0.113.10")})
        assert bearer.status == 429

        # Signed-in staff carry on: the inbox and its buttons still work.
        assert (await client.get("/staff", headers=desk)).status == 200
        changed = await client.post(
            f"/staff/tickets/{ticket.id}/status",
            headers=desk,
            data={"status": "contacted", "csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        assert changed.status == 303

    run_with_client(app, check)
    assert store.get(ticket.id).status == "contacted"


def test_a_right_token_resets_no_failure_count(store: TicketStore) -> None:
    # Staff behind the same address as a guesser would otherwise hand out fresh guesses.
    app = staff_app(store, trust_proxy=True, limits=SignInLimits(per_address=3, overall=5))
    first, second, third = (forwarded(f"198.51.100.{n}") for n in (1, 2, 3))

    async def check(client: TestClient) -> None:
        assert (await sign_in(client, GUESS, headers=first)).status == 401
        assert (await sign_in(client, GUESS, headers=first)).status == 401
        assert (await sign_in(client, headers=first)).status == 303
        assert (await client.get("/staff", headers={**BEARER, **first})).status == 200
        assert (await sign_in(client, GUESS, headers=first)).status == 401
        assert (await sign_in(client, headers=first)).status == 429  # 3 failures, not 1

        assert (await sign_in(client, GUESS, headers=second)).status == 401  # 4 overall
        assert (await sign_in(client, headers=second)).status == 303
        assert (await sign_in(client, GUESS, headers=second)).status == 401  # 5 overall
        assert (await sign_in(client, headers=third)).status == 429

    run_with_client(app, check)


def test_refusals_are_logged_without_the_token(store: TicketStore, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    app = staff_app(store, limits=SignInLimits(per_address=2, overall=10))

    async def check(client: TestClient) -> None:
        copied = (await sign_in(client)).cookies[SESSION_COOKIE].value
        await client.post("/staff/logout", allow_redirects=False)
        assert (await sign_in(client, GUESS)).status == 401
        wrong = await client.get("/staff", headers={"Authorization": f"Bearer {BEARER_GUESS}"})
        assert wrong.status == 401
        assert (await sign_in(client)).status == 429
        revoked = await client.get("/staff", headers={"Cookie": f"{SESSION_COOKIE}={copied}"})
        assert revoked.status == 401

    run_with_client(app, check)
    refusals = [r for r in caplog.records if r.name == "webapp.staff" and r.levelno >= 30]
    assert all(r.levelno == logging.WARNING for r in refusals)
    counts = "wrong_tokens_from_address={} wrong_tokens_overall={} window=300s"
    expected = [
        ("wrong_token_form", counts.format(1, 1)),
        ("wrong_token_bearer", counts.format(2, 2)),
        ("address_locked_out", counts.format(2, 2)),
        ("unknown_expired_or_signed_out_session", counts.format(2, 2)),
    ]
    assert [r.getMessage() for r in refusals] == [
        f"staff access refused: address=127.0.0.1 reason={reason} {count}"
        for reason, count in expected
    ]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "staff signed in: address=127.0.0.1" in logged
    assert TOKEN not in logged
    for secret in (GUESS, BEARER_GUESS):
        for start in range(len(secret) - 3):
            assert secret[start : start + 4] not in logged, secret[start : start + 4]


@pytest.mark.parametrize("token", ["x" * 31, "hunter2", f"  {'y' * 31}  "])
def test_a_short_token_is_refused_at_start(token: str, monkeypatch, store: TicketStore) -> None:
    with pytest.raises(ValueError, match="shorter than 32 characters") as refused:
        create_app(staff_token=token, ticket_store=store)
    message = str(refused.value)
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert token.strip() not in message
    monkeypatch.setenv(STAFF_TOKEN_ENV, token)
    with pytest.raises(ValueError, match="shorter than 32 characters"):
        create_app(ticket_store=store)


def test_a_32_character_token_is_enough(store: TicketStore) -> None:
    token = "z" * 32

    async def check(client: TestClient) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/staff", headers=headers)).status == 200

    run_with_client(create_app(staff_token=token, ticket_store=store), check)


def test_python_m_webapp_stops_with_an_error_for_a_short_token(tmp_path: Path) -> None:
    env = {**os.environ, STAFF_TOKEN_ENV: "hunter2-too-short", DB_PATH_ENV: str(tmp_path / "t.db")}
    result = subprocess.run(
        [sys.executable, "-m", "webapp", "--port", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # were it to start serving, this ends the test
    )
    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: the staff token ($CLINIC_STAFF_TOKEN) is shorter than 32")
    assert "secrets.token_urlsafe(32)" in last_line
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize("value", ["maybe", "2", "trusted"])
def test_an_unclear_trust_proxy_setting_is_refused(value: str, monkeypatch) -> None:
    monkeypatch.setenv(TRUST_PROXY_ENV, value)
    with pytest.raises(ValueError, match=f"{TRUST_PROXY_ENV} must be 1 or 0"):
        create_app(staff_token=TOKEN)


@pytest.mark.parametrize(
    ("trust", "headers", "secure"),
    [
        ("1", {"X-Forwarded-Proto": "https"}, True),
        ("true", {"X-Forwarded-Proto": "HTTPS, http"}, True),
        ("1", {"X-Forwarded-Proto": "http"}, False),
        ("1", {}, False),
        ("0", {"X-Forwarded-Proto": "https"}, False),
        ("", {"X-Forwarded-Proto": "https"}, False),
    ],
)
def test_session_cookie_is_secure_when_a_trusted_proxy_says_https(
    trust: str, headers: dict[str, str], secure: bool, monkeypatch, store: TicketStore
) -> None:
    monkeypatch.setenv(TRUST_PROXY_ENV, trust)

    async def check(client: TestClient) -> None:
        signed_in = await sign_in(client, headers=headers)
        assert signed_in.status == 303
        cookie = signed_in.cookies[SESSION_COOKIE]
        assert bool(cookie["secure"]) is secure
        assert ("Secure" in signed_in.headers["Set-Cookie"]) is secure
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/staff"

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def self_signed_tls(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


def test_session_cookie_is_secure_over_direct_https(tmp_path: Path, store: TicketStore) -> None:
    async def check(client: TestClient) -> None:
        assert str(client.make_url("/staff")).startswith("https://")
        signed_in = await client.post(
            "/staff/login", data={"token": TOKEN}, allow_redirects=False, ssl=False
        )
        assert signed_in.status == 303
        assert signed_in.cookies[SESSION_COOKIE]["secure"]

    app = create_app(staff_token=TOKEN, ticket_store=store)
    run_with_client(app, check, tls=self_signed_tls(tmp_path))


def test_a_trusted_proxys_first_forwarded_hop_is_the_client_address(
    store: TicketStore, caplog
) -> None:
    caplog.set_level(logging.WARNING, logger="webapp.staff")
    app = staff_app(store, trust_proxy=True, limits=SignInLimits(per_address=2, overall=50))

    async def check(client: TestClient) -> None:
        guesser, colleague = forwarded("203.0.113.7"), forwarded("203.0.113.8")
        for _ in range(2):
            assert (await sign_in(client, GUESS, headers=guesser)).status == 401
        assert (await sign_in(client, headers=guesser)).status == 429
        assert (await sign_in(client, headers=colleague)).status == 303  # same proxy hop

        # An IPv6 client holds a whole /64: counted as one address.
        for host in ("2001:db8:1:2::1", "2001:db8:1:2::ffff"):
            assert (await sign_in(client, GUESS, headers=forwarded(host))).status == 401
        assert (await sign_in(client, headers=forwarded("2001:db8:1:2:abcd::9"))).status == 429
        assert (await sign_in(client, headers=forwarded("2001:db8:1:3::1"))).status == 303

        # A header that is no address counts against the proxy's own connection.
        for _ in range(2):
            garbled = {"X-Forwarded-For": "not-an-address\tor-so"}
            assert (await sign_in(client, GUESS, headers=garbled)).status == 401
        assert (await sign_in(client)).status == 429

    run_with_client(app, check)
    addresses = re.findall(r"refused: address=(\S+)", caplog.text)
    assert addresses[:3] == ["203.0.113.7"] * 3
    assert "2001:db8:1:2::ffff" in addresses
    assert "127.0.0.1" in addresses
    assert "not-an-address" not in caplog.text


def test_forwarded_headers_are_ignored_without_a_trusted_proxy(store: TicketStore) -> None:
    async def check(client: TestClient) -> None:
        for number in range(5):  # a new made-up address for every guess changes nothing
            guess = await sign_in(client, GUESS, headers=forwarded(f"198.51.100.{number}"))
            assert guess.status == 401
        assert (await sign_in(client, headers=forwarded("198.51.100.99"))).status == 429

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_signing_out_revokes_the_session_so_a_copied_cookie_stops_working(
    store: TicketStore,
) -> None:
    ticket = make_ticket(store, "a", "urgent", category="complication")

    async def check(client: TestClient) -> None:
        copied = (await sign_in(client)).cookies[SESSION_COOKIE].value
        page = await (await client.get("/staff")).text()
        client.session.cookie_jar.clear()
        other = (await sign_in(client)).cookies[SESSION_COOKIE].value  # another browser
        assert other != copied
        client.session.cookie_jar.clear()
        with_copy = {"Cookie": f"{SESSION_COOKIE}={copied}"}
        assert (await client.get("/staff", headers=with_copy)).status == 200

        signed_out = await client.post(
            "/staff/logout",
            headers=with_copy,
            data={"csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        assert signed_out.status == 303
        assert signed_out.cookies[SESSION_COOKIE].value == ""

        replayed = await client.get("/staff", headers=with_copy)
        assert replayed.status == 401
        assert 'action="/staff/login"' in await replayed.text()
        assert replayed.cookies[SESSION_COOKIE]["max-age"] == "0"  # the browser drops it
        forged = await client.post(
            f"/staff/tickets/{ticket.id}/status",
            headers=with_copy,
            data={"status": "closed", "csrf_token": csrf_token(page)},
            allow_redirects=False,
        )
        assert forged.status == 401
        other_browser = {"Cookie": f"{SESSION_COOKIE}={other}"}
        assert (await client.get("/staff", headers=other_browser)).status == 200

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)
    assert store.get(ticket.id).status == "open"


def test_a_session_ends_after_its_lifetime(store: TicketStore) -> None:
    app = staff_app(store, session_seconds=1)

    async def check(client: TestClient) -> None:
        signed_in = await sign_in(client)
        assert signed_in.cookies[SESSION_COOKIE]["max-age"] == "1"
        cookie = {"Cookie": f"{SESSION_COOKIE}={signed_in.cookies[SESSION_COOKIE].value}"}
        client.session.cookie_jar.clear()
        assert (await client.get("/staff", headers=cookie)).status == 200
        await asyncio.sleep(1.1)
        assert (await client.get("/staff", headers=cookie)).status == 401

    run_with_client(app, check)


# -- the redesigned inbox: views, live updates, conversation, notes -------------------------


def article(page: str, ticket_id: int) -> str:
    return page[page.index(f'id="ticket-{ticket_id}"') :].split("</article>")[0]


def listed_ids(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'<article id="ticket-(\d+)"', page)]


def test_filters_search_and_pages_are_query_parameters(store: TicketStore) -> None:
    urgent = make_ticket(store, "a", "urgent", category="complication", treatment="prp")
    booking = make_ticket(store, "b", "routine", category="booking", treatment="exosomes",
                          name="Zoë Brontë")  # fmt: skip
    closed = make_ticket(store, "c", "soon", category="callback", messages=["call me please"])
    store.set_status(closed.id, "closed")
    many = [make_ticket(store, f"m-{n}", "routine", messages=[f"q {n}"]) for n in range(25)]

    async def check(client: TestClient) -> None:
        async def shown(query: str) -> tuple[list[int], str]:
            response = await client.get(f"/staff?{query}", headers=BEARER)
            assert response.status == 200, query
            page = await response.text()
            return listed_ids(page), page

        assert (await shown("urgency=urgent"))[0] == [urgent.id]
        assert (await shown("category=booking"))[0] == [booking.id]
        assert (await shown("treatment=exosomes"))[0] == [booking.id]
        assert (await shown("status=closed"))[0] == [closed.id]
        assert (await shown("status=all&q=call+me"))[0] == [closed.id]
        assert (await shown("q=bront%C3%AB"))[0] == [booking.id]
        assert (await shown("q=call+me"))[0] == []  # closed is not in the default view

        first, page = await shown("")
        assert len(first) == 25 and first[0] == urgent.id
        assert "1 to 25 of 27 tickets" in page
        assert 'rel="next" href="/staff?page=2"' in page
        second, page = await shown("page=2")
        assert second == [t.id for t in many[-2:]]
        assert 'rel="prev" href="/staff"' in page
        # The filters stay selected, and every form goes back to the same view.
        _ids, page = await shown("urgency=urgent&q=swollen+cheek")
        assert '<option value="urgent" selected>' in page
        assert 'value="swollen cheek"' in page

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


@pytest.mark.parametrize(
    "query, notice",
    [
        ("status=deleted", "Unknown status &#x27;deleted&#x27;: showing every status."),
        ("urgency=%3Cscript%3E", "Unknown urgency &#x27;&lt;script&gt;&#x27;"),
        ("treatment=laser", "Unknown treatment &#x27;laser&#x27;"),
        ("page=-3", "Unknown page: showing the first."),
        (f"q={'x' * 300}", "Search for at most 200 characters"),
    ],
)
def test_a_view_it_does_not_understand_is_said_and_ignored(
    store: TicketStore, query: str, notice: str
) -> None:
    ticket = make_ticket(store, "a", "urgent")

    async def check(client: TestClient) -> None:
        response = await client.get(f"/staff?{query}", headers=BEARER)
        assert response.status == 200
        page = await response.text()
        assert notice in page
        if not query.startswith("q="):
            assert listed_ids(page) == [ticket.id]

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_status_forms_go_back_to_the_view_they_came_from(store: TicketStore) -> None:
    ticket = make_ticket(store, "a", "urgent", category="complication")

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff?status=all&urgency=urgent", headers=BEARER)).text()
        assert '<input type="hidden" name="view" value="status=all&amp;urgency=urgent">' in page
        path = f"/staff/tickets/{ticket.id}/status"
        for view, location in (
            ("urgency=urgent&q=x", f"/staff?urgency=urgent&q=x#ticket-{ticket.id}"),
            ("status=nonsense&page=2", f"/staff?page=2#ticket-{ticket.id}"),
            # Never an address from the form: only the view's own parameters, rewritten.
            ("//evil.example/", f"/staff#ticket-{ticket.id}"),
            ("next=https://evil.example/&q=a", f"/staff?q=a#ticket-{ticket.id}"),
        ):
            response = await client.post(
                path,
                headers=BEARER,
                data={"status": "contacted", "view": view},
                allow_redirects=False,
            )
            assert response.headers["Location"] == location, view

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_the_poll_returns_new_tickets_with_their_html(store: TicketStore) -> None:
    old = make_ticket(store, "a", "routine")

    async def check(client: TestClient) -> None:
        signed_out = await client.get(f"/staff/tickets.json?after={old.id}")
        assert signed_out.status == 401
        assert "signed out" in (await signed_out.json())["error"]
        bad = await client.get("/staff/tickets.json?after=latest", headers=BEARER)
        assert bad.status == 400

        nothing = await (
            await client.get(f"/staff/tickets.json?after={old.id}", headers=BEARER)
        ).json()
        assert (nothing["tickets"], nothing["latest_id"]) == ([], old.id)
        assert nothing["counts"] == {"open": 1, "contacted": 0, "closed": 0}

        urgent = make_ticket(store, "b", "urgent", category="complication",
                             name="<img src=x onerror=alert(1)>", messages=["help"])  # fmt: skip
        routine = make_ticket(store, "c", "routine")
        response = await client.get(f"/staff/tickets.json?after={old.id}", headers=BEARER)
        assert response.headers["Cache-Control"] == "no-store"
        found = await response.json()
        assert [t["id"] for t in found["tickets"]] == [urgent.id, routine.id]
        assert found["latest_id"] == routine.id and found["counts"]["open"] == 3
        first = found["tickets"][0]
        assert (first["urgency"], first["status"]) == ("urgent", "open")
        assert first["html"].startswith(f'<article id="ticket-{urgent.id}"')
        assert "<img" not in first["html"] and "&lt;img src=x" in first["html"]
        assert 'name="csrf_token"' not in first["html"]  # Bearer: no form token

        filtered = await client.get(
            f"/staff/tickets.json?after={old.id}&urgency=routine", headers=BEARER
        )
        assert [t["id"] for t in (await filtered.json())["tickets"]] == [routine.id]

        # A browser session's forms in the returned HTML carry its form token.
        await sign_in(client)
        page = await (await client.get("/staff")).text()
        polled = await (await client.get(f"/staff/tickets.json?after={old.id}")).json()
        assert f'value="{csrf_token(page)}"' in polled["tickets"][0]["html"]
        assert f'data-latest-id="{routine.id}"' in page

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_the_conversation_is_turns_with_button_titles_never_payloads(store: TicketStore) -> None:
    with_transcript = make_ticket(
        store,
        "a",
        "urgent",
        category="complication",
        messages=['/ask_cost{"treatment":"prp"}', "my cheek is swollen"],
        transcript=[
            {"by": "patient", "text": "Cost: PRP"},
            {"by": "assistant", "text": "PRP costs from £300 <b>confirmed</b>."},
            {"by": "patient", "text": "my cheek is swollen"},
        ],
    )
    old = make_ticket(
        store,
        "b",
        "routine",
        treatment="microneedling_prp",
        messages=['/compare_treatments{"treatment":["prp","exosomes"]}', '/ask_cost{"x":'],
    )
    long = make_ticket(
        store, "c", "routine", transcript=[{"by": "patient", "text": f"m{n}"} for n in range(9)]
    )

    async def check(client: TestClient) -> None:
        page = await (await client.get("/staff", headers=BEARER)).text()
        first = article(page, with_transcript.id)
        assert '<li class="turn patient"><span class="who">Patient</span>' in first
        assert f'<span class="who">{get_settings().assistant_name}</span>' in first
        assert "Cost: PRP" in first and "&lt;b&gt;confirmed&lt;/b&gt;" in first
        second = article(page, old.id)
        assert "Compare treatments · PRP (platelet-rich plasma) vs Exosomes" in second
        assert "Microneedling with PRP (vampire facial)" in second
        tickets = page[page.index('id="tickets"') :]
        assert "/ask_" not in tickets and "/compare" not in tickets
        assert "{&quot;" not in tickets and '{"' not in tickets
        # A long conversation: the last turns shown, the earlier ones folded away.
        third = article(page, long.id)
        assert "<summary>5 earlier messages</summary>" in third
        assert third.index("m4") < third.index("</details>") < third.index("m5")

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_a_staff_note_is_saved_with_the_form_token_escaped_and_searchable(
    store: TicketStore,
) -> None:
    ticket = make_ticket(store, "a", "soon", category="callback")

    async def check(client: TestClient) -> None:
        await sign_in(client)
        page = await (await client.get("/staff")).text()
        path = f"/staff/tickets/{ticket.id}/note"
        forged = await client.post(path, data={"note": "x"}, allow_redirects=False)
        assert forged.status == 403
        assert store.get(ticket.id).staff_note is None

        note = "Rang twice </textarea><script>alert(1)</script>"
        saved = await client.post(
            path,
            data={"note": note, "csrf_token": csrf_token(page), "view": "q=rang"},
            allow_redirects=False,
        )
        assert saved.status == 303
        assert saved.headers["Location"] == f"/staff?q=rang#ticket-{ticket.id}"
        assert store.get(ticket.id).staff_note == note
        page = await (await client.get("/staff?q=rang+twice")).text()
        assert listed_ids(page) == [ticket.id]
        assert "&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in page

        too_long = "word " * 300
        refused = await client.post(
            path, data={"note": too_long, "csrf_token": csrf_token(page)}, allow_redirects=False
        )
        assert refused.status == 400
        text = await refused.text()
        assert "A note is at most 1000 characters; this one has 1499" in text
        assert too_long.strip() in text  # nothing typed is lost
        assert store.get(ticket.id).staff_note == note

        missing = await client.post(
            f"/staff/tickets/{ticket.id + 9}/note",
            data={"note": "x", "csrf_token": csrf_token(page)},
        )
        assert missing.status == 404

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_the_header_counts_and_brand_and_the_static_files(store: TicketStore) -> None:
    make_ticket(store, "a", "urgent")
    closed = make_ticket(store, "b", "routine")
    store.set_status(closed.id, "closed")
    settings = get_settings()

    async def check(client: TestClient) -> None:
        response = await client.get("/staff", headers=BEARER)
        page = await response.text()
        assert f":root {{ --brand: {settings.brand_colour}; }}" in page
        assert settings.name in page and settings.assistant_name in page
        assert '<a href="/staff?status=open" data-count="open"><b>1</b> open</a>' in page
        assert '<a href="/staff?status=closed" data-count="closed"><b>1</b> closed</a>' in page
        assert '<a href="/staff/report">What patients asked</a>' in page
        assert '<a href="/staff" aria-current="page">Inbox</a>' in page
        for name, kind in (("staff.js", "javascript"), ("staff.css", "text/css")):
            served = await client.get(f"/staff/static/{name}")
            assert served.status == 200, name
            assert kind in served.headers["Content-Type"]
            assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert (await client.get("/staff/static/../staff.py")).status in (403, 404)
        # The sign-in page uses the same style sheet.
        assert "/staff/static/staff.css" in await (await client.get("/staff")).text()

    run_with_client(create_app(staff_token=TOKEN, ticket_store=store), check)


def test_the_new_routes_are_off_without_a_token(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv(STAFF_TOKEN_ENV, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(tmp_path / "unused.db"))

    async def check(client: TestClient) -> None:
        assert (await client.get("/staff/tickets.json?after=0")).status == 503
        assert (await client.post("/staff/tickets/1/note", data={"note": "x"})).status == 503

    run_with_client(create_app(), check)


@pytest.mark.parametrize(
    "moment, now, words",
    [
        ("2026-12-03T14:05:00+00:00", "2026-12-03T18:00:00+00:00", "Today 14:05"),
        ("2026-12-02T09:30:00+00:00", "2026-12-03T08:00:00+00:00", "Yesterday 09:30"),
        ("2026-12-01T09:30:00+00:00", "2026-12-03T08:00:00+00:00", "Tue 1 Dec 09:30"),
        ("2025-12-29T09:30:00+00:00", "2026-01-03T08:00:00+00:00", "Mon 29 Dec 2025 09:30"),
        # Summer time: 23:30 UTC is already tomorrow in London.
        ("2026-07-01T23:30:00+00:00", "2026-07-02T10:00:00+00:00", "Today 00:30"),
    ],
)
def test_times_are_in_the_clinics_zone_in_words(moment: str, now: str, words: str) -> None:
    zone = ZoneInfo("Europe/London")
    parse = datetime.datetime.fromisoformat
    assert when(parse(moment), parse(now), zone) == words


def test_staff_page_is_the_shared_chrome_for_other_staff_pages() -> None:
    body = "<p>Report</p>"
    bearer = staff_page("Report", body, auth=StaffAuth("bearer"), active="report")
    assert '<a href="/staff/report" aria-current="page">What patients asked</a>' in bearer
    assert '<a href="/staff">Inbox</a>' in bearer
    assert "Sign out" not in bearer and "<script" not in bearer
    assert "<main><p>Report</p></main>" in bearer
    cookie = staff_page("Report", body, auth=StaffAuth("cookie", csrf="tok"), active="report")
    assert 'action="/staff/logout"' in cookie and 'value="tok"' in cookie
