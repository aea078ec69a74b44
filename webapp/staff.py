"""The front-desk inbox at ``/staff``: open tickets, most urgent first, and their status.

Access needs the staff token (``$CLINIC_STAFF_TOKEN``, at least 32 characters: a shorter one
stops the app at start), either as ``Authorization: Bearer <token>`` or typed once into the
sign-in form, which starts a browser session. Without the variable every ``/staff`` route
answers 503 rather than being open to anyone.

- ``GET /staff``: the inbox (401 with the sign-in form without a valid token or session);
- ``POST /staff/login``, ``POST /staff/logout``: start or end a browser session;
- ``POST /staff/tickets/{id}/status`` (form field ``status``): open, contacted or closed.
  Cookie sessions must also send the form's ``csrf_token`` (another site could make a
  signed-in browser POST; it cannot read the token). Bearer requests need none: browsers
  never add that header by themselves.

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

Patient text is untrusted: everything from a ticket is HTML-escaped, and the page's
Content-Security-Policy allows no scripts at all.
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
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from clinic.frontdesk import get_store
from clinic.frontdesk.store import STATUSES, Ticket, TicketNotFoundError, TicketStore

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
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

STATUS_ACTIONS = {"contacted": "Mark contacted", "closed": "Close", "open": "Reopen"}

STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem;
       color: #1d2b2a; }
header { display: flex; justify-content: space-between; align-items: center; }
article { border: 1px solid #c9d6d4; border-left: 0.5rem solid #8aa9a5; border-radius: 0.4rem;
          margin: 0.8rem 0; padding: 0.6rem 1rem; }
article.urgent { border-left-color: #b3261e; }
article.soon { border-left-color: #c77c02; }
.badge { font-weight: bold; text-transform: uppercase; }
.messages { white-space: pre-wrap; background: #f3f6f6; padding: 0.4rem 0.8rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; }
dt { font-weight: bold; }
form.inline { display: inline; }
.error { color: #b3261e; }
"""


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
        tickets = await asyncio.to_thread(self.store.list_tickets, ("open", "contacted"))
        return html_response(inbox_page(tickets, auth))

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

    async def set_status(self, request: web.Request) -> web.Response:
        auth = self.authenticate(request)
        if auth is None:
            return self.signed_out_page(request)
        form = await request.post()
        sent_csrf = str(form.get("csrf_token", "")).encode("utf-8", "surrogateescape")
        if auth.csrf is not None and not hmac.compare_digest(sent_csrf, auth.csrf.encode()):
            address = client_address(request, trust_proxy=self.trust_proxy)
            self.log_refusal(address, "missing_or_wrong_form_token")
            return plain_response("missing or wrong form token: reload the inbox", status=403)
        status = str(form.get("status", ""))
        if status not in STATUSES:
            return plain_response(f"status must be one of {', '.join(STATUSES)}", status=400)
        try:
            ticket_id = int(request.match_info["ticket_id"])
            await asyncio.to_thread(self.store.set_status, ticket_id, status)
        except (ValueError, TicketNotFoundError):
            return plain_response("no such ticket", status=404)
        raise web.HTTPSeeOther(f"/staff#ticket-{ticket_id}")


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
            ("POST", "/staff/login"),
            ("POST", "/staff/logout"),
            ("POST", "/staff/tickets/{ticket_id}/status"),
        ):
            app.router.add_route(method, path, not_configured)
        return
    inbox = StaffInbox(
        token, store, limits=limits, trust_proxy=trust_proxy, session_seconds=session_seconds
    )
    app.router.add_get("/staff", inbox.inbox)
    app.router.add_post("/staff/login", inbox.login)
    app.router.add_post("/staff/logout", inbox.logout)
    app.router.add_post("/staff/tickets/{ticket_id}/status", inbox.set_status)


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


def page(title: str, body: str, *, refresh: bool = False) -> str:
    # The inbox reloads itself every minute so new urgent tickets show without a click.
    meta = '<meta http-equiv="refresh" content="60">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{meta}<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )


