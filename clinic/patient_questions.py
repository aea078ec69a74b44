""" "What patients asked": the questions the assistant could not answer, and the clinic's figures.

Built from the stored conversations (``clinic.conversation_log``). A patient message counts as
*unanswered* when it ended in

- ``fallback``: the assistant did not understand it;
- ``out_of_scope``: an out-of-scope reply (weather, medicine doses, procedures not offered);
- ``unfinished_clarification``: a ``clarify`` reply ("which treatment?") whose next patient
  message got no answer, or that ended the conversation;
- ``low_confidence``: an answer given with an intent confidence below the threshold
  (``$CLINIC_REPORT_MIN_CONFIDENCE``, default 0.5).

Not listed, so no personal data reaches the report: messages typed while the booking or
call-back form was asking its questions and not understood (names, numbers, addresses),
button presses (``/intent{...}`` payloads, not typed) and complications (a
``report_complication`` message or an ``urgent`` reply): those are counted, never shown.
Phone numbers and e-mail addresses in shown text are masked (``clinic.log_privacy.redact``).

Unanswered messages are grouped by similarity with the features the NLU model uses
(character n-grams within word boundaries, TF-IDF, cosine similarity; see ``config.yml``) and
a leader clustering: in a fixed order, each message joins the most similar group leader at or
above :data:`SIMILARITY_THRESHOLD`, else leads a new group. The same messages always give the
same groups.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TextIO
from zoneinfo import ZoneInfo

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from clinic.contract import REPORT_COMPLICATION, TOPIC_BY_INTENT, TOPICS
from clinic.conversation_log import Conversation, PatientTurn, read_conversations
from clinic.frontdesk.store import STATUSES, TicketStore
from clinic.knowledge import get_knowledge
from clinic.log_privacy import redact
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

MIN_CONFIDENCE_ENV = "CLINIC_REPORT_MIN_CONFIDENCE"
DEFAULT_MIN_CONFIDENCE = 0.5
SIMILARITY_THRESHOLD = 0.5
EXAMPLES_PER_GROUP = 5
SIMILARITY_CHUNK = 256  # rows of the similarity matrix computed at once

FALLBACK = "fallback"
OUT_OF_SCOPE = "out_of_scope"
UNFINISHED_CLARIFICATION = "unfinished_clarification"
LOW_CONFIDENCE = "low_confidence"
REASONS: dict[str, str] = {
    FALLBACK: "Not understood",
    OUT_OF_SCOPE: "Out of scope",
    UNFINISHED_CLARIFICATION: "Clarification not completed",
    LOW_CONFIDENCE: "Answered with low confidence",
}
CSV_COLUMNS = ("message", "when", "reason", "intent", "confidence", "treatment", "group")
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def min_confidence_from_env(environ: dict[str, str] | None = None) -> float:
    """``$CLINIC_REPORT_MIN_CONFIDENCE`` (0 to 1), default 0.5."""
    environ = dict(os.environ) if environ is None else environ
    raw = environ.get(MIN_CONFIDENCE_ENV, "").strip()
    if not raw:
        return DEFAULT_MIN_CONFIDENCE
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(
            f"${MIN_CONFIDENCE_ENV} must be a number from 0 to 1, not {raw!r}"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"${MIN_CONFIDENCE_ENV} must be from 0 to 1, not {value}")
    return value


@dataclass(frozen=True)
class UnansweredMessage:
    at: datetime  # UTC
    text: str  # as shown: phone numbers and e-mail addresses masked
    reason: str  # a key of REASONS
    intent: str | None  # what the NLU decided (``nlu_fallback`` when unsure)
    guessed_intent: str | None  # its best guess that is not the fallback
    confidence: float | None
    treatments: tuple[str, ...]
    topic: str | None
    group: int = 0  # the group's number in the report, 1 = the largest


@dataclass(frozen=True)
class MessageGroup:
    number: int
    representative: str
    count: int
    examples: tuple[str, ...]  # distinct texts, most frequent first
    reasons: tuple[tuple[str, int], ...]
    treatments: tuple[tuple[str, int], ...]
    topics: tuple[tuple[str, int], ...]
    intents: tuple[tuple[str, int], ...]  # the model's guesses


@dataclass(frozen=True)
class Figures:
    """What a clinic manager asks for, over the report's period."""

    conversations: int
    conversations_answered: int  # no unanswered message in them
    turns: int
    turns_answered: int
    conversations_per_day: tuple[tuple[date, int], ...]
    unanswered_per_day: tuple[tuple[date, int], ...]
    unanswered_per_week: tuple[tuple[str, int], ...]  # ISO week "2026-W49"
    top_topics: tuple[tuple[str, int], ...]  # answers given, by topic
    top_treatments: tuple[tuple[str, int], ...]  # messages naming or answered about each
    unanswered_by_topic: tuple[tuple[str, int], ...]
    unanswered_by_treatment: tuple[tuple[str, int], ...]
    bookings_started: int
    bookings_submitted: int
    callbacks_started: int  # the call-back form ("talk to a person")
    callbacks_submitted: int
    urgent_callbacks_offered: int  # after urgent advice: "may the clinic call you?"
    urgent_callbacks_taken: int  # the phone number kept on the urgent ticket
    complications: int  # messages, counted only
    urgent_tickets: int | None  # from the ticket store; None when not read


