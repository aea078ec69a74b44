"""Every action, run with real rasa_sdk objects (CollectingDispatcher, Tracker)."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_actions import ActionAnswerQuestion
from actions.clinic_actions import ActionClinicInfo, days_mentioned
from actions.fallback_actions import ActionFallback, ActionOutOfScope
from clinic.contract import INTENT_BY_TOPIC, TOPICS
from clinic.knowledge import get_knowledge
from clinic.settings import get_settings
from tests.support.replies import run_action, text_of
from tests.support.trackers import make_tracker

KNOWLEDGE = get_knowledge()
TREATMENT_IDS = list(KNOWLEDGE.treatments)
PLAIN_TOPICS = [t for t in TOPICS if t not in ("comparison", "concern")]


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
@pytest.mark.parametrize("topic", PLAIN_TOPICS)
def test_answers_each_topic_for_each_treatment(topic: str, treatment_id: str) -> None:
    tracker = make_tracker(INTENT_BY_TOPIC[topic], [("treatment", treatment_id)], confidence=0.87)
    messages, reply, slots = run_action(ActionAnswerQuestion(), tracker)
    treatment = KNOWLEDGE.treatments[treatment_id]
    assert reply == {
        "type": "answer",
        "topic": topic,
        "treatments": [treatment_id],
        "sources": reply["sources"],
        "confidence": 0.87,
    }
    assert set(treatment.answers[topic].sources) <= set(reply["sources"])
    assert treatment.answers[topic].text in text_of(messages)
    if treatment.notice:
        assert treatment.notice.text in text_of(messages)
    assert slots == {"topic": topic, "pending_topic": None, "treatments": [treatment_id]}


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
def test_cost_answers_start_with_the_clinic_prices(treatment_id: str) -> None:
    settings = get_settings()
    messages, _, _ = run_action(
        ActionAnswerQuestion(), make_tracker("ask_cost", [("treatment", treatment_id)])
    )
    price = settings.prices[treatment_id]
    text = text_of(messages)
    first_sentence = text.split(". ")[0]
    assert settings.format_money(price.per_session) in first_sentence
    assert settings.format_money(price.per_course) in text
    assert text.lower().count("consultation") == 1  # "confirmed at your consultation", once
    assert [b["payload"] for b in messages[-1]["buttons"]] == ["/request_booking", "/request_human"]


def test_exosome_answers_say_donor_derived_and_not_approved() -> None:
    messages, _, _ = run_action(
        ActionAnswerQuestion(), make_tracker("ask_benefits", [("treatment", "exosomes")])
    )
    assert "donor" in text_of(messages) and "not approved" in text_of(messages)


def test_follow_up_uses_the_treatment_in_context() -> None:
    tracker = make_tracker(
        "ask_sessions", slots={"treatments": ["mesotherapy"], "topic": "overview"}
    )
    _, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert (reply["topic"], reply["treatments"]) == ("sessions", ["mesotherapy"])


def test_bare_treatment_follows_up_the_last_topic() -> None:
    tracker = make_tracker(
        "inform_treatment",
        [("treatment", "exosomes")],
        {"treatments": ["prp"], "topic": "recovery_time"},
    )
    _, reply, slots = run_action(ActionAnswerQuestion(), tracker)
    assert (reply["topic"], reply["treatments"]) == ("recovery_time", ["exosomes"])
    assert slots["treatments"] == ["exosomes"]


def test_question_without_treatment_asks_which_with_buttons() -> None:
    messages, reply, slots = run_action(ActionAnswerQuestion(), make_tracker("ask_cost"))
    assert reply == {"type": "clarify", "topic": "cost", "options": TREATMENT_IDS}
    buttons = messages[-1]["buttons"]
    assert [b["title"] for b in buttons] == [t.name for t in KNOWLEDGE.treatments.values()]
    assert buttons[1]["payload"] == '/inform_treatment{"treatment":"prp"}'
    assert slots == {"pending_topic": "cost"}


def test_pending_topic_is_answered_by_the_next_treatment() -> None:
    tracker = make_tracker(
        "inform_treatment",
        [("treatment", "microneedling_prp")],
        {"pending_topic": "cost", "topic": "pain"},
    )
    _, reply, slots = run_action(ActionAnswerQuestion(), tracker)
    assert (reply["topic"], reply["treatments"]) == ("cost", ["microneedling_prp"])
    assert slots["pending_topic"] is None


@pytest.mark.parametrize(
    "entities, context, expected",
    [
        ([("treatment", "prp"), ("treatment", "exosomes")], None, ["prp", "exosomes"]),
        ([("treatment", "exosomes")], ["prp"], ["prp", "exosomes"]),
        ([("treatment", ["mesotherapy", "prp"])], None, ["mesotherapy", "prp"]),
        ([("treatment", "prp"), ("treatment", "exosomes"), ("treatment", "mesotherapy")], None,
         ["prp", "exosomes", "mesotherapy"]),
    ],
)  # fmt: skip
def test_comparisons(entities, context, expected) -> None:
    tracker = make_tracker("compare_treatments", entities, {"treatments": context})
    messages, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert (reply["type"], reply["topic"], reply["treatments"]) == (
        "answer",
        "comparison",
        expected,
    )
    explicit = KNOWLEDGE.comparison_for(expected)
    if explicit is not None:
        assert explicit.text in text_of(messages)
    else:  # side by side, from each treatment's own summary
        for treatment_id in expected:
            assert KNOWLEDGE.treatments[treatment_id].answers["comparison"].text in text_of(
                messages
            )


def test_comparison_with_one_treatment_asks_for_the_other() -> None:
    tracker = make_tracker("compare_treatments", [("treatment", "prp")])
    _, reply, slots = run_action(ActionAnswerQuestion(), tracker)
    assert (reply["type"], reply["topic"]) == ("clarify", "comparison")
    assert "prp" not in reply["options"]
    assert slots == {"pending_topic": "comparison", "treatments": ["prp"]}
    # the patient picks exosomes: the button sends compare_treatments with it
    follow_up = make_tracker("compare_treatments", [("treatment", "exosomes")], slots)
    _, reply, _ = run_action(ActionAnswerQuestion(), follow_up)
    assert reply["treatments"] == ["prp", "exosomes"]


@pytest.mark.parametrize("concern_id", sorted(KNOWLEDGE.concerns))
def test_concerns_recommend_treatments(concern_id: str) -> None:
    messages, reply, _ = run_action(
        ActionAnswerQuestion(), make_tracker("ask_concern", [("concern", concern_id)])
    )
    concern = KNOWLEDGE.concerns[concern_id]
    assert reply["topic"] == "concern" and reply["concern"] == concern_id
    assert reply["treatments"] == list(concern.treatments)
    assert concern.text in text_of(messages)


def test_concern_question_without_concern_asks_which() -> None:
    _, reply, _ = run_action(ActionAnswerQuestion(), make_tracker("ask_concern"))
    assert (reply["type"], reply["topic"]) == ("clarify", "concern")


def test_not_offered_procedure_is_out_of_scope() -> None:
    messages, reply, _ = run_action(
        ActionAnswerQuestion(), make_tracker("ask_cost", [("other_procedure", "botox")])
    )
    assert reply == {"type": "out_of_scope", "not_offered": ["botox"]}
    assert "Botox" in text_of(messages)


def test_unknown_entity_values_are_ignored() -> None:
    _, reply, _ = run_action(
        ActionAnswerQuestion(), make_tracker("ask_pain", [("treatment", "laser")])
    )
    assert reply["type"] == "clarify"


@pytest.mark.parametrize(
    "text, days",
    [
        ("are you open on Saturday?", ["saturday"]),
        ("open sat or sun", ["saturday", "sunday"]),
        ("what about the weekend", ["saturday", "sunday"]),
        ("mondays?", ["monday"]),
        ("when are you open", []),
        ("I'm satisfied", []),
    ],
)
def test_days_mentioned(text: str, days: list[str]) -> None:
    assert days_mentioned(text) == days


@pytest.mark.parametrize(
    "intent, text, info, expected",
    [
        ("ask_opening_hours", "are you open on saturday", "hours", "On Saturday we're open 10:00-14:00."),
        ("ask_opening_hours", "open sundays?", "hours", "On Sunday we're closed."),
        ("ask_opening_hours", "what are your hours", "hours", "Monday: 09:00-18:00"),
        ("ask_location", "where are you", "location", "12 Example Street"),
        ("ask_contact", "phone number?", "contact", "+44 20 7946 0000"),
    ],
)  # fmt: skip
def test_clinic_info(intent: str, text: str, info: str, expected: str) -> None:
    messages, reply, _ = run_action(ActionClinicInfo(), make_tracker(intent, text=text))
    assert reply == {"type": "clinic_info", "info": info}
    assert expected in text_of(messages)


def test_fallback_offers_the_closest_topics() -> None:
    tracker = make_tracker(
        "nlu_fallback",
        [("treatment", "prp")],
        ranking=[
            ("nlu_fallback", 0.3),
            ("ask_recovery_time", 0.25),
            ("greet", 0.2),
            ("ask_pain", 0.1),
        ],
    )
    messages, reply, _ = run_action(ActionFallback(), tracker)
    titles = [b["title"] for b in messages[-1]["buttons"]]
    prp = KNOWLEDGE.treatments["prp"].name
    assert titles == [f"Recovery time: {prp}", f"Does it hurt?: {prp}", "Talk to a person"]
    assert reply["type"] == "fallback"
    assert reply["suggestions"][0] == '/ask_recovery_time{"treatment":"prp"}'


def test_fallback_without_suggestions_says_what_it_can_do() -> None:
    messages, reply, _ = run_action(ActionFallback(), make_tracker("nlu_fallback", ranking=[]))
    assert "I can answer questions about our treatments" in text_of(messages)
    assert reply["suggestions"] == ["/request_human"]


@pytest.mark.parametrize(
    "entities, expected",
    [
        ([("other_procedure", "botox")], "doesn't offer Botox"),
        ([], "can't give general medical advice"),
    ],
)
def test_out_of_scope(entities, expected: str) -> None:
    messages, reply, _ = run_action(ActionOutOfScope(), make_tracker("out_of_scope", entities))
    assert reply["type"] == "out_of_scope"
    assert expected in text_of(messages)


def test_slot_events_are_rasa_sdk_events() -> None:
    dispatcher = CollectingDispatcher()
    events = ActionAnswerQuestion().run(dispatcher, make_tracker("ask_cost"), {})
    assert events == [SlotSet("pending_topic", "cost")]


def test_two_questions_in_one_message_say_which_is_answered_and_offer_the_other() -> None:
    tracker = make_tracker(
        "ask_sessions",
        [("treatment", "prp")],
        text="How many sessions of PRP would I need? And does it hurt?",
        ranking=[("ask_sessions", 0.6), ("ask_pain", 0.3), ("ask_cost", 0.05)],
    )
    messages, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert messages[0]["text"].startswith("On number of sessions:")
    assert reply["also_asked"] == "pain"
    assert messages[-1]["buttons"][0]["payload"] == '/ask_pain{"treatment":"prp"}'


def test_one_question_is_answered_without_the_offer() -> None:
    tracker = make_tracker(
        "ask_sessions",
        [("treatment", "prp")],
        text="how many sessions of prp do i need",
        ranking=[("ask_sessions", 0.6), ("ask_pain", 0.3)],
    )
    _, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert "also_asked" not in reply
