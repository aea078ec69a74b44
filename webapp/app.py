"""The demo clinic page and the chat widget's files, served by one small aiohttp app.

- ``GET /``: ``demo/index.html``, an example clinic page embedding the widget, with the Rasa
  server's address (``$CLINIC_RASA_URL``, default ``http://localhost:5005``) filled in;
- ``GET /widget/...``: the widget's static files (``widget/``);
- ``GET /api/sources``: the title patients see for each source document, shown under answers;
- ``GET /api/widget``: the widget's header and starter questions from the clinic settings
  (both ``/api/`` answers are public and readable from any origin, so a clinic's own site
  embedding the widget can use them too);
- ``/staff``: the front-desk inbox of tickets, behind ``$CLINIC_STAFF_TOKEN`` (``webapp.staff``;
  set ``$CLINIC_TRUST_PROXY=1`` behind nginx);
- ``/staff/report``: what patients asked that went unanswered, and the clinic's figures
  (``webapp.report``). Stored conversations past the retention period are deleted when the
  app starts and then hourly (``webapp.report.run_retention``).
"""

from __future__ import annotations

import html
import os
from urllib.parse import urlsplit

from aiohttp import web

from clinic.frontdesk.store import TicketStore
from clinic.knowledge import get_knowledge
from clinic.paths import PROJECT_ROOT
from clinic.settings import get_settings
from webapp.report import add_report_routes, run_retention
from webapp.staff import add_staff_routes

DEMO_PAGE = PROJECT_ROOT / "demo" / "index.html"
WIDGET_DIR = PROJECT_ROOT / "widget"

RASA_URL_ENV = "CLINIC_RASA_URL"
DEFAULT_RASA_URL = "http://localhost:5005"
# Where demo/index.html wants the Rasa server's address.
RASA_URL_PLACEHOLDER = "{{ rasa_url }}"

RASA_URL = web.AppKey("rasa_url", str)


def checked_rasa_url(url: str) -> str:
    """``url`` without a trailing slash; refuses anything but an http(s) address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"the Rasa server URL must look like {DEFAULT_RASA_URL}, not {url!r}")
    return url.strip().rstrip("/")


def create_app(
    rasa_url: str | None = None,
    *,
    staff_token: str | None = None,
    ticket_store: TicketStore | None = None,
) -> web.Application:
    """The app; ``rasa_url`` defaults to ``$CLINIC_RASA_URL``, then ``http://localhost:5005``,
    ``staff_token`` to ``$CLINIC_STAFF_TOKEN`` and ``ticket_store`` to the store configured by
    the environment (see ``clinic.frontdesk.store``). Raises ValueError for a Rasa URL that is
    not http(s), a staff token shorter than 32 characters or a bad ``$CLINIC_TRUST_PROXY``."""
    app = web.Application()
    app[RASA_URL] = checked_rasa_url(rasa_url or os.environ.get(RASA_URL_ENV) or DEFAULT_RASA_URL)
    app.router.add_get("/", demo_page)
    app.router.add_get("/api/sources", source_titles)
    app.router.add_get("/api/widget", widget_settings)
    app.router.add_static("/widget/", WIDGET_DIR)
    add_staff_routes(app, token=staff_token, store=ticket_store)
    add_report_routes(app)
    app.cleanup_ctx.append(run_retention)
    return app


async def demo_page(request: web.Request) -> web.Response:
    # Read on every request, so an edited page shows on reload.
    page = DEMO_PAGE.read_text(encoding="utf-8")
    rasa_url = html.escape(request.app[RASA_URL], quote=True)
    return web.Response(
        text=page.replace(RASA_URL_PLACEHOLDER, rasa_url),
        content_type="text/html",
        headers={"Cache-Control": "no-cache"},
    )


# Public data without cookies: any page may read it (the widget on a clinic's own site).
PUBLIC_JSON_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"}


async def source_titles(request: web.Request) -> web.Response:
    """``{"<seed file name>": "<display title>"}`` from the knowledge file: the titles patients
    see, never the team's notes on how a document was made."""
    return web.json_response(get_knowledge().display_titles, headers=PUBLIC_JSON_HEADERS)


async def widget_settings(request: web.Request) -> web.Response:
    """The widget's header and starter questions from the clinic settings:
    ``{"assistant_name", "clinic_name", "brand_colour", "starter_questions"}``."""
    settings = get_settings()
    return web.json_response(
        {
            "assistant_name": settings.assistant_name,
            "clinic_name": settings.name,
            "brand_colour": settings.brand_colour,
            "starter_questions": list(settings.starter_questions),
        },
        headers=PUBLIC_JSON_HEADERS,
    )
