"""A treatment removed from the knowledge while the model (trained earlier) still recognises it:
every action that reads treatments gives one polite reply, never a crash, and never answers
about another treatment instead."""

from __future__ import annotations

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.answer_actions import ActionAnswerQuestion
from actions.booking_actions import ActionAskTreatmentOfInterest, ValidateBookingForm
from actions.fallback_actions import ActionFallback
from actions.triage_actions import ActionAnswerYesOrNo
from clinic.knowledge import forget_loaded_files, get_knowledge
from clinic.paths import KNOWLEDGE_DIR_ENV
from tests.support.knowledge_copies import copy_knowledge, remove_treatment
from tests.support.replies import run_action, text_of
from tests.support.trackers import make_tracker

REMOVED = "exosomes"


@pytest.fixture(scope="module", autouse=True)
def knowledge_without_exosomes(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = copy_knowledge(tmp_path_factory.mktemp("removed") / "knowledge")
    remove_treatment(directory, REMOVED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KNOWLEDGE_DIR_ENV, str(directory))
        assert REMOVED not in get_knowledge().treatments
        yield
    forget_loaded_files()


@pytest.mark.parametrize("intent", ["ask_cost", "ask_side_effects", "inform_treatment"])
@pytest.mark.parametrize("context", [None, ["prp"]])
def test_a_question_about_it_is_one_polite_reply(intent: str, context: list[str] | None) -> None:
    tracker = make_tracker(intent, [("treatment", REMOVED)], slots={"treatments": context})
    messages, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert reply["type"] == "clarify"
    assert text_of(messages).startswith("Sorry, I don't have information on that treatment.")
    assert REMOVED not in reply["options"] and "prp" in reply["options"]
    assert "PRP" not in text_of(messages)  # never the treatment in context instead


def test_a_comparison_with_it_asks_what_to_compare() -> None:
    tracker = make_tracker("compare_treatments", [("treatment", REMOVED), ("treatment", "prp")])
    _, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert reply["type"] == "clarify" and REMOVED not in reply["options"]


def test_it_left_in_the_conversation_is_ignored() -> None:
    tracker = make_tracker("ask_cost", slots={"treatments": [REMOVED]})
    _, reply, _ = run_action(ActionAnswerQuestion(), tracker)
    assert reply["type"] == "clarify" and REMOVED not in reply["options"]
    suggestions = make_tracker(
        "nlu_fallback", [("treatment", REMOVED)], ranking=[("ask_cost", 0.4)]
    )
    messages, reply, _ = run_action(ActionFallback(), suggestions)
    assert reply["type"] == "fallback" and REMOVED not in str(messages)
    thanks = make_tracker("affirm", slots={"treatments": [REMOVED]})
    messages, _, _ = run_action(ActionAnswerYesOrNo(), thanks)
    assert text_of(messages).startswith("Glad that helps.")


def test_the_booking_form_no_longer_offers_or_accepts_it() -> None:
    messages, _, _ = run_action(ActionAskTreatmentOfInterest(), make_tracker("request_booking"))
    assert REMOVED not in str(messages[-1]["buttons"])
    dispatcher = CollectingDispatcher()
    asked = make_tracker("inform_treatment", [("treatment", REMOVED)],
                         slots={"requested_slot": "treatment_of_interest"})  # fmt: skip
    result = ValidateBookingForm().validate_treatment_of_interest(REMOVED, dispatcher, asked, {})
    assert result == {"treatment_of_interest": None}
    assert len(dispatcher.messages) == 1  # "Please pick a treatment from the list"