@dataclass(frozen=True)
class PatientQuestionsReport:
    since: datetime
    until: datetime
    days: int
    time_zone: ZoneInfo
    min_confidence: float
    messages: tuple[UnansweredMessage, ...]  # newest first
    groups: tuple[MessageGroup, ...]  # largest first
    figures: Figures
    reason: str | None = None  # the filters applied to the messages
    treatment: str | None = None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.time_zone)


def is_complication(turn: PatientTurn) -> bool:
    return turn.intent == REPORT_COMPLICATION or "urgent" in turn.reply_types


def _answered(turn: PatientTurn) -> bool:
    return "answer" in turn.reply_types


def unanswered_reason(
    turn: PatientTurn, next_turn: PatientTurn | None, min_confidence: float
) -> str | None:
    """Why ``turn`` counts as unanswered (a key of :data:`REASONS`), or None."""
    types = turn.reply_types
    if FALLBACK in types:
        return FALLBACK
    if OUT_OF_SCOPE in types:
        return OUT_OF_SCOPE
    if "clarify" in types and not _answered(turn):
        if next_turn is None or not _answered(next_turn):
            return UNFINISHED_CLARIFICATION
        return None
    for reply in turn.replies:
        if reply.type == "answer":
            confidence = reply.confidence if reply.confidence is not None else turn.confidence
            if confidence is not None and confidence < min_confidence:
                return LOW_CONFIDENCE
    return None


def _shown(turn: PatientTurn, reason: str | None) -> bool:
    """Whether an unanswered message may be listed (see the module's privacy notes)."""
    if is_complication(turn) or turn.text.lstrip().startswith("/"):
        return False
    return not (turn.in_form and reason == FALLBACK)


def _topic(turn: PatientTurn) -> str | None:
    for reply in turn.replies:
        if reply.topic:
            return reply.topic
    # Not the fallback's guess: a message not understood asked no known topic.
    return TOPIC_BY_INTENT.get(turn.intent or "")


def _treatments(turn: PatientTurn) -> tuple[str, ...]:
    found = list(turn.treatments)
    for reply in turn.replies:
        found += [t for t in reply.treatments if t not in found]
    return tuple(found)


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def group_texts(texts: Sequence[str], threshold: float = SIMILARITY_THRESHOLD) -> list[list[int]]:
    """Groups of similar texts, as lists of indexes into ``texts``.

    Identical texts (ignoring case and spacing) always share a group. The others are taken in
    a fixed order (most frequent first, then alphabetically) and each joins the group whose
    leader is most similar (cosine of char_wb 2-5-gram TF-IDF vectors) if at least
    ``threshold``, else starts a group. Groups come largest first.
    """
    if not texts:
        return []
    by_text: dict[str, list[int]] = {}
    for index, text in enumerate(texts):
        by_text.setdefault(_normalised(text), []).append(index)
    unique = sorted(by_text, key=lambda t: (-len(by_text[t]), t))
    if len(unique) == 1:
        return [by_text[unique[0]]]
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=True).fit_transform(
        unique
    )  # rows are L2-normalised: a dot product is the cosine
    leaders: list[int] = []  # indexes into ``unique``
    members: list[list[int]] = []
    for start in range(0, len(unique), SIMILARITY_CHUNK):
        block = (vectors[start : start + SIMILARITY_CHUNK] @ vectors.T).toarray()
        for offset, row in enumerate(block):
            position = start + offset
            if leaders:
                similarities = row[leaders]
                best = int(np.argmax(similarities))  # the first of equals: deterministic
                if similarities[best] >= threshold:
                    members[best].append(position)
                    continue
            leaders.append(position)
            members.append([position])
    groups = [sorted(i for u in group for i in by_text[unique[u]]) for group in members]
    return sorted(groups, key=lambda g: (-len(g), min(_normalised(texts[i]) for i in g)))


