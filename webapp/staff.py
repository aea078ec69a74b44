"""The front-desk inbox at ``/staff``: open tickets, most urgent first, and their status.

Access needs the staff token (``$CLINIC_STAFF_TOKEN``, at least 32 characters: a shorter one
stops the app at start), either as ``Authorization: Bearer <token>`` or typed once into the
sign-in form, which starts a browser session. Without the variable every ``/staff`` route
answers 503 rather than being open to anyone.

- ``GET /staff``: the inbox (401 with the sign-in form without a valid token or session).
  Query parameters choose the view, so a filtered view is a link: ``status`` (``active``,
  the default: open and contacted; ``open``, ``contacted``, ``closed``, ``all``),
  ``urgency``, ``category``, ``treatment`` (an id), ``q`` (words searched for in what the
  patient wrote, the contact details and the staff note) and ``page`` (25 a page);
- ``GET /staff/tickets.json?after=<id>&...`` (the same filters): tickets newer than ``after``
  with their HTML, the counts per status and the newest id, which ``static/staff.js`` polls
  every few seconds so new tickets appear without a reload;
- ``POST /staff/login``, ``POST /staff/logout``: start or end a browser session;
- ``POST /staff/tickets/{id}/status`` (form field ``status``): open, contacted or closed;
  ``POST /staff/tickets/{id}/note`` (form field ``note``): the staff note. Both redirect back
  to the view in the form's ``view`` field. Cookie sessions must also send the form's
  ``csrf_token`` (another site could make a signed-in browser POST; it cannot read the
  token). Bearer requests need none: browsers never add that header by themselves;
- ``GET /staff/static/...``: the inbox's style sheet and script (``webapp/static``).

Sign-in hardening:

- Wrong tokens (form or Bearer) are counted per client address and overall over a sliding
  window (``SignInLimits``: 5 per address, 50 overall, per 5 minutes). Past a limit every
  token attempt gets 429 with ``Retry-After``, the right token included (else the lock would
  still answer guesses); sessions already signed in keep working. A success resets nothing:
  staff sharing an address with a guesser would otherwise hand the guesser fresh attempts.
- The client address is the connection's peer, or, with ``$CLINIC_TRUST_PROXY=1`` (behind
  nginx), the first ``X-Forwarded-For`` hop; IPv6 addresses are counted per /64. The outermost
  proxy must overwrite that header (``proxy_set_header X-Forwarded-For $remote_addr``): a
  client-sent first hop would let one guesser pass for many (the overall limit still holds).
- Every refusal is logged at WARNING with the address, the reason and the failure counts;
  never the token or any part of it.
- Sessions live in this process's memory (a random id, signed, in the cookie): signing out
  revokes the session, so a copied cookie stops working; a restart signs everyone out. The
  cookie is HttpOnly, SameSite=Strict, and Secure when the request came over HTTPS (directly,
  or ``X-Forwarded-Proto: https`` from a trusted proxy).

Patient text is untrusted: everything from a ticket is HTML-escaped (also in the HTML the
JSON endpoint returns), and the page's Content-Security-Policy allows scripts from this app
only (``script-src 'self'``: no inline script, no other origin) and connections back to it.
Without JavaScript the inbox still works: the list is rendered here and every form posts and
redirects back.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import ipaddress
import logging
import math
import os
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from clinic import clock
from clinic.frontdesk import get_store
from clinic.frontdesk.store import (
    ACTIVE_STATUSES,
    CATEGORIES,
    MAX_NOTE_CHARS,
    MAX_SEARCH_CHARS,
    STATUSES,
    URGENCIES,
    Ticket,
    TicketFilter,
    TicketNotFoundError,
    TicketPage,
    TicketStore,
)
from clinic.knowledge import get_knowledge
from clinic.payloads import payload_words, treatment_name
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

STAFF_TOKEN_ENV = "CLINIC_STAFF_TOKEN"
TRUST_PROXY_ENV = "CLINIC_TRUST_PROXY"
MIN_TOKEN_LENGTH = 32
MAKE_TOKEN_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
SESSION_COOKIE = "clinic_staff_session"
SESSION_SECONDS = 12 * 3600  # one working day, then sign in again
# Sessions are only made with the right token; the cap bounds memory even so.
MAX_LIVE_SESSIONS = 1000

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"", "0", "false", "no", "off"}

SECURITY_HEADERS = {
    "Cache-Control": "no-store",  # patient data must not stay in shared caches
    "Content-Security-Policy": (
        # Scripts only as files from this app (webapp/static): no inline script can run,
        # so escaped-but-mistaken patient text could never become code.
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/staff/static"
PAGE_SIZE = 25
SHOWN_TURNS = 4  # of a ticket's conversation, the rest behind "earlier messages"
POLL_LIMIT = 50  # new tickets one poll returns; more than that, and the page says reload

STATUS_ACTIONS = {"contacted": "Mark contacted", "closed": "Close", "open": "Reopen"}
# The keyboard shortcut (static/staff.js) that presses each status button.
STATUS_KEYS = {"contacted": "c", "closed": "x"}
STATUS_LABELS = {"open": "Open", "contacted": "Contacted", "closed": "Closed"}
GROUP_HEADINGS = {"open": "Open", "contacted": "Contacted, not closed yet", "closed": "Closed"}
URGENCY_LABELS = {"urgent": "Urgent", "soon": "Soon", "routine": "Routine"}
CATEGORY_LABELS = {
    "complication": "Complication",
    "booking": "Booking",
    "callback": "Call-back",
    "question": "Question",
}
# The status filter: the key in the URL, its label and the statuses it shows.
STATUS_VIEWS: dict[str, tuple[str, tuple[str, ...]]] = {
    "active": ("Open and contacted", ACTIVE_STATUSES),
    "open": ("Open", ("open",)),
    "contacted": ("Contacted", ("contacted",)),
    "closed": ("Closed", ("closed",)),
    "all": ("All", STATUSES),
}
SHORTCUTS = (
    ("j", "next ticket"),
    ("k", "previous ticket"),
    ("c", "mark the selected ticket contacted"),
    ("x", "close the selected ticket"),
    ("/", "search"),
    ("?", "show or hide these shortcuts"),
)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def checked_staff_token(token: str) -> str:
    """``token`` stripped; refuses a non-empty one too short to resist guessing."""
    token = token.strip()
    if token and len(token) < MIN_TOKEN_LENGTH:
        # Never echo the token (or its length) back: this message ends up in logs.
        raise ValueError(
            f"the staff token (${STAFF_TOKEN_ENV}) is shorter than {MIN_TOKEN_LENGTH} "
            f"characters; make a random one with: {MAKE_TOKEN_COMMAND}"
        )
    return token


def trust_proxy_from_env() -> bool:
    """``$CLINIC_TRUST_PROXY``: 1/true/yes/on, or 0/false/no/off/unset."""
    raw = os.environ.get(TRUST_PROXY_ENV, "").strip().lower()
    if raw not in TRUE_WORDS | FALSE_WORDS:
        # Guessing either way is wrong here: refuse to start instead.
        raise ValueError(f"${TRUST_PROXY_ENV} must be 1 or 0, not {raw!r}")
    return raw in TRUE_WORDS


def first_header_value(request: web.Request, name: str) -> str:
    """The first comma-separated item of header ``name``: the hop the client connected from."""
    return request.headers.get(name, "").split(",")[0].strip()


def client_address(request: web.Request, *, trust_proxy: bool) -> str:
    """The connection's peer, or the first ``X-Forwarded-For`` hop from a trusted proxy."""
    if trust_proxy:
        try:
            # Parsing also keeps whatever else a client wrote there out of the logs.
            return str(ipaddress.ip_address(first_header_value(request, "X-Forwarded-For")))
        except ValueError:
            pass  # missing or malformed: count it against the proxy itself
    return request.remote or "unknown"