def login_page(*, status: int, error: str | None = None) -> web.Response:
    message = f'<p class="error" role="alert">{esc(error)}</p>' if error else ""
    body = (
        "<h1>Front-desk inbox</h1><p>Sign in with the staff token.</p>"
        f"{message}"
        '<form method="post" action="/staff/login">'
        '<label for="token">Staff token</label> '
        '<input id="token" name="token" type="password" autocomplete="current-password" required> '
        '<button type="submit">Sign in</button></form>'
    )
    return html_response(page("Sign in: front-desk inbox", body), status=status)


def inbox_page(tickets: list[Ticket], auth: StaffAuth) -> str:
    csrf = f'<input type="hidden" name="csrf_token" value="{esc(auth.csrf)}">' if auth.csrf else ""
    logout = (
        f'<form class="inline" method="post" action="/staff/logout">{csrf}'
        '<button type="submit">Sign out</button></form>'
        if auth.via == "cookie"
        else ""
    )
    open_tickets = [t for t in tickets if t.status == "open"]
    contacted = [t for t in tickets if t.status == "contacted"]
    body = [f"<header><h1>Front-desk inbox</h1>{logout}</header>"]
    body.append(f"<h2>Open ({len(open_tickets)})</h2>")
    body.extend(ticket_html(t, csrf) for t in open_tickets)
    if not open_tickets:
        body.append("<p>No open tickets.</p>")
    body.append(f"<h2>Contacted, not closed yet ({len(contacted)})</h2>")
    body.extend(ticket_html(t, csrf) for t in contacted)
    return page("Front-desk inbox", "".join(body), refresh=True)


def ticket_html(ticket: Ticket, csrf: str) -> str:
    contact = []
    if ticket.contact_name:
        contact.append(esc(ticket.contact_name))
    if ticket.contact_phone:
        href = "tel:" + quote(ticket.contact_phone, safe="+")
        contact.append(f'<a href="{esc(href)}">{esc(ticket.contact_phone)}</a>')
    if ticket.contact_email:
        href = "mailto:" + quote(ticket.contact_email, safe="@+.")
        contact.append(f'<a href="{esc(href)}">{esc(ticket.contact_email)}</a>')
    messages = "".join(f'<li class="messages">{esc(m)}</li>' for m in ticket.messages)
    buttons = "".join(
        f'<button type="submit" name="status" value="{esc(status)}">{esc(label)}</button> '
        for status, label in STATUS_ACTIONS.items()
        if status != ticket.status
    )
    count = len(ticket.messages)
    history = f"{count} message{'' if count == 1 else 's'}"
    if ticket.updated_at != ticket.created_at:
        # Follow-ups are appended to the episode's ticket: show that it moved since.
        history += f" · updated {ticket.updated_at:%Y-%m-%d %H:%M} UTC"
    caught = ""
    if ticket.triage_layer and ticket.triage_layer != "rules":
        # Only the rules name a sign; the other layers flag wording nobody has checked yet.
        caught = (
            f"<dt>Caught by</dt><dd>{esc(ticket.triage_layer)} — no sign named, "
            "check with the patient</dd>"
        )
    return (
        f'<article id="ticket-{ticket.id}" class="ticket {esc(ticket.urgency)}">'
        f'<h3>#{ticket.id} <span class="badge">{esc(ticket.urgency)}</span> '
        f"{esc(ticket.category)}</h3><dl>"
        f"<dt>Treatment</dt><dd>{esc(ticket.treatment or 'not given')}</dd>"
        f"<dt>Contact</dt><dd>{' · '.join(contact) or 'none given'}</dd>"
        f"<dt>Received</dt><dd>{ticket.created_at:%Y-%m-%d %H:%M} UTC "
        f"via {esc(ticket.channel)}</dd>"
        f"<dt>Messages</dt><dd>{esc(history)}</dd>{caught}"
        f"<dt>Status</dt><dd>{esc(ticket.status)}</dd></dl>"
        f"<p>What the patient wrote:</p><ol>{messages or '<li>(no messages)</li>'}</ol>"
        f'<form method="post" action="/staff/tickets/{ticket.id}/status">{csrf}{buttons}</form>'
        "</article>"
    )