def _ranked(counter: Counter, limit: int | None = None) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:limit])


def _groups(
    messages: list[UnansweredMessage],
) -> tuple[list[UnansweredMessage], list[MessageGroup]]:
    indexes = group_texts([m.text for m in messages])
    numbered = list(messages)
    groups = []
    for number, members in enumerate(indexes, start=1):
        texts = Counter(messages[i].text for i in members)
        guesses = [messages[i].guessed_intent for i in members]
        examples = [text for text, _ in _ranked(texts)]
        for i in members:
            numbered[i] = _with_group(messages[i], number)
        groups.append(
            MessageGroup(
                number=number,
                representative=examples[0],
                count=len(members),
                examples=tuple(examples[:EXAMPLES_PER_GROUP]),
                reasons=_ranked(Counter(messages[i].reason for i in members)),
                treatments=_ranked(Counter(t for i in members for t in messages[i].treatments)),
                topics=_ranked(Counter(messages[i].topic for i in members if messages[i].topic)),
                intents=_ranked(Counter(g for g in guesses if g)),
            )
        )
    return numbered, groups


def _with_group(message: UnansweredMessage, number: int) -> UnansweredMessage:
    return UnansweredMessage(**{**message.__dict__, "group": number})


def _days(since: datetime, until: datetime, zone: ZoneInfo) -> list[date]:
    first, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def build_report(
    conversations: Iterable[Conversation],
    *,
    days: int,
    time_zone: ZoneInfo,
    now: datetime | None = None,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    reason: str | None = None,
    treatment: str | None = None,
    urgent_tickets: int | None = None,
) -> PatientQuestionsReport:
    """The report over the last ``days`` days before ``now``; ``reason`` and ``treatment``
    narrow the listed messages and groups (the figures always cover everything)."""
    if reason is not None and reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}: use one of {', '.join(REASONS)}")
    until = now or datetime.now(timezone.utc)
    since = until - timedelta(days=days)
    calendar = _days(since, until, time_zone)
    per_day: Counter = Counter()
    unanswered_per_day: Counter = Counter()
    topics: Counter = Counter()
    treatments: Counter = Counter()
    counts: Counter = Counter()
    messages: list[UnansweredMessage] = []
    for conversation in conversations:
        turns = [t for t in conversation.turns if since <= t.at <= until]
        if not turns:
            continue
        counts["conversations"] += 1
        all_answered = True
        for day in {t.at.astimezone(time_zone).date() for t in turns}:
            per_day[day] += 1
        for position, turn in enumerate(turns):
            next_turn = turns[position + 1] if position + 1 < len(turns) else None
            _count_outcomes(turn, counts)
            treatments.update(_treatments(turn))
            topics.update(r.topic for r in turn.replies if r.type == "answer" and r.topic)
            counts["turns"] += 1
            why = unanswered_reason(turn, next_turn, min_confidence)
            if why is None:
                counts["turns_answered"] += 1
                continue
            all_answered = False
            if not _shown(turn, why):
                continue
            message = UnansweredMessage(
                at=turn.at,
                text=redact(" ".join(turn.text.split())),
                reason=why,
                intent=turn.intent,
                guessed_intent=turn.guessed_intent,
                confidence=turn.confidence,
                treatments=_treatments(turn),
                topic=_topic(turn),
            )
            unanswered_per_day[turn.at.astimezone(time_zone).date()] += 1
            if (reason is None or message.reason == reason) and (
                treatment is None or treatment in message.treatments
            ):
                messages.append(message)
        counts["conversations_answered"] += all_answered
    messages.sort(key=lambda m: (m.at, m.text), reverse=True)
    messages, groups = _groups(messages)
    weeks: Counter = Counter()
    for day in calendar:
        weeks[_week(day)] += unanswered_per_day[day]
    figures = Figures(
        conversations=counts["conversations"],
        conversations_answered=counts["conversations_answered"],
        turns=counts["turns"],
        turns_answered=counts["turns_answered"],
        conversations_per_day=tuple((day, per_day[day]) for day in calendar),
        unanswered_per_day=tuple((day, unanswered_per_day[day]) for day in calendar),
        unanswered_per_week=tuple(sorted(weeks.items())),
        top_topics=_ranked(topics, 10),
        top_treatments=_ranked(treatments, 10),
        unanswered_by_topic=_ranked(Counter(m.topic for m in messages if m.topic)),
        unanswered_by_treatment=_ranked(Counter(t for m in messages for t in m.treatments)),
        bookings_started=counts["bookings_started"],
        bookings_submitted=counts["bookings_submitted"],
        callbacks_started=counts["callbacks_started"],
        callbacks_submitted=counts["callbacks_submitted"],
        urgent_callbacks_offered=counts["urgent_callbacks_offered"],
        urgent_callbacks_taken=counts["urgent_callbacks_taken"],
        complications=counts["complications"],
        urgent_tickets=urgent_tickets,
    )
    return PatientQuestionsReport(
        since=since,
        until=until,
        days=days,
        time_zone=time_zone,
        min_confidence=min_confidence,
        messages=tuple(messages),
        groups=tuple(groups),
        figures=figures,
        reason=reason,
        treatment=treatment,
    )


