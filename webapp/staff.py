"""The front-desk inbox at ``/staff``: open tickets, most urgent first, and their status.

Access needs the staff token (``$CLINIC_STAFF_TOKEN``), either as ``Authorization: Bearer
<token>`` or typed once into the sign-in form, which sets a signed session cookie. Without
the variable every ``/staff`` route answers 503 rather than being open to anyone.

- ``GET /staff``: the inbox (401 with the sign-in form without a valid token);
- ``POST /staff/login``, ``POST /staff/logout``: start or end a browser session;
- ``POST /staff/tickets/{id}/status`` (form field ``status``): open, contacted or closed.
  Cookie sessions must also send the form's ``csrf_token`` (another site could make a
  signed-in browser POST; it cannot read the token). Bearer requests need none: browsers
  never add that header by themselves.

Patient text is untrusted: everything from a ticket is HTML-escaped, and the page's
Content-Security-Policy allows no scripts at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import logging
import os
import secrets
import time
from dataclasses import dataclass
from urllib.parse import quote

from aiohttp import web

from clinic.frontdesk import get_store
from clinic.frontdesk.store import STATUSES, Ticket, TicketNotFoundError, TicketStore

logger = logging.getLogger(__name__)

STAFF_TOKEN_ENV = "CLINIC_STAFF_TOKEN"
SESSION_COOKIE = "clinic_staff_session"
SESSION_SECONDS = 12 * 3600  # one working day, then sign in again

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


@dataclass(frozen=True)
class StaffAuth:
    """Who is asking: ``csrf`` is the form token a cookie session must send back."""

    via: str  # "bearer" or "cookie"
    csrf: str | None = None


class StaffInbox:
    def __init__(self, token: str, store: TicketStore | None = None) -> None:
        self.token = token
        self._store = store
        # Sessions are signed with a key derived from the token: changing the token signs
        # everybody out, and no session state needs storing.
        self._key = hashlib.sha256(b"clinic-staff-session\0" + token.encode()).digest()

    @property
    def store(self) -> TicketStore:
        # Looked up on first use, so the demo page alone never opens the database.
        return self._store or get_store()

    # -- authentication ---------------------------------------------------------------

    def _sign(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def new_session(self) -> str:
        issued, nonce = str(int(time.time())), secrets.token_urlsafe(16)
        return f"{issued}.{nonce}.{self._sign(f'{issued}.{nonce}')}"

    def authenticate(self, request: web.Request) -> StaffAuth | None:
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and credentials:
            if hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
                return StaffAuth("bearer")
            return None
        issued, _, rest = request.cookies.get(SESSION_COOKIE, "").partition(".")
        nonce, _, signature = rest.partition(".")
        if not (issued.isdigit() and nonce and signature):
            return None
        if not hmac.compare_digest(signature, self._sign(f"{issued}.{nonce}")):
            return None
        if not 0 <= time.time() - int(issued) < SESSION_SECONDS:
            return None
        return StaffAuth("cookie", csrf=self._sign(f"csrf.{nonce}"))

    # -- handlers -----------------------------------------------------------------------

    async def inbox(self, request: web.Request) -> web.Response:
        auth = self.authenticate(request)
        if auth is None:
            return login_page(status=401)
        tickets = await asyncio.to_thread(self.store.list_tickets, ("open", "contacted"))
        return html_response(inbox_page(tickets, auth))

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token", "")).strip()
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            logger.info("staff sign-in refused")
            return login_page(status=401, error="That token is not right.")
        response = web.HTTPSeeOther("/staff")
        response.set_cookie(
            SESSION_COOKIE,
            self.new_session(),
            max_age=SESSION_SECONDS,
            path="/staff",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        response = web.HTTPSeeOther("/staff")
        response.del_cookie(SESSION_COOKIE, path="/staff")
        raise response

    async def set_status(self, request: web.Request) -> web.Response:
        auth = self.authenticate(request)
        if auth is None:
            return login_page(status=401)
        form = await request.post()
        if auth.csrf is not None and not hmac.compare_digest(
            str(form.get("csrf_token", "")).encode(), auth.csrf.encode()
        ):
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
    app: web.Application, *, token: str | None = None, store: TicketStore | None = None
) -> None:
    """The inbox routes; ``token`` defaults to ``$CLINIC_STAFF_TOKEN``, ``store`` to the
    store from the environment (``clinic.frontdesk.get_store``)."""
    token = (os.environ.get(STAFF_TOKEN_ENV, "") if token is None else token).strip()
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
    inbox = StaffInbox(token, store)
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
