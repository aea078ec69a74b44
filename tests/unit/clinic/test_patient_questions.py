"""The "What patients asked" report, from events the real tracker store wrote."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from clinic.contract import READINESS_SENDER
from clinic.conversation_log import (
    DB_PATH_ENV,
    URL_ENV,
    conversations_url,
    delete_older_than,
    read_conversations,
)
from clinic.frontdesk.store import TicketStore
from clinic.patient_questions import (
    FALLBACK,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE,
    UNFINISHED_CLARIFICATION,
    PatientQuestionsReport,
    build_report,
    csv_text,
    group_texts,
    load_report,
    min_confidence_from_env,
    report_text,
    safe_cell,
)
from tests.support.conversation_db import ConversationWriter

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
LONDON = ZoneInfo("Europe/London")


def ago(hours: float) -> float:
    return (NOW - timedelta(hours=hours)).timestamp()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[ConversationWriter]:
    writer = ConversationWriter(tmp_path / "conversations.db")
    yield writer
    writer.close()


def report_of(writer: ConversationWriter, **options) -> PatientQuestionsReport:
    writer.save()
    return build_report(
        read_conversations(writer.url), days=30, time_zone=LONDON, now=NOW, **options
    )


def reasons_by_text(report: PatientQuestionsReport) -> dict[str, str]:
    return {message.text: message.reason for message in report.messages}


# -- grouping -------------------------------------------------------------------------------


def test_similar_messages_share_a_group_and_different_ones_do_not() -> None:
    texts = [
        "what's the weather today",
        "do you sell cars",
        "what is the weather like today",
        "do you sell used cars",
        "tell me a joke",
    ]
    groups = [sorted(texts[i] for i in group) for group in group_texts(texts)]
    assert sorted(["what's the weather today", "what is the weather like today"]) in groups
    assert sorted(["do you sell cars", "do you sell used cars"]) in groups
    assert ["tell me a joke"] in groups
    assert len(groups) == 3


def test_grouping_is_deterministic_whatever_the_order() -> None:
    texts = ["parking near you?", "Do you have PARKING", "asdkjh", "is there parking nearby", "x"]
    first = [sorted(texts[i] for i in g) for g in group_texts(texts)]
    backwards = list(reversed(texts))
    again = [sorted(backwards[i] for i in g) for g in group_texts(backwards)]
    assert first == again == [sorted(texts[i] for i in g) for g in group_texts(texts)]


def test_identical_messages_group_ignoring_case_and_spacing() -> None:
    assert group_texts(["Hello  there", "hello there", "HELLO THERE"]) == [[0, 1, 2]]
    assert group_texts([]) == []


# -- the unanswered rules -------------------------------------------------------------------


def test_each_reason_is_found(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("blorp zing", "nlu_fallback", ago(5), confidence=0.2,
              ranking=(("nlu_fallback", 0.3), ("ask_cost", 0.2)))  # fmt: skip
    c.bot("action_fallback", "fallback", ago(5))
    c.patient("what's the weather", "out_of_scope", ago(4))
    c.bot("action_out_of_scope", "out_of_scope", ago(4))
    c.patient("how much is it", "ask_cost", ago(3))
    c.bot("action_answer", "clarify", ago(3), topic="cost")
    c.patient("never mind then", "goodbye", ago(2.9))
    c.bot("utter_goodbye", "smalltalk", ago(2.9))
    c.patient("is prp good for me", "ask_candidacy", ago(2), confidence=0.42, treatments=("prp",))
    c.bot("action_answer", "answer", ago(2), topic="candidacy", treatments=["prp"], confidence=0.42)
    c.patient("how long does prp take", "ask_procedure_duration", ago(1), treatments=("prp",))
    c.bot("action_answer", "answer", ago(1), topic="procedure_duration", treatments=["prp"],
          confidence=0.93)  # fmt: skip
    report = report_of(writer)
    assert reasons_by_text(report) == {
        "blorp zing": FALLBACK,
        "what's the weather": OUT_OF_SCOPE,
        "how much is it": UNFINISHED_CLARIFICATION,
        "is prp good for me": LOW_CONFIDENCE,
    }
    low = next(m for m in report.messages if m.reason == LOW_CONFIDENCE)
    assert (low.treatments, low.topic, low.confidence) == (("prp",), "candidacy", 0.42)
    f = report.figures
    assert (f.turns, f.turns_answered, f.conversations, f.conversations_answered) == (6, 2, 1, 0)
    assert dict(f.top_topics) == {"candidacy": 1, "procedure_duration": 1}
    assert dict(f.top_treatments) == {"prp": 2}


def test_a_completed_clarification_is_not_unanswered(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("how much is it", "ask_cost", ago(3))
    c.bot("action_answer", "clarify", ago(3), topic="cost")
    c.patient('/inform_treatment{"treatment":"prp"}', "inform_treatment", ago(2.9), confidence=1.0)
    c.bot("action_answer", "answer", ago(2.9), topic="cost", treatments=["prp"], confidence=1.0)
    report = report_of(writer)
    assert report.messages == ()
    assert report.figures.conversations_answered == 1


def test_the_servers_readiness_check_is_not_a_patient(writer: ConversationWriter) -> None:
    # `make run` and the tests ask "hello" as this sender until the model answers.
    check = writer.conversation(f"rest:{READINESS_SENDER}")
    check.patient("hello", "greet", ago(1))
    check.bot("utter_greet", "smalltalk", ago(1))
    patient = writer.conversation("rest:patient-1")
    patient.patient("blorp zing", "nlu_fallback", ago(1), confidence=0.2)
    patient.bot("action_fallback", "fallback", ago(1))
    report = report_of(writer)
    assert report.figures.conversations == 1
    assert reasons_by_text(report) == {"blorp zing": FALLBACK}


def test_a_clarification_ending_the_conversation_is_unfinished(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("side effects?", "ask_side_effects", ago(3))
    c.bot("action_answer", "clarify", ago(3), topic="side_effects")
    assert reasons_by_text(report_of(writer)) == {"side effects?": UNFINISHED_CLARIFICATION}


def test_the_confidence_threshold_is_a_setting(writer: ConversationWriter, monkeypatch) -> None:
    c = writer.conversation("patient-1")
    c.patient("prp price", "ask_cost", ago(1), confidence=0.6)
    c.bot("action_answer", "answer", ago(1), topic="cost", treatments=["prp"], confidence=0.6)
    assert report_of(writer).messages == ()
    assert reasons_by_text(report_of(writer, min_confidence=0.7)) == {"prp price": LOW_CONFIDENCE}
    monkeypatch.setenv("CLINIC_REPORT_MIN_CONFIDENCE", "0.8")
    assert min_confidence_from_env() == 0.8
    monkeypatch.setenv("CLINIC_REPORT_MIN_CONFIDENCE", "lots")
    with pytest.raises(ValueError, match="number from 0 to 1"):
        min_confidence_from_env()


# -- privacy --------------------------------------------------------------------------------


def test_complications_are_counted_never_shown(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("my face is swollen after prp", "report_complication", ago(2))
    c.bot("action_handle_complication", "urgent", ago(2), ticket=4, callback=True)
    c.patient("07700 900123", "give_phone", ago(1.9))
    c.bot("action_take_callback_phone", "urgent", ago(1.9), step="callback_consent")
    c.patient("yes", "affirm", ago(1.8))
    c.bot("action_answer_yes_or_no", "urgent", ago(1.8), step="callback_stored", ticket=4)
    report = report_of(writer)
    assert report.messages == ()
    f = report.figures
    assert (f.complications, f.urgent_callbacks_offered, f.urgent_callbacks_taken) == (3, 1, 1)
    assert "swollen" not in report_text(report) + csv_text(report)


def test_contact_details_are_masked_and_form_answers_left_out(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("book me in", "request_booking", ago(3))
    c.bot("action_start_booking", None, ago(3))
    c.slot("booking_kind", "booking", ago(2.99)).form("booking_form", ago(2.98))
    c.patient("Flat 2, 10 Acacia Avenue", "nlu_fallback", ago(2.9), confidence=0.2)
    c.bot("action_fallback", "fallback", ago(2.9))
    c.form(None, ago(2.8))
    c.patient("text me on 07700 900123 or sam@example.com about zorbing", "nlu_fallback",
              ago(2), confidence=0.2)  # fmt: skip
    c.bot("action_fallback", "fallback", ago(2))
    report = report_of(writer)
    shown = [m.text for m in report.messages]
    assert shown == ["text me on [phone] or [email] about zorbing"]
    everything = report_text(report) + csv_text(report)
    for personal in ("07700", "sam@example.com", "Acacia", "patient-1"):
        assert personal not in everything
    assert report.figures.bookings_started == 1


# -- figures --------------------------------------------------------------------------------


def test_bookings_and_callbacks_started_and_submitted(writer: ConversationWriter) -> None:
    booking = writer.conversation("patient-1")
    booking.patient("book me in", "request_booking", ago(5))
    booking.bot("action_start_booking", None, ago(5))
    booking.slot("booking_kind", "booking", ago(4.99))
    booking.patient("yes", "affirm", ago(4.5))
    booking.bot("action_submit_booking", "booking", ago(4.5), ticket=7, filed="created")
    callback = writer.conversation("patient-2")
    callback.patient("can someone call me", "request_human", ago(3))
    callback.bot("action_start_booking", None, ago(3))
    callback.slot("booking_kind", "callback", ago(2.99))
    callback.patient("stop", "stop", ago(2.5))
    callback.bot("action_stop_booking", "handoff", ago(2.5), ticket=None)
    f = report_of(writer).figures
    assert (f.bookings_started, f.bookings_submitted) == (1, 1)
    assert (f.callbacks_started, f.callbacks_submitted) == (1, 0)
    assert f.conversations == 2


def test_per_day_and_week_counts_in_the_clinic_time_zone(writer: ConversationWriter) -> None:
    # 23:30 UTC on 30 Jun is 00:30 on 1 Jul in London (summer time).
    late = datetime(2026, 6, 30, 23, 30, tzinfo=timezone.utc).timestamp()
    c = writer.conversation("patient-1")
    c.patient("blorp", "nlu_fallback", late, confidence=0.1)
    c.bot("action_fallback", "fallback", late)
    writer.save()
    report = build_report(
        read_conversations(writer.url), days=5, time_zone=LONDON,
        now=datetime(2026, 7, 2, 12, 0, tzinfo=timezone.utc),
    )  # fmt: skip
    per_day = {day.isoformat(): n for day, n in report.figures.unanswered_per_day}
    assert per_day["2026-07-01"] == 1 and per_day["2026-06-30"] == 0
    assert dict(report.figures.unanswered_per_week)["2026-W27"] == 1
    assert report.figures.conversations_per_day[-2][1] == 1  # 1 July


def test_filters_narrow_the_messages_not_the_figures(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient("blorp", "nlu_fallback", ago(2), confidence=0.1)
    c.bot("action_fallback", "fallback", ago(2))
    c.patient("is prp ok", "ask_candidacy", ago(1), confidence=0.3, treatments=("prp",))
    c.bot("action_answer", "answer", ago(1), topic="candidacy", treatments=["prp"], confidence=0.3)
    writer.save()
    conversations = read_conversations(writer.url)
    by_treatment = build_report(conversations, days=30, time_zone=LONDON, now=NOW,
                                treatment="prp")  # fmt: skip
    assert [m.text for m in by_treatment.messages] == ["is prp ok"]
    by_reason = build_report(conversations, days=30, time_zone=LONDON, now=NOW, reason=FALLBACK)
    assert [m.text for m in by_reason.messages] == ["blorp"]
    assert by_reason.figures.turns == 2
    with pytest.raises(ValueError, match="unknown reason"):
        build_report(conversations, days=30, time_zone=LONDON, now=NOW, reason="bored")


def test_urgent_tickets_are_counted_from_the_ticket_store(
    writer: ConversationWriter, tmp_path: Path
) -> None:
    store = TicketStore(f"sqlite:///{tmp_path / 'tickets.db'}")
    try:
        for number, urgency in enumerate(("urgent", "urgent", "routine")):
            store.create(idempotency_key=f"ticket-{number}",
                         category="complication", urgency=urgency, channel="rest",
                         messages=["private text"])  # fmt: skip
        report = load_report(days=7, url=writer.url, ticket_store=store)
    finally:
        store.close()
    assert report.figures.urgent_tickets == 2


def test_the_period_is_at_most_the_retention_period(writer: ConversationWriter) -> None:
    with pytest.raises(ValueError, match="retention period"):
        load_report(days=10_000, url=writer.url)


# -- the CSV --------------------------------------------------------------------------------


def test_csv_quotes_and_guards_against_formulas(writer: ConversationWriter) -> None:
    c = writer.conversation("patient-1")
    c.patient('=HYPERLINK("http://evil","x"), ok?', "nlu_fallback", ago(3), confidence=0.1)
    c.bot("action_fallback", "fallback", ago(3))
    c.patient('+44 is it, @you; -3 "quoted"\nnext line', "nlu_fallback", ago(2), confidence=0.1)
    c.bot("action_fallback", "fallback", ago(2))
    rows = list(csv.reader(io.StringIO(csv_text(report_of(writer)))))
    assert rows[0] == ["message", "when", "reason", "intent", "confidence", "treatment", "group"]
    messages = {row[0] for row in rows[1:]}
    assert messages == {
        '\'+44 is it, @you; -3 "quoted" next line',
        '\'=HYPERLINK("http://evil","x"), ok?',
    }
    when = {row[1] for row in rows[1:]}
    assert when == {"2026-12-03 09:00", "2026-12-03 10:00"}  # London is UTC in December
    assert all(row[2] == "fallback" and row[6] for row in rows[1:])
    assert safe_cell("-1") == "'-1" and safe_cell("fine") == "fine" and safe_cell(None) == ""


# -- retention and the database -------------------------------------------------------------


def test_retention_deletes_old_events_and_keeps_recent_ones(writer: ConversationWriter) -> None:
    old = writer.conversation("patient-old")
    old.patient("an old question", "greet", ago(24 * 100))
    old.bot("utter_greet", "smalltalk", ago(24 * 100))
    recent = writer.conversation("patient-new")
    recent.patient("a new question", "greet", ago(24 * 89))
    recent.bot("utter_greet", "smalltalk", ago(24 * 89))
    writer.save()
    deleted = delete_older_than(90, writer.url, now=NOW)
    assert deleted == 7  # session start, session, listen, user, action, bot, listen
    texts = [t.text for c in read_conversations(writer.url) for t in c.turns]
    assert texts == ["a new question"]
    with sqlite3.connect(writer.path) as connection:
        left = connection.execute("select count(*) from events").fetchone()[0]
    assert left == 7
    assert delete_older_than(90, writer.url, now=NOW) == 0
    with pytest.raises(ValueError):
        delete_older_than(0, writer.url)


def test_a_missing_database_reads_empty_and_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert read_conversations(url) == []
    assert delete_older_than(90, url) == 0
    assert not (tmp_path / "none.db").exists()


def test_the_database_setting(tmp_path: Path) -> None:
    assert conversations_url({URL_ENV: "postgresql://db/x"}) == "postgresql://db/x"
    path = tmp_path / "c.db"
    assert conversations_url({DB_PATH_ENV: str(path)}) == f"sqlite:///{path}"


def test_text_report_lists_figures_and_groups(writer: ConversationWriter) -> None:
    for n in range(3):
        c = writer.conversation(f"patient-{n}")
        c.patient(f"do you do tattoo removal {'please' * n}", "out_of_scope", ago(n + 1))
        c.bot("action_out_of_scope", "out_of_scope", ago(n + 1))
    text = report_text(report_of(writer))
    assert "Conversations: 3" in text
    assert "   3  do you do tattoo removal" in text
    assert "out of scope" in text
