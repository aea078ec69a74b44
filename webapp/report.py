"""The "What patients asked" page at ``/staff/report``, behind the staff sign-in.

- ``GET /staff/report``: the clinic's figures as charts (server-drawn SVG, each with a text
  alternative: the page's Content-Security-Policy allows no scripts), and the unanswered
  patient messages grouped by similarity (``clinic.patient_questions``). Filters (query
  string): ``days`` (7, 30 or 90, at most the retention period), ``reason``, ``treatment``;
- ``GET /staff/report.csv``: the listed messages as CSV, with the same filters;
- ``POST /staff/report/label``: a preview, as a diff, of the example a staff member's label
  adds to the review file (``clinic.review_file``);
- ``POST /staff/report/label/save``: appends it.

The POSTs need the form's ``csrf_token`` for browser sessions, as the inbox's do. Patient
text is escaped everywhere; complications appear as counts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from aiohttp import web

from clinic.contract import TOPICS
from clinic.conversation_log import delete_older_than
from clinic.knowledge import get_knowledge
from clinic.patient_questions import (
    REASONS,
    MessageGroup,
    PatientQuestionsReport,
    csv_text,
    load_report,
    share,
)
from clinic.review_file import Preview, ReviewError, append_example, domain_intents, preview
from clinic.settings import get_settings
from webapp.staff import (
    STAFF_INBOX,
    StaffAuth,
    client_address,
    esc,
    html_response,
    staff_page,
)

logger = logging.getLogger(__name__)

PERIODS = (7, 30, 90)
RETENTION_INTERVAL_SECONDS = 3600.0
MAX_GROUPS_SHOWN = 50

STYLE = """
.report section { margin: 1.5rem 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8rem; padding: 0; list-style: none; }
.cards li { border: 1px solid #c9d6d4; border-radius: 0.4rem; padding: 0.5rem 0.8rem;
            min-width: 9rem; background: #f7faf9; }
.cards strong { display: block; font-size: 1.5rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr));
          gap: 1rem; align-items: start; }