def _count_outcomes(turn: PatientTurn, counts: Counter) -> None:
    """Bookings and call-backs: the form started (``action_start_booking`` set the kind) and
    submitted (``action_submit_booking`` replied with a ticket: ``booking`` for a booking,
    ``handoff`` for a call-back); urgent call-backs offered (an urgent reply with
    ``callback``) and taken (``step: callback_stored`` with the ticket)."""
    if is_complication(turn):
        counts["complications"] += 1
    if turn.booking_kind == "booking":
        counts["bookings_started"] += 1
    elif turn.booking_kind == "callback":
        counts["callbacks_started"] += 1
    for reply in turn.replies:
        if reply.action == "action_submit_booking" and reply.ticket is not None:
            counts["bookings_submitted" if reply.type == "booking" else "callbacks_submitted"] += 1
        if reply.type == "urgent" and reply.callback:
            counts["urgent_callbacks_offered"] += 1
        if reply.type == "urgent" and reply.step == "callback_stored" and reply.ticket is not None:
            counts["urgent_callbacks_taken"] += 1


def load_report(
    *,
    days: int | None = None,
    url: str | None = None,
    now: datetime | None = None,
    min_confidence: float | None = None,
    reason: str | None = None,
    treatment: str | None = None,
    ticket_store: TicketStore | None = None,
) -> PatientQuestionsReport:
    """The report from the stored conversations, over ``days`` (default and at most the
    retention period, ``conversation_retention_days``), with the urgent tickets of that
    period counted from ``ticket_store`` (a ``clinic.frontdesk.store.TicketStore``)."""
    settings = get_settings()
    retention = settings.retention_days
    days = retention if days is None else days
    if not 1 <= days <= retention:
        raise ValueError(f"the period must be 1 to {retention} days (the retention period)")
    now = now or datetime.now(timezone.utc)
    since = now - timedelta(days=days)
    return build_report(
        read_conversations(url, since=since),
        days=days,
        time_zone=settings.time_zone,
        now=now,
        min_confidence=min_confidence_from_env() if min_confidence is None else min_confidence,
        reason=reason,
        treatment=treatment,
        urgent_tickets=None if ticket_store is None else _urgent_or_none(ticket_store, since),
    )


def _urgent_or_none(ticket_store: TicketStore, since: datetime) -> int | None:
    try:
        return count_urgent_tickets(ticket_store, since)
    except Exception:  # the ticket database down: the rest of the report still helps
        logger.warning("Could not count the urgent tickets for the report", exc_info=True)
        return None