def throttle_key(address: str) -> str:
    """What failures are counted against: the address, or its /64 for IPv6 (one end user
    usually holds a whole /64 and could otherwise switch address after every guess)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def is_https(request: web.Request, *, trust_proxy: bool) -> bool:
    if request.secure:
        return True
    return trust_proxy and first_header_value(request, "X-Forwarded-Proto").lower() == "https"


@dataclass(frozen=True)
class SignInLimits:
    """Wrong tokens allowed in any ``window_seconds``, from one address and from all."""

    per_address: int = 5
    overall: int = 50
    window_seconds: float = 300.0


@dataclass(frozen=True)
class Lockout:
    reason: str  # "address_locked_out" or "all_addresses_locked_out"
    retry_after: int  # whole seconds, as the Retry-After header wants


class FailedSignIns:
    """Wrong tokens of the last window, per throttle key and overall (a sliding log).

    Attempts refused by a limit are not recorded, so the log never holds more than
    ``limits.overall`` entries, however long an attack lasts.
    """

    def __init__(self, limits: SignInLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._overall: deque[float] = deque()
        self._by_key: dict[str, deque[float]] = {}

    def _forget_old(self) -> float:
        now = self._clock()
        cutoff = now - self.limits.window_seconds
        for times in (self._overall, *self._by_key.values()):
            while times and times[0] <= cutoff:
                times.popleft()
        self._by_key = {key: times for key, times in self._by_key.items() if times}
        return now

    def counts(self, key: str) -> tuple[int, int]:
        """Failures in the window: from ``key``, and from everyone."""
        self._forget_old()
        return len(self._by_key.get(key, ())), len(self._overall)

    def lockout(self, key: str) -> Lockout | None:
        """Why ``key`` may not try a token now and for how long, or None if it may."""
        now = self._forget_old()
        waits = []
        for times, limit, reason in (
            (self._by_key.get(key, deque()), self.limits.per_address, "address_locked_out"),
            (self._overall, self.limits.overall, "all_addresses_locked_out"),
        ):
            if len(times) >= limit:
                # Free again once the entry that makes the count reach the limit leaves.
                freed_at = times[len(times) - limit] + self.limits.window_seconds
                waits.append((freed_at - now, reason))
        if not waits:
            return None
        wait, reason = max(waits)
        return Lockout(reason, max(1, math.ceil(wait)))

    def record(self, key: str) -> None:
        now = self._forget_old()
        self._overall.append(now)
        self._by_key.setdefault(key, deque()).append(now)


@dataclass(frozen=True)
class StaffSession:
    csrf: str  # the form token this session's POSTs must carry
    expires_at: float  # on the monotonic clock


class StaffSessions:
    """The live browser sessions, in this process's memory: a restart signs everyone out.

    The cookie holds a random session id and its HMAC under a per-process key, so made-up
    cookies are refused before any lookup.
    """

    def __init__(
        self,
        lifetime_seconds: float = SESSION_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._live: dict[str, StaffSession] = {}

    def _sign(self, session_id: str) -> str:
        return hmac.new(self._key, session_id.encode(), hashlib.sha256).hexdigest()

    def _session_id(self, cookie: str) -> str | None:
        session_id, _, signature = cookie.partition(".")
        # compare_digest takes ASCII strings only, and real cookies are nothing else.
        if (
            session_id
            and cookie.isascii()
            and hmac.compare_digest(signature, self._sign(session_id))
        ):
            return session_id
        return None

    def start(self) -> str:
        """A new session; returns the cookie value."""
        now = self._clock()
        # One lifetime for all: the oldest sessions come first and expire first.
        for session_id, session in list(self._live.items()):
            if session.expires_at > now and len(self._live) < MAX_LIVE_SESSIONS:
                break
            del self._live[session_id]
        session_id = secrets.token_urlsafe(32)
        self._live[session_id] = StaffSession(
            csrf=secrets.token_urlsafe(32), expires_at=now + self.lifetime_seconds
        )
        return f"{session_id}.{self._sign(session_id)}"

    def find(self, cookie: str) -> StaffSession | None:
        """The live session of ``cookie``, or None (made up, expired or signed out)."""
        session_id = self._session_id(cookie)
        session = self._live.get(session_id) if session_id else None
        if session is not None and session.expires_at <= self._clock():
            del self._live[session_id]
            return None
        return session

    def end(self, cookie: str) -> bool:
        """Revoke the session of ``cookie``; False if it was not live."""
        session_id = self._session_id(cookie)
        return session_id is not None and self._live.pop(session_id, None) is not None


@dataclass(frozen=True)
class StaffAuth:
    """Who is asking: ``csrf`` is the form token a cookie session must send back."""

    via: str  # "bearer" or "cookie"
    csrf: str | None = None


class StaffInbox:
    def __init__(
        self,
        token: str,
        store: TicketStore | None = None,
        *,
        limits: SignInLimits | None = None,
        trust_proxy: bool = False,
        session_seconds: float = SESSION_SECONDS,
    ) -> None:
        # Compared as digests, so the comparison takes the same time whatever the length.
        self._token_digest = hashlib.sha256(token.encode()).digest()
        self._store = store
        self.trust_proxy = trust_proxy
        self.failures = FailedSignIns(limits or SignInLimits())
        self.sessions = StaffSessions(session_seconds)

    @property
    def store(self) -> TicketStore:
        # Looked up on first use, so the demo page alone never opens the database.
        return self._store or get_store()

    # -- authentication ---------------------------------------------------------------

    def token_matches(self, candidate: str) -> bool:
        # surrogateescape: aiohttp keeps a header's undecodable bytes that way.
        digest = hashlib.sha256(candidate.strip().encode("utf-8", "surrogateescape")).digest()
        return hmac.compare_digest(digest, self._token_digest)

    def log_refusal(self, address: str, reason: str) -> None:
        # The address, why and how often: never the token, not even a piece of a wrong one.
        from_address, overall = self.failures.counts(throttle_key(address))
        logger.warning(
            "staff access refused: address=%s reason=%s wrong_tokens_from_address=%d "
            "wrong_tokens_overall=%d window=%ds",
            address,
            reason,
            from_address,
            overall,
            self.failures.limits.window_seconds,
        )

    def check_token(self, request: web.Request, candidate: str, via: str) -> Lockout | bool:
        """Whether ``candidate`` is the token, or the lockout that stops it being tried."""
        address = client_address(request, trust_proxy=self.trust_proxy)
        key = throttle_key(address)
        lockout = self.failures.lockout(key)
        if lockout is not None:
            self.log_refusal(address, lockout.reason)
            return lockout
        if self.token_matches(candidate):
            return True
        self.failures.record(key)
        self.log_refusal(address, f"wrong_token_{via}")
        return False

    def authenticate(self, request: web.Request) -> StaffAuth | None:
        """The Bearer token or the session cookie; raises 429 while token attempts are locked."""
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            checked = self.check_token(request, credentials, "bearer")
            if isinstance(checked, Lockout):
                raise web.HTTPTooManyRequests(
                    text=f"too many wrong tokens: try again in {checked.retry_after} s",
                    headers={"Retry-After": str(checked.retry_after)},
                )
            return StaffAuth("bearer") if checked else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        session = self.sessions.find(cookie)
        if session is None:
            address = client_address(request, trust_proxy=self.trust_proxy)
            self.log_refusal(address, "unknown_expired_or_signed_out_session")
            return None
        return StaffAuth("cookie", csrf=session.csrf)

    def signed_out_page(self, request: web.Request) -> web.Response:
        response = login_page(status=401)
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and self.sessions.find(cookie) is None:
            # A dead session cookie: drop it, so the browser stops sending it.
            response.del_cookie(SESSION_COOKIE, path="/staff")
        return response

    # -- handlers -----------------------------------------------------------------------

    async def inbox(self, request: web.Request) -> web.Response:
        auth = self.authenticate(request)
        if auth is None:
            return self.signed_out_page(request)
        view, problems = InboxView.from_query(request.query)
        store = self.store

        def read() -> tuple[TicketPage, dict[str, int], int]:
            found = store.search_tickets(
                view.ticket_filter(), limit=PAGE_SIZE, offset=(view.page - 1) * PAGE_SIZE
            )
            return found, store.count_by_status(), store.latest_id()

        found, counts, latest = await asyncio.to_thread(read)
        return html_response(inbox_page(view, found, counts, latest, auth, problems))

    async def tickets_json(self, request: web.Request) -> web.Response:
        """New tickets since ``after`` for the open page's script (the same filters)."""
        auth = self.authenticate(request)
        if auth is None:
            return web.json_response({"error": "signed out: reload to sign in"}, status=401)
        view, _problems = InboxView.from_query(request.query)
        try:
            after = int(request.query.get("after", "0"))
        except ValueError:
            return web.json_response({"error": "after must be a ticket id"}, status=400)
        store = self.store

        def read() -> tuple[TicketPage, dict[str, int], int]:
            found = store.search_tickets(view.ticket_filter(after_id=after), limit=POLL_LIMIT)
            return found, store.count_by_status(), store.latest_id()

        found, counts, latest = await asyncio.to_thread(read)
        csrf = csrf_field(auth)
        now, zone = clock.now(), get_settings().time_zone
        return web.json_response(
            {
                "latest_id": latest,
                "counts": counts,
                "more": found.total > len(found.tickets),
                "tickets": [
                    {
                        "id": ticket.id,
                        "status": ticket.status,
                        "urgency": ticket.urgency,
                        "html": ticket_html(ticket, csrf, view, now=now, zone=zone),
                    }
                    for ticket in found.tickets
                ],
            }
        )

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        checked = self.check_token(request, str(form.get("token", "")), "form")
        if isinstance(checked, Lockout):
            minutes = math.ceil(checked.retry_after / 60)
            response = login_page(
                status=429,
                error=f"Too many wrong tokens. Try again in {minutes} minute"
                f"{'' if minutes == 1 else 's'}.",
            )
            response.headers["Retry-After"] = str(checked.retry_after)
            return response
        if not checked:
            return login_page(status=401, error="That token is not right.")
        address = client_address(request, trust_proxy=self.trust_proxy)
        logger.info("staff signed in: address=%s", address)
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            self.sessions.end(previous)  # signing in again replaces the old session
        response = web.HTTPSeeOther("/staff")
        response.set_cookie(
            SESSION_COOKIE,
            self.sessions.start(),
            max_age=math.ceil(self.sessions.lifetime_seconds),
            path="/staff",
            httponly=True,
            samesite="Strict",
            secure=is_https(request, trust_proxy=self.trust_proxy),
        )
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        # Revoked on the server: a copy of the cookie taken before is worthless from now on.
        self.sessions.end(request.cookies.get(SESSION_COOKIE, ""))
        response = web.HTTPSeeOther("/staff")
        response.del_cookie(SESSION_COOKIE, path="/staff")
        raise response

    async def _signed_form(self, request: web.Request) -> web.Response | Mapping[str, Any]:
        """The POSTed form of a signed-in member of staff, or the response refusing it."""
        auth = self.authenticate(request)
        if auth is None:
            return self.signed_out_page(request)
        form = await request.post()
        sent_csrf = str(form.get("csrf_token", "")).encode("utf-8", "surrogateescape")
        if auth.csrf is not None and not hmac.compare_digest(sent_csrf, auth.csrf.encode()):
            address = client_address(request, trust_proxy=self.trust_proxy)
            self.log_refusal(address, "missing_or_wrong_form_token")
            return plain_response("missing or wrong form token: reload the inbox", status=403)
        return form

    async def set_status(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        if isinstance(form, web.StreamResponse):
            return form
        status = str(form.get("status", ""))
        if status not in STATUSES:
            return plain_response(f"status must be one of {', '.join(STATUSES)}", status=400)
        try:
            ticket_id = int(request.match_info["ticket_id"])
            await asyncio.to_thread(self.store.set_status, ticket_id, status)
        except (ValueError, TicketNotFoundError):
            return plain_response("no such ticket", status=404)
        raise web.HTTPSeeOther(back_to(form, ticket_id))

    async def set_note(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        if isinstance(form, web.StreamResponse):
            return form
        note = str(form.get("note", ""))
        try:
            ticket_id = int(request.match_info["ticket_id"])
        except ValueError:
            return plain_response("no such ticket", status=404)
        if len(note.strip()) > MAX_NOTE_CHARS:
            # Shown again in full, so nothing typed is lost.
            return html_response(note_too_long_page(note, back_to(form, ticket_id)), status=400)
        try:
            await asyncio.to_thread(self.store.set_staff_note, ticket_id, note)
        except TicketNotFoundError:
            return plain_response("no such ticket", status=404)
        raise web.HTTPSeeOther(back_to(form, ticket_id))


# The signed-in staff's inbox, for other staff pages (the report) to check sign-in with.
STAFF_INBOX = web.AppKey("staff_inbox", StaffInbox)


def add_staff_routes(
    app: web.Application,
    *,
    token: str | None = None,
    store: TicketStore | None = None,
    trust_proxy: bool | None = None,
    limits: SignInLimits | None = None,
    session_seconds: float = SESSION_SECONDS,
) -> None:
    """The inbox routes; ``token`` defaults to ``$CLINIC_STAFF_TOKEN``, ``store`` to the
    store from the environment (``clinic.frontdesk.get_store``), ``trust_proxy`` to
    ``$CLINIC_TRUST_PROXY``. Raises ValueError for a token shorter than 32 characters."""
    token = checked_staff_token(os.environ.get(STAFF_TOKEN_ENV, "") if token is None else token)
    trust_proxy = trust_proxy_from_env() if trust_proxy is None else trust_proxy
    app.on_response_prepare.append(_security_headers)
    if not token:
        # Never open: without a token every /staff route says it is not configured.
        for method, path in (
            ("GET", "/staff"),
            ("GET", "/staff/tickets.json"),
            ("POST", "/staff/login"),
            ("POST", "/staff/logout"),
            ("POST", "/staff/tickets/{ticket_id}/status"),
            ("POST", "/staff/tickets/{ticket_id}/note"),
        ):
            app.router.add_route(method, path, not_configured)
        return
    inbox = StaffInbox(
        token, store, limits=limits, trust_proxy=trust_proxy, session_seconds=session_seconds
    )
    app[STAFF_INBOX] = inbox
    app.router.add_get("/staff", inbox.inbox)
    app.router.add_get("/staff/tickets.json", inbox.tickets_json)
    app.router.add_post("/staff/login", inbox.login)
    app.router.add_post("/staff/logout", inbox.logout)
    app.router.add_post("/staff/tickets/{ticket_id}/status", inbox.set_status)
    app.router.add_post("/staff/tickets/{ticket_id}/note", inbox.set_note)
    # The style sheet and script hold nothing private: the sign-in page needs them too.
    app.router.add_static(f"{STATIC_PREFIX}/", STATIC_DIR)


async def not_configured(request: web.Request) -> web.Response:
    return plain_response(
        f"staff inbox not configured: set {STAFF_TOKEN_ENV} to enable it", status=503
    )


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/staff" or request.path.startswith("/staff/"):
        response.headers.update(SECURITY_HEADERS)


def plain_response(text: str, *, status: int) -> web.Response:
    return web.Response(text=text, status=status, headers={"Cache-Control": "no-store"})


def html_response(body: str, *, status: int = 200) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="staff"'} if status == 401 else None
    return web.Response(text=body, status=status, content_type="text/html", headers=headers)


# -- the view: filters and page, read from and written to the query string ---------------


@dataclass(frozen=True)
class InboxView:
    """What the inbox shows: the query string's filters and page (defaults: open and
    contacted tickets of every kind, page 1)."""

    status: str = "active"
    urgency: str = ""
    category: str = ""
    treatment: str = ""
    text: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> tuple[InboxView, list[str]]:
        """The view a query string asks for, and what in it was not understood (ignored,
        and said so on the page)."""
        problems: list[str] = []

        def choice(name: str, allowed: Mapping[str, object] | tuple[str, ...], default: str):
            value = str(query.get(name, "") or "").strip()
            if value and value not in allowed:
                problems.append(f"Unknown {name} {value[:40]!r}: showing every {name}.")
                return default
            return value or default

        text = " ".join(str(query.get("q", "")).split())
        if len(text) > MAX_SEARCH_CHARS:
            problems.append(f"Search for at most {MAX_SEARCH_CHARS} characters: shortened.")
            text = text[:MAX_SEARCH_CHARS]
        raw_page = str(query.get("page", "1") or "1")
        page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 100_000 else 1
        if page == 1 and raw_page != "1":
            problems.append("Unknown page: showing the first.")
        view = cls(
            status=choice("status", STATUS_VIEWS, "active"),
            urgency=choice("urgency", URGENCIES, ""),
            category=choice("category", CATEGORIES, ""),
            treatment=choice("treatment", tuple(get_knowledge().treatments), ""),
            text=text,
            page=page,
        )
        return view, problems

    def ticket_filter(self, after_id: int | None = None) -> TicketFilter:
        return TicketFilter(
            statuses=STATUS_VIEWS[self.status][1],
            urgencies=(self.urgency,) if self.urgency else (),
            categories=(self.category,) if self.category else (),
            treatments=(self.treatment,) if self.treatment else (),
            text=self.text,
            after_id=after_id,
        )

    def query(self, **changes: Any) -> str:
        """The query string of this view with ``changes`` (defaults left out)."""
        view = replace(self, **changes)
        pairs = [
            ("status", view.status if view.status != "active" else ""),
            ("urgency", view.urgency),
            ("category", view.category),
            ("treatment", view.treatment),
            ("q", view.text),
            ("page", str(view.page) if view.page != 1 else ""),
        ]
        return urlencode([(name, value) for name, value in pairs if value])

    def href(self, **changes: Any) -> str:
        query = self.query(**changes)
        return f"/staff?{query}" if query else "/staff"

    @property
    def filtered(self) -> bool:
        return self != InboxView(page=self.page)


def back_to(form: Mapping[str, Any], ticket_id: int) -> str:
    """Where a form goes back to: the view in its ``view`` field, parsed and written anew
    (never an address taken as given), at the ticket."""
    query = str(form.get("view", ""))
    view, _problems = InboxView.from_query(dict(parse_qsl(query)))
    return f"{view.href()}#ticket-{ticket_id}"


# -- words for staff: times in the clinic's zone, names instead of ids ----------------------


def when(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """``Today 14:05``, ``Yesterday 09:30``, ``Mon 1 Dec 09:30`` (with the year when it is
    not this year), in the clinic's time zone."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    time_of_day = f"{local:%H:%M}"
    if local.date() == today:
        return f"Today {time_of_day}"
    if local.date() == today - timedelta(days=1):
        return f"Yesterday {time_of_day}"
    day = f"{local:%a} {local.day} {local:%b}"
    if local.year != today.year:
        day += f" {local.year}"
    return f"{day} {time_of_day}"


def time_html(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    local = moment.astimezone(zone)
    full = f"{local:%A} {local.day} {local:%B %Y, %H:%M} ({zone.key})"
    return (
        f'<time datetime="{esc(moment.isoformat())}" title="{esc(full)}">'
        f"{esc(when(moment, now, zone))}</time>"
    )


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# -- the pages ----------------------------------------------------------------------------


STAFF_PAGES = {"inbox": ("/staff", "Inbox"), "report": ("/staff/report", "What patients asked")}


def csrf_field(auth: StaffAuth) -> str:
    """The hidden form-token field every POST form of a cookie session carries."""
    if not auth.csrf:
        return ""
    return f'<input type="hidden" name="csrf_token" value="{esc(auth.csrf)}">'


def page(title: str, body: str, *, refresh: bool = False, script: bool = False) -> str:
    """A whole staff HTML page: the style sheet, the clinic's colour, and with ``script``
    the inbox's script (a file: the policy allows no inline script). ``refresh`` reloads it
    every minute (for pages without the script)."""
    settings = get_settings()
    meta = '<meta http-equiv="refresh" content="60">' if refresh else ""
    # The colour is validated '#rrggbb' in the settings; escaped all the same.
    brand = f"<style>:root {{ --brand: {esc(settings.brand_colour)}; }}</style>"
    scripts = f'<script src="{STATIC_PREFIX}/staff.js" defer></script>' if script else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{STATIC_PREFIX}/staff.css">{brand}{scripts}'
        f"</head><body>{body}</body></html>"
    )


def staff_page(
    title: str,
    body: str,
    *,
    auth: StaffAuth,
    active: str,
    counts: Mapping[str, int] | None = None,
    script: bool = False,
) -> str:
    """A signed-in staff page: the header (the clinic, the navigation between the staff
    pages, ``active`` being a key of :data:`STAFF_PAGES`; with ``counts``, tickets per
    status; the sign-out button for browser sessions), then ``body`` in ``<main>``."""
    settings = get_settings()
    logout = (
        f'<form class="signout" method="post" action="/staff/logout">{csrf_field(auth)}'
        '<button type="submit" class="quiet">Sign out</button></form>'
        if auth.via == "cookie"
        else ""
    )
    current = ' aria-current="page"'
    links = "".join(
        f'<a href="{href}"{current if key == active else ""}>{esc(label)}</a>'
        for key, (href, label) in STAFF_PAGES.items()
    )
    tally = ""
    if counts is not None:
        tally = (
            '<ul class="counts" aria-label="Tickets by status">'
            + "".join(
                f'<li><a href="{InboxView(status=status).href()}" data-count="{status}">'
                f"<b>{counts.get(status, 0)}</b> {esc(label.lower())}</a></li>"
                for status, label in STATUS_LABELS.items()
            )
            + "</ul>"
        )
    header = (
        '<header class="topbar"><div class="brand">'
        f'<span class="clinic">{esc(settings.name)}</span>'
        f'<span class="assistant">{esc(settings.assistant_name)} · front desk</span></div>'
        f'<nav class="pages">{links}</nav>{tally}{logout}</header>'
    )
    return page(title, f"{header}<main>{body}</main>", script=script)


def login_page(*, status: int, error: str | None = None) -> web.Response:
    settings = get_settings()
    message = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = (
        '<main class="signin"><div class="card">'
        f'<p class="clinic">{esc(settings.name)}</p>'
        "<h1>Front-desk inbox</h1><p>Sign in with the staff token.</p>"
        f"{message}"
        '<form method="post" action="/staff/login">'
        '<label for="token">Staff token</label>'
        '<input id="token" name="token" type="password" autocomplete="current-password" required>'
        '<button type="submit">Sign in</button></form></div></main>'
    )
    return html_response(page("Sign in: front-desk inbox", body), status=status)


def note_too_long_page(note: str, back: str) -> str:
    body = (
        '<main class="signin"><div class="card">'
        f'<h1>That note is too long</h1><p role="alert">A note is at most {MAX_NOTE_CHARS} '
        f"characters; this one has {len(note.strip())}. Nothing was saved. Here is your text to "
        "shorten and paste back:</p>"
        f'<textarea readonly rows="8">{esc(note)}</textarea>'
        f'<p><a href="{esc(back)}">Back to the inbox</a></p></div></main>'
    )
    return page("Note too long", body)


def filters_html(view: InboxView) -> str:
    def options(current: str, choices: list[tuple[str, str]]) -> str:
        return "".join(
            f'<option value="{esc(value)}"{" selected" if value == current else ""}>'
            f"{esc(label)}</option>"
            for value, label in choices
        )

    treatments = [(t.id, t.name) for t in get_knowledge().treatments.values()]
    selects = (
        ("status", "Status", view.status, [(k, v[0]) for k, v in STATUS_VIEWS.items()]),
        ("urgency", "Urgency", view.urgency, [("", "Any urgency"), *URGENCY_LABELS.items()]),
        ("category", "Kind", view.category, [("", "Any kind"), *CATEGORY_LABELS.items()]),
        ("treatment", "Treatment", view.treatment, [("", "Any treatment"), *treatments]),
    )
    fields = "".join(
        f'<label class="field"><span>{label}</span>'
        f'<select name="{name}" id="filter-{name}">{options(current, choices)}</select></label>'
        for name, label, current, choices in selects
    )
    clear = '<a class="clear" href="/staff">Clear</a>' if view.filtered else ""
    return (
        '<form class="filters" method="get" action="/staff" role="search">'
        '<label class="field search"><span>Search</span>'
        f'<input type="search" name="q" id="search" value="{esc(view.text)}" '
        f'maxlength="{MAX_SEARCH_CHARS}" placeholder="Name, phone, email, message, note">'
        f"</label>{fields}"
        f'<button type="submit">Show</button>{clear}</form>'
    )


def pager_html(view: InboxView, total: int) -> str:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    if pages == 1:
        return ""
    links = []
    if view.page > 1:
        links.append(f'<a rel="prev" href="{esc(view.href(page=view.page - 1))}">← Previous</a>')
    links.append(f'<span class="where">Page {view.page} of {pages}</span>')
    if view.page < pages:
        links.append(f'<a rel="next" href="{esc(view.href(page=view.page + 1))}">Next →</a>')
    return f'<nav class="pager" aria-label="Pages">{"".join(links)}</nav>'


def shortcuts_html() -> str:
    rows = "".join(f"<dt><kbd>{esc(key)}</kbd></dt><dd>{esc(what)}</dd>" for key, what in SHORTCUTS)
    return (
        '<aside id="shortcuts" class="shortcuts" hidden aria-label="Keyboard shortcuts">'
        f"<h2>Keyboard shortcuts</h2><dl>{rows}</dl>"
        "<p>Keys are ignored while you type in a field. <kbd>Esc</kbd> closes this.</p></aside>"
    )


def inbox_page(
    view: InboxView,
    found: TicketPage,
    counts: Mapping[str, int],
    latest_id: int,
    auth: StaffAuth,
    problems: list[str] | None = None,
) -> str:
    csrf = csrf_field(auth)
    now, zone = clock.now(), get_settings().time_zone
    first = (view.page - 1) * PAGE_SIZE
    body = [filters_html(view)]
    body.extend(f'<p class="notice" role="status">{esc(problem)}</p>' for problem in problems or ())
    if found.total:
        shown = f"{first + 1} to {first + len(found.tickets)} of {plural(found.total, 'ticket')}"
    else:
        shown = "No tickets"
    body.append(
        f'<div class="summary"><p id="shown" data-first="{first + 1}" '
        f'data-shown="{len(found.tickets)}" data-total="{found.total}">{esc(shown)}</p>'
        '<p class="hint">Press <kbd>?</kbd> for keyboard shortcuts</p></div>'
        '<p id="arrived" class="arrived" hidden role="status"></p>'
    )
    items: list[str] = []
    groups = [status for status in STATUSES if status in STATUS_VIEWS[view.status][1]]
    for status in groups:
        in_group = [t for t in found.tickets if t.status == status]
        # The open heading always, so new tickets have a place; the others when they show.
        if in_group or (status == "open" and view.page == 1):
            items.append(
                f'<h2 class="group" data-group="{status}">{esc(GROUP_HEADINGS[status])}</h2>'
            )
        if status == "open" and not in_group and view.page == 1:
            empty = "No open tickets match." if view.filtered else "No open tickets."
            items.append(f'<p class="empty" data-empty="open">{esc(empty)}</p>')
        items.extend(ticket_html(t, csrf, view, now=now, zone=zone) for t in in_group)
    if not found.tickets and view.page > 1:
        items.append(
            f'<p class="empty">Nothing on this page. <a href="{esc(view.href(page=1))}">'
            "Go to the first page</a>.</p>"
        )
    body.append(
        f'<section id="tickets" class="tickets" data-latest-id="{latest_id}" '
        f'data-page="{view.page}" data-query="{esc(view.query(page=1))}" '
        f'data-first-page="{esc(view.href(page=1))}" aria-label="Tickets">'
        f"{''.join(items)}</section>"
    )
    body.append(pager_html(view, found.total))
    body.append(shortcuts_html())
    return staff_page(
        f"Inbox · {get_settings().name}",
        "".join(body),
        auth=auth,
        active="inbox",
        counts=counts,
        script=True,
    )


def contact_html(ticket: Ticket) -> str:
    contact = []
    if ticket.contact_name:
        contact.append(f'<span class="name">{esc(ticket.contact_name)}</span>')
    if ticket.contact_phone:
        href = "tel:" + quote(ticket.contact_phone, safe="+")
        contact.append(f'<a href="{esc(href)}">{esc(ticket.contact_phone)}</a>')
    if ticket.contact_email:
        href = "mailto:" + quote(ticket.contact_email, safe="@+.")
        contact.append(f'<a href="{esc(href)}">{esc(ticket.contact_email)}</a>')
    return " · ".join(contact) or "none given"


def conversation_html(ticket: Ticket) -> str:
    """The conversation as turns; for tickets from before transcripts, the patient's
    messages, any button payload among them put in words."""
    if ticket.transcript is not None:
        turns = [(turn.by, turn.text) for turn in ticket.transcript]
    else:
        knowledge = get_knowledge()
        turns = [("patient", payload_words(message, knowledge)) for message in ticket.messages]
    if not turns:
        return '<p class="empty">(no messages)</p>'
    names = {"patient": "Patient", "assistant": get_settings().assistant_name}

    def listed(some: list[tuple[str, str]]) -> str:
        return (
            '<ol class="conversation">'
            + "".join(
                f'<li class="turn {esc(by)}"><span class="who">{esc(names.get(by, by))}</span>'
                f'<span class="text">{esc(text)}</span></li>'
                for by, text in some
            )
            + "</ol>"
        )

    if len(turns) <= SHOWN_TURNS + 1:
        return f'<div class="talk">{listed(turns)}</div>'
    # The latest turns at a glance; the earlier ones one click away (no script needed).
    earlier, latest = turns[:-SHOWN_TURNS], turns[-SHOWN_TURNS:]
    return (
        f'<div class="talk"><details class="earlier"><summary>'
        f"{esc(plural(len(earlier), 'earlier message'))}</summary>{listed(earlier)}</details>"
        f"{listed(latest)}</div>"
    )


def ticket_html(
    ticket: Ticket, csrf: str, view: InboxView, *, now: datetime, zone: ZoneInfo
) -> str:
    view_field = f'<input type="hidden" name="view" value="{esc(view.query())}">'
    buttons = "".join(
        f'<button type="submit" name="status" value="{esc(status)}" '
        f'class="{"primary" if status == "contacted" else "quiet"}" '
        f'data-key="{STATUS_KEYS.get(status, "")}">{esc(label)}</button>'
        for status, label in STATUS_ACTIONS.items()
        if status != ticket.status
    )
    count = len(ticket.messages)
    history = plural(count, "message")
    if ticket.updated_at != ticket.created_at:
        # Follow-ups are appended to the episode's ticket: show that it moved since.
        history += f" · updated {when(ticket.updated_at, now, zone)}"
    caught = ""
    if ticket.triage_layer and ticket.triage_layer != "rules":
        # Only the rules name a sign; the other layers flag wording nobody has checked yet.
        caught = (
            f"<dt>Caught by</dt><dd>{esc(ticket.triage_layer)} — no sign named, "
            "check with the patient</dd>"
        )
    treatment = treatment_name(ticket.treatment) if ticket.treatment else "not given"
    category = CATEGORY_LABELS.get(ticket.category, ticket.category)
    urgency = URGENCY_LABELS.get(ticket.urgency, ticket.urgency)
    note = ticket.staff_note or ""
    return (
        f'<article id="ticket-{ticket.id}" class="ticket {esc(ticket.urgency)} '
        f'status-{esc(ticket.status)}" data-id="{ticket.id}" data-urgency="{esc(ticket.urgency)}" '
        f'data-status="{esc(ticket.status)}" tabindex="-1">'
        '<header class="ticket-head">'
        f'<span class="badge {esc(ticket.urgency)}">{esc(urgency)}</span>'
        '<span class="new-flag" hidden>New</span>'
        f'<h3><a href="#ticket-{ticket.id}">#{ticket.id}</a> {esc(category)}'
        f'<span class="treatment"> · {esc(treatment)}</span></h3>'
        f'<span class="received">{time_html(ticket.created_at, now, zone)}</span></header>'
        '<div class="ticket-body"><dl class="facts">'
        f"<dt>Contact</dt><dd>{contact_html(ticket)}</dd>"
        f"<dt>Treatment</dt><dd>{esc(treatment)}</dd>"
        f"<dt>Received</dt><dd>{time_html(ticket.created_at, now, zone)} "
        f"via {esc(ticket.channel)}</dd>"
        f"<dt>Messages</dt><dd>{esc(history)}</dd>{caught}"
        f'<dt>Status</dt><dd class="status">{esc(STATUS_LABELS.get(ticket.status, ticket.status))}'
        "</dd></dl>"
        f"{conversation_html(ticket)}</div>"
        '<footer class="ticket-actions">'
        f'<form class="status-form" method="post" action="/staff/tickets/{ticket.id}/status">'
        f"{csrf}{view_field}{buttons}</form>"
        f'<form class="note-form" method="post" action="/staff/tickets/{ticket.id}/note">'
        f'{csrf}{view_field}<label for="note-{ticket.id}">Staff note</label>'
        f'<textarea id="note-{ticket.id}" name="note" rows="2" maxlength="{MAX_NOTE_CHARS}" '
        f'placeholder="e.g. Called, left a voicemail">{esc(note)}</textarea>'
        '<button type="submit" class="quiet">Save note</button></form>'
        "</footer></article>"
    )