figure { margin: 0; border: 1px solid #e0e8e7; border-radius: 0.4rem; padding: 0.6rem; }
figcaption { font-weight: bold; margin-bottom: 0.3rem; }
figure svg { width: 100%; height: auto; }
details { font-size: 0.9rem; margin-top: 0.3rem; }
table { border-collapse: collapse; }
td, th { padding: 0.15rem 0.6rem; text-align: left; border-bottom: 1px solid #e0e8e7; }
form.filters { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: end; }
form.filters label, form.label label { display: flex; flex-direction: column;
                                        font-size: 0.85rem; }
article.group { border: 1px solid #c9d6d4; border-radius: 0.4rem; margin: 0.8rem 0;
                padding: 0.6rem 1rem; }
article.group h3 { margin: 0.2rem 0; }
.count { background: #2f6f6a; color: #fff; border-radius: 1rem; padding: 0 0.6rem;
         margin-right: 0.4rem; }
.muted { color: #586b69; }
form.label { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: end; }
pre.diff { background: #f3f6f6; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
pre.diff span { display: block; min-height: 1.2em; }
pre.diff .add { color: #14532d; background: #dcfce7; }
pre.diff .del { color: #7f1d1d; background: #fee2e2; }
.error { color: #b3261e; }
.ok { color: #14532d; }
"""


@dataclass(frozen=True)
class ReportOptions:
    conversations_url: str | None  # None: the environment's (clinic.conversation_log)
    review_file: Path | None  # None: $CLINIC_REVIEW_FILE or data/nlu/review.yml


REPORT_OPTIONS = web.AppKey("report_options", ReportOptions)


@dataclass(frozen=True)
class Filters:
    days: int
    reason: str | None
    treatment: str | None

    def query(self) -> str:
        parts = [f"days={self.days}"]
        if self.reason:
            parts.append(f"reason={self.reason}")
        if self.treatment:
            parts.append(f"treatment={self.treatment}")
        return "&".join(parts)


class BadFilterError(ValueError):
    pass


def periods() -> list[int]:
    """The periods offered: 7, 30 and 90 days, none past the retention period."""
    retention = get_settings().retention_days
    offered = [days for days in PERIODS if days <= retention]
    return offered if retention in offered else [*offered, retention]


def parse_filters(query: dict[str, str]) -> Filters:
    offered = periods()
    raw_days = query.get("days", "").strip()
    default_days = 30 if 30 in offered else offered[-1]
    try:
        days = int(raw_days) if raw_days else default_days
    except ValueError:
        raise BadFilterError(f"days must be one of {', '.join(map(str, offered))}") from None
    if days not in offered:
        raise BadFilterError(f"days must be one of {', '.join(map(str, offered))}")
    reason = query.get("reason", "").strip() or None
    if reason is not None and reason not in REASONS:
        raise BadFilterError(f"reason must be one of {', '.join(REASONS)}")
    treatment = query.get("treatment", "").strip() or None
    if treatment is not None and treatment not in get_knowledge().treatments:
        raise BadFilterError("unknown treatment")
    return Filters(days, reason, treatment)


def treatment_name(treatment_id: str) -> str:
    treatment = get_knowledge().treatments.get(treatment_id)
    return treatment.name if treatment else treatment_id


def topic_name(topic: str) -> str:
    return TOPICS.get(topic, topic)


# -- charts ---------------------------------------------------------------------------------


def _chart(
    chart_id: str, caption: str, svg_body: str, width: int, height: int, summary: str, table: str
) -> str:
    return (
        f'<figure id="{esc(chart_id)}"><figcaption id="{esc(chart_id)}-title">{esc(caption)}'
        "</figcaption>"
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{esc(chart_id)}-title {esc(chart_id)}-desc">'
        f'<desc id="{esc(chart_id)}-desc">{esc(summary)}</desc>{svg_body}</svg>'
        f"<details><summary>As a table</summary>{table}</details></figure>"
    )


def _table(header: tuple[str, str], rows: Sequence[tuple[str, object]]) -> str:
    body = "".join(f"<tr><td>{esc(label)}</td><td>{esc(value)}</td></tr>" for label, value in rows)
    return (
        f"<table><thead><tr><th>{esc(header[0])}</th><th>{esc(header[1])}</th></tr></thead>"
        f"<tbody>{body or '<tr><td colspan=2>none</td></tr>'}</tbody></table>"
    )


def column_chart(
    chart_id: str, caption: str, points: Sequence[tuple[str, int]], unit: str, colour: str
) -> str:
    """Vertical bars, one per point (per day), with the first, middle and last labels."""
    # Drawn about the size it is shown (a third of the page), so the labels stay legible.
    width, height, top, bottom, left = 360, 170, 14, 26, 28
    plot_w, plot_h = width - left - 6, height - top - bottom
    highest = max((value for _, value in points), default=0)
    scale = max(highest, 1)
    step = plot_w / max(len(points), 1)
    parts = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 6}" y2="{top + plot_h}" '
        'stroke="#8aa9a5"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="11">{highest}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, (label, value) in enumerate(points):
        bar_h = plot_h * value / scale
        x = left + index * step
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{top + plot_h - bar_h:.1f}" '
            f'width="{max(step * 0.7, 1):.1f}" height="{bar_h:.1f}" fill="{colour}">'
            f"<title>{esc(label)}: {value} {esc(unit)}</title></rect>"
        )
    label_at = sorted({0, len(points) // 2, len(points) - 1}) if points else []
    for index in label_at:
        x = left + index * step + step / 2
        anchor = "start" if index == 0 else "end" if index == len(points) - 1 else "middle"
        if index == 0:
            x = left
        elif index == len(points) - 1:
            x = width - 6
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="{anchor}" font-size="11">'
            f"{esc(points[index][0])}</text>"
        )
    total = sum(value for _, value in points)
    busiest = max(points, key=lambda p: p[1]) if points else None
    summary = f"{total} {unit} over {len(points)} days"
    if busiest and busiest[1]:
        summary += f"; the most on {busiest[0]}: {busiest[1]}"
    return _chart(
        chart_id, caption, "".join(parts), width, height, summary,
        _table(("Day", unit.capitalize()), points),
    )  # fmt: skip


def bar_list(chart_id: str, caption: str, items: Sequence[tuple[str, int]], colour: str) -> str:
    """Horizontal bars, one per labelled count."""
    width, row_h, label_w = 340, 24, 150
    items = list(items)
    height = max(len(items), 1) * row_h + 6
    scale = max((value for _, value in items), default=0) or 1
    parts = []
    for index, (label, value) in enumerate(items):
        y = 4 + index * row_h
        bar_w = (width - label_w - 44) * value / scale
        shown = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">'
            f"{esc(shown)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w:.1f}" height="{row_h - 8}" '
            f'fill="{colour}"><title>{esc(label)}: {value}</title></rect>'
            f'<text x="{label_w + bar_w + 4:.1f}" y="{y + 15}" font-size="12">{value}</text>'
        )
    if not items:
        parts.append('<text x="4" y="18" font-size="12">Nothing yet</text>')
    summary = "; ".join(f"{label}: {value}" for label, value in items) or "nothing yet"
    return _chart(
        chart_id, caption, "".join(parts), width, height, summary,
        _table(("", "Count"), items),
    )  # fmt: skip


def share_chart(
    chart_id: str, caption: str, rows: Sequence[tuple[str, int, int]], colour: str
) -> str:
    """Stacked bars of answered (``colour``) and not answered, per row (label, part, whole)."""
    width, row_h, label_w = 340, 30, 100
    height = len(rows) * row_h + 24
    parts = []
    for index, (label, part, whole) in enumerate(rows):
        y = 4 + index * row_h
        full = width - label_w - 50
        answered_w = full * part / whole if whole else 0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 17}" text-anchor="end" font-size="12">'
            f"{esc(label)}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{full}" height="{row_h - 10}" '
            'fill="#e7b4ae"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{answered_w:.1f}" height="{row_h - 10}" '
            f'fill="{colour}"><title>{esc(label)}: {part} of {whole} answered</title></rect>'
            f'<text x="{label_w + full + 4}" y="{y + 17}" font-size="12">'
            f"{esc(share(part, whole))}</text>"
        )
    legend_y = len(rows) * row_h + 16
    parts.append(
        f'<rect x="{label_w}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>'
        f'<text x="{label_w + 14}" y="{legend_y}" font-size="11">answered</text>'
        f'<rect x="{label_w + 90}" y="{legend_y - 9}" width="10" height="10" fill="#e7b4ae"/>'
        f'<text x="{label_w + 104}" y="{legend_y}" font-size="11">not answered</text>'
    )
    summary = "; ".join(
        f"{label}: {share(part, whole)} answered ({part} of {whole})" for label, part, whole in rows
    )
    table = _table(("", "Answered"), [(label, f"{part} of {whole}") for label, part, whole in rows])
    return _chart(chart_id, caption, "".join(parts), width, height, summary, table)


# -- pages ----------------------------------------------------------------------------------


def _options(values: Sequence[tuple[str, str]], selected: str | None) -> str:
    return "".join(
        f'<option value="{esc(value)}"{" selected" if value == selected else ""}>'
        f"{esc(label)}</option>"
        for value, label in values
    )


def _csrf_field(auth: StaffAuth) -> str:
    if not auth.csrf:
        return ""
    return f'<input type="hidden" name="csrf_token" value="{esc(auth.csrf)}">'


def filters_form(filters: Filters) -> str:
    knowledge = get_knowledge()
    days = _options([(str(d), f"Last {d} days") for d in periods()], str(filters.days))
    reasons = _options([("", "Any reason"), *REASONS.items()], filters.reason or "")
    treatments = _options(
        [("", "Any treatment"), *((t.id, t.name) for t in knowledge.treatments.values())],
        filters.treatment or "",
    )
    return (
        '<form class="filters" method="get" action="/staff/report">'
        f'<label>Period<select name="days">{days}</select></label>'
        f'<label>Reason<select name="reason">{reasons}</select></label>'
        f'<label>Treatment<select name="treatment">{treatments}</select></label>'
        '<button type="submit">Show</button>'
        f'<a href="/staff/report.csv?{esc(filters.query())}" download>Download CSV</a></form>'
    )


def figures_html(report: PatientQuestionsReport) -> str:
    f = report.figures
    colour = get_settings().brand_colour
    cards = [
        ("Conversations", str(f.conversations)),
        ("Conversations fully answered", share(f.conversations_answered, f.conversations)),
        ("Messages answered", share(f.turns_answered, f.turns)),
        ("Bookings started / submitted", f"{f.bookings_started} / {f.bookings_submitted}"),
        ("Call-backs started / submitted", f"{f.callbacks_started} / {f.callbacks_submitted}"),
        (
            "Urgent call-backs offered / phone taken",
            f"{f.urgent_callbacks_offered} / {f.urgent_callbacks_taken}",
        ),
        ("Urgent tickets", "not available" if f.urgent_tickets is None else str(f.urgent_tickets)),
        ("Complications reported (messages)", str(f.complications)),
    ]
    cards_html = "".join(
        f"<li>{esc(label)}<strong>{esc(value)}</strong></li>" for label, value in cards
    )
    per_day = [(day.strftime("%d %b"), count) for day, count in f.conversations_per_day]
    unanswered = [(day.strftime("%d %b"), count) for day, count in f.unanswered_per_day]
    outcomes = [
        ("Bookings started", f.bookings_started),
        ("Bookings submitted", f.bookings_submitted),
        ("Call-backs started", f.callbacks_started),
        ("Call-backs submitted", f.callbacks_submitted),
        ("Urgent call-backs offered", f.urgent_callbacks_offered),
        ("Urgent phone taken", f.urgent_callbacks_taken),
    ]
    charts = [
        column_chart("chart-conversations", "Conversations per day", per_day, "conversations",
                     colour),
        share_chart(
            "chart-answered", "Share answered",
            [("Conversations", f.conversations_answered, f.conversations),
             ("Messages", f.turns_answered, f.turns)],
            colour,
        ),
        column_chart("chart-unanswered", "Unanswered messages per day", unanswered, "messages",
                     "#b35c1e"),
        bar_list("chart-topics", "Top topics answered",
                 [(topic_name(t), n) for t, n in f.top_topics], colour),
        bar_list("chart-treatments", "Top treatments asked about",
                 [(treatment_name(t), n) for t, n in f.top_treatments], colour),
        bar_list("chart-outcomes", "Bookings and call-backs", outcomes, colour),
    ]  # fmt: skip
    weeks = _table(("Week", "Unanswered"), f.unanswered_per_week)
    by_topic = _table(
        ("Topic", "Unanswered"), [(topic_name(t), n) for t, n in f.unanswered_by_topic]
    )
    by_treatment = _table(
        ("Treatment", "Unanswered"), [(treatment_name(t), n) for t, n in f.unanswered_by_treatment]
    )
    return (
        f'<section aria-labelledby="figures"><h2 id="figures">At a glance</h2>'
        f'<ul class="cards">{cards_html}</ul><div class="charts">{"".join(charts)}</div></section>'
        '<section aria-labelledby="breakdown"><h2 id="breakdown">Unanswered, by week, topic '
        f'and treatment</h2><div class="charts"><div>{weeks}</div><div>{by_topic}</div>'
        f"<div>{by_treatment}</div></div></section>"
    )


def label_form(group: MessageGroup, auth: StaffAuth, intents: list[str]) -> str:
    knowledge = get_knowledge()
    guessed = next((intent for intent, _ in group.intents if intent in intents), None)
    top_treatment = group.treatments[0][0] if group.treatments else ""
    messages = _options([(text, text) for text in group.examples], group.representative)
    intent_options = _options([("", "Choose the intent"), *((i, i) for i in intents)], guessed)
    treatment_options = _options(
        [("", "No treatment"), *((t.id, t.name) for t in knowledge.treatments.values())],
        top_treatment,
    )
    return (
        f'<form class="label" method="post" action="/staff/report/label">{_csrf_field(auth)}'
        f'<label>Message<select name="message">{messages}</select></label>'
        f'<label>Intent<select name="intent" required>{intent_options}</select></label>'
        f'<label>Treatment<select name="treatment">{treatment_options}</select></label>'
        '<button type="submit">Preview label</button></form>'
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def groups_html(report: PatientQuestionsReport, auth: StaffAuth, intents: list[str]) -> str:
    shown = report.groups[:MAX_GROUPS_SHOWN]
    heading = (
        f'<h2 id="groups">Unanswered messages, grouped ({_count(len(report.messages), "message")}, '
        f"{_count(len(report.groups), 'group')})</h2>"
        '<p class="muted">Similar messages are grouped together. Label one with what the '
        "patient meant and it is added to the training data for the next retraining. "
        "Complications are counted above, never listed.</p>"
    )
    if not shown:
        nothing = "<p>Nothing unanswered in this period.</p>"
        return f'<section aria-labelledby="groups">{heading}{nothing}</section>'
    articles = []
    for group in shown:
        reasons = ", ".join(f"{REASONS[r]} ({n})" for r, n in group.reasons)
        about = [treatment_name(t) for t, _ in group.treatments] + [
            topic_name(t) for t, _ in group.topics
        ]
        examples = "".join(f"<li>{esc(text)}</li>" for text in group.examples)
        articles.append(
            f'<article class="group" id="group-{group.number}">'
            f'<h3><span class="count" title="messages">{group.count}</span>'
            f"{esc(group.representative)}</h3>"
            f'<p class="muted">{esc(reasons)}'
            f"{' · asked about ' + esc(', '.join(about)) if about else ''}</p>"
            f"<details><summary>Examples ({len(group.examples)})</summary><ul>{examples}</ul>"
            f"</details>{label_form(group, auth, intents)}</article>"
        )
    more = ""
    if len(report.groups) > len(shown):
        more = f"<p>{len(report.groups) - len(shown)} smaller groups: see the CSV.</p>"
    return f'<section aria-labelledby="groups">{heading}{"".join(articles)}{more}</section>'


def report_page(report: PatientQuestionsReport, filters: Filters, auth: StaffAuth) -> str:
    since = report.local(report.since).strftime("%d %b %Y")
    until = report.local(report.until).strftime("%d %b %Y %H:%M")
    body = (
        f'<style>{STYLE}</style><div class="report"><h1>What patients asked</h1>'
        f'<p class="muted">{esc(since)} to {esc(until)} ({esc(report.time_zone.key)}). '
        f"Answers below {report.min_confidence:.0%} confidence count as unanswered. "
        f"Conversations are kept {get_settings().retention_days} days.</p>"
        f"{filters_form(filters)}{figures_html(report)}"
        f"{groups_html(report, auth, domain_intents())}</div>"
    )
    return staff_page("What patients asked", body, auth=auth, active="report")


def diff_html(diff: str) -> str:
    """The unified diff, one block per line: added lines green, removed lines red."""
    lines = []
    for line in diff.splitlines():
        css = "ctx"
        if line.startswith("+") and not line.startswith("+++"):
            css = "add"
        elif line.startswith("-") and not line.startswith("---"):
            css = "del"
        lines.append(f'<span class="{css}">{esc(line)}</span>')
    return '<pre class="diff">' + "".join(lines) + "</pre>"


def _message_page(auth: StaffAuth, title: str, content: str, *, status: int = 200) -> web.Response:
    body = (
        f'<style>{STYLE}</style><div class="report"><h1>{esc(title)}</h1>{content}'
        '<p><a href="/staff/report">Back to the report</a></p></div>'
    )
    return html_response(staff_page(title, body, auth=auth, active="report"), status=status)


def preview_page(planned: Preview, treatment: str | None, message: str, auth: StaffAuth) -> str:
    hidden = (
        f'{_csrf_field(auth)}<input type="hidden" name="message" value="{esc(message)}">'
        f'<input type="hidden" name="intent" value="{esc(planned.intent)}">'
        f'<input type="hidden" name="treatment" value="{esc(treatment or "")}">'
    )
    return (
        f"<p>Saving adds this example of <strong>{esc(planned.intent)}</strong> to "
        f"<code>{esc(planned.path.name)}</code>:</p>{diff_html(planned.diff)}"
        f'<form method="post" action="/staff/report/label/save">{hidden}'
        '<button type="submit">Save to the review file</button></form>'
    )


# -- handlers -------------------------------------------------------------------------------


async def _signed_in(request: web.Request) -> StaffAuth | web.Response:
    inbox = request.app[STAFF_INBOX]
    auth = inbox.authenticate(request)
    return inbox.signed_out_page(request) if auth is None else auth


def _csrf_ok(request: web.Request, auth: StaffAuth, sent: str) -> bool:
    if auth.csrf is None:
        return True  # Bearer requests: browsers never add that header by themselves
    ok = hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), auth.csrf.encode())
    if not ok:
        inbox = request.app[STAFF_INBOX]
        address = client_address(request, trust_proxy=inbox.trust_proxy)
        inbox.log_refusal(address, "missing_or_wrong_form_token")
    return ok


def _plain(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, headers={"Cache-Control": "no-store"})


async def _report(request: web.Request) -> tuple[Filters, PatientQuestionsReport]:
    filters = parse_filters(dict(request.query))
    options = request.app[REPORT_OPTIONS]
    report = await asyncio.to_thread(
        load_report,
        days=filters.days,
        url=options.conversations_url,
        reason=filters.reason,
        treatment=filters.treatment,
        ticket_store=request.app[STAFF_INBOX].store,
    )
    return filters, report


async def _signed_in_report(
    request: web.Request,
) -> tuple[StaffAuth, Filters, PatientQuestionsReport] | web.Response:
    """Who asks and the report for the query's filters; the refusal (sign-in, a bad
    filter) as a response instead."""
    auth = await _signed_in(request)
    if isinstance(auth, web.Response):
        return auth
    try:
        filters, report = await _report(request)
    except BadFilterError as bad:
        return _plain(f"bad filter: {bad}", 400)
    return auth, filters, report


async def report_handler(request: web.Request) -> web.Response:
    answer = await _signed_in_report(request)
    if isinstance(answer, web.Response):
        return answer
    auth, filters, report = answer
    return html_response(report_page(report, filters, auth))


async def csv_handler(request: web.Request) -> web.Response:
    answer = await _signed_in_report(request)
    if isinstance(answer, web.Response):
        return answer
    _auth, filters, report = answer
    name = f"patient-questions-{datetime.now(report.time_zone):%Y-%m-%d}-{filters.days}d.csv"
    return web.Response(
        text=csv_text(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def _label_form(request: web.Request) -> tuple[StaffAuth, dict[str, str]] | web.Response:
    auth = await _signed_in(request)
    if isinstance(auth, web.Response):
        return auth
    form = await request.post()
    if not _csrf_ok(request, auth, str(form.get("csrf_token", ""))):
        return _plain("missing or wrong form token: reload the report", 403)
    fields = {name: str(form.get(name, "")) for name in ("message", "intent", "treatment")}
    return auth, fields


def _review_path(request: web.Request) -> Path | None:
    return request.app[REPORT_OPTIONS].review_file


async def label_preview(request: web.Request) -> web.Response:
    checked = await _label_form(request)
    if isinstance(checked, web.Response):
        return checked
    auth, fields = checked
    treatment = fields["treatment"] or None
    try:
        planned = await asyncio.to_thread(
            preview, fields["message"], fields["intent"], treatment, path=_review_path(request)
        )
    except ReviewError as refused:
        return _message_page(
            auth, "Cannot add this message", f'<p class="error" role="alert">{esc(refused)}</p>',
            status=400,
        )  # fmt: skip
    return _message_page(
        auth,
        "Check the new training example",
        preview_page(planned, treatment, fields["message"], auth),
    )


async def label_save(request: web.Request) -> web.Response:
    checked = await _label_form(request)
    if isinstance(checked, web.Response):
        return checked
    auth, fields = checked
    treatment = fields["treatment"] or None
    try:
        saved = await asyncio.to_thread(
            append_example, fields["message"], fields["intent"], treatment,
            path=_review_path(request),
        )  # fmt: skip
    except ReviewError as refused:
        return _message_page(
            auth, "Cannot add this message", f'<p class="error" role="alert">{esc(refused)}</p>',
            status=400,
        )  # fmt: skip
    logger.info("Staff added an example of %s to %s", saved.intent, saved.path.name)
    content = (
        f'<p class="ok" role="status">Saved: the example of <strong>{esc(saved.intent)}</strong> '
        f"is in <code>{esc(saved.path.name)}</code>. The assistant learns it at the next "
        "<code>make train</code>.</p>"
        f'<pre class="diff"><span class="add">{esc("+    - " + saved.example)}</span></pre>'
    )
    return _message_page(auth, "Label saved", content)


async def not_configured(request: web.Request) -> web.Response:
    return _plain("staff pages not configured: set CLINIC_STAFF_TOKEN to enable them", 503)


def add_report_routes(
    app: web.Application,
    *,
    conversations_url: str | None = None,
    review_file: Path | None = None,
) -> None:
    """The report's routes; call after ``webapp.staff.add_staff_routes`` (they share its
    sign-in). ``conversations_url`` defaults to the environment's conversation database,
    ``review_file`` to ``$CLINIC_REVIEW_FILE`` or ``data/nlu/review.yml``."""
    routes = (
        ("GET", "/staff/report", report_handler),
        ("GET", "/staff/report.csv", csv_handler),
        ("POST", "/staff/report/label", label_preview),
        ("POST", "/staff/report/label/save", label_save),
    )
    configured = STAFF_INBOX in app
    app[REPORT_OPTIONS] = ReportOptions(conversations_url, review_file)
    for method, path, handler in routes:
        app.router.add_route(method, path, handler if configured else not_configured)


async def delete_expired_conversations(app: web.Application) -> int:
    """Delete the stored events past the retention period (``conversation_retention_days``)."""
    url = app[REPORT_OPTIONS].conversations_url if REPORT_OPTIONS in app else None
    return await asyncio.to_thread(delete_older_than, get_settings().retention_days, url)


async def _retention_loop(app: web.Application, interval: float) -> None:
    while True:
        try:
            await delete_expired_conversations(app)
        except Exception:  # a locked or absent database: try again next time
            logger.exception("Could not delete the expired conversations")
        await asyncio.sleep(interval)


async def run_retention(
    app: web.Application, interval: float = RETENTION_INTERVAL_SECONDS
) -> AsyncIterator[None]:
    """A cleanup context (``app.cleanup_ctx``): deletes expired conversations at start, then
    every hour, until the app stops."""
    task = asyncio.create_task(_retention_loop(app, interval))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