def count_urgent_tickets(ticket_store: TicketStore, since: datetime) -> int:
    """Urgent tickets created since ``since``, whatever their status (counts only)."""
    tickets = ticket_store.list_tickets(STATUSES)
    return sum(1 for t in tickets if t.urgency == "urgent" and _as_utc(t.created_at) >= since)


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading ``= + - @`` gets an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(report: PatientQuestionsReport, out: TextIO) -> int:
    """The report's messages as CSV (times in the clinic's zone); returns the rows written."""
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for message in report.messages:
        writer.writerow(
            [
                safe_cell(message.text),
                report.local(message.at).strftime("%Y-%m-%d %H:%M"),
                message.reason,
                safe_cell(message.intent or ""),
                "" if message.confidence is None else f"{message.confidence:.2f}",
                safe_cell(" ".join(message.treatments)),
                message.group,
            ]
        )
    return len(report.messages)


def csv_text(report: PatientQuestionsReport) -> str:
    out = io.StringIO()
    write_csv(report, out)
    return out.getvalue()


def share(part: int, whole: int) -> str:
    return "-" if whole == 0 else f"{100 * part / whole:.0f}%"


def report_text(report: PatientQuestionsReport, *, top_groups: int = 10) -> str:
    """The figures and the largest groups, as plain text for the terminal."""
    f = report.figures
    local_since = report.local(report.since).strftime("%Y-%m-%d")
    local_until = report.local(report.until).strftime("%Y-%m-%d")
    lines = [
        f"What patients asked: the last {report.days} days ({local_since} to {local_until}, "
        f"{report.time_zone.key})",
        "",
        f"Conversations: {f.conversations} ({share(f.conversations_answered, f.conversations)} "
        "with every message answered)",
        f"Patient messages: {f.turns} ({share(f.turns_answered, f.turns)} answered)",
        f"Unanswered messages listed: {len(report.messages)}" + _filters_text(report),
        f"Bookings: {f.bookings_started} started, {f.bookings_submitted} submitted",
        f"Call-backs: {f.callbacks_started} started, {f.callbacks_submitted} submitted; "
        f"after urgent advice {f.urgent_callbacks_offered} offered, "
        f"{f.urgent_callbacks_taken} phone numbers taken",
        f"Complications reported: {f.complications} messages (counts only)",
    ]
    if f.urgent_tickets is not None:
        lines.append(f"Urgent tickets: {f.urgent_tickets}")
    lines += ["", "Top topics answered: " + (_pairs(_topic_names(f.top_topics)) or "none")]
    lines.append("Top treatments asked: " + (_pairs(_treatment_names(f.top_treatments)) or "none"))
    weeks = [(week, count) for week, count in f.unanswered_per_week if count]
    lines.append("Unanswered per week: " + (_pairs(weeks) or "none"))
    lines += ["", f"Top groups of unanswered messages (similar messages together, confidence "
              f"threshold {report.min_confidence:.2f}):"]  # fmt: skip
    if not report.groups:
        lines.append("  none")
    for group in report.groups[:top_groups]:
        reasons = ", ".join(REASONS[r].lower() for r, _ in group.reasons)
        about = _pairs(_treatment_names(group.treatments) + _topic_names(group.topics))
        lines.append(f"  {group.count:>4}  {group.representative}")
        lines.append(f"        {reasons}" + (f"; {about}" if about else ""))
        for example in group.examples[1:3]:
            lines.append(f"        also: {example}")
    return "\n".join(lines) + "\n"


def _filters_text(report: PatientQuestionsReport) -> str:
    parts = []
    if report.reason:
        parts.append(f"reason {REASONS[report.reason].lower()}")
    if report.treatment:
        parts.append(f"treatment {report.treatment}")
    return f" ({', '.join(parts)})" if parts else ""


def _topic_names(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple((TOPICS.get(topic, topic), count) for topic, count in pairs)


def _treatment_names(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    treatments = get_knowledge().treatments
    return tuple((treatments[t].name if t in treatments else t, count) for t, count in pairs)


def _pairs(pairs: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {count}" for name, count in pairs)
