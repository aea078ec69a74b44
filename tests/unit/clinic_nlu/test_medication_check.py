"""The medicine-question check in the NLU pipeline, with real rasa Messages."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from clinic.contract import MEDICATION_KEY
from clinic_nlu.medication_check import MedicationQuestionCheck


def _message(text: str, intent: str) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.8})
    message.set("intent_ranking", [{"name": intent, "confidence": 0.8}])
    return message


def test_a_dosing_question_naming_a_treatment_is_out_of_scope() -> None:
    message = _message("What dose of minoxidil should I use with exosomes?", "ask_concern")
    MedicationQuestionCheck().process([message])
    assert message.get("intent") == {"name": "out_of_scope", "confidence": 1.0}
    assert message.get(MEDICATION_KEY) is True
    assert [r["name"] for r in message.get("intent_ranking")] == ["out_of_scope", "ask_concern"]


def test_a_complication_asked_as_a_medicine_question_stays_urgent() -> None:
    message = _message("can I take an antihistamine? my lips are swelling", "report_complication")
    MedicationQuestionCheck().process([message])
    assert message.get("intent")["name"] == "report_complication"
    assert message.get(MEDICATION_KEY) is None


def test_other_questions_and_payloads_are_left_alone() -> None:
    question, payload = _message("how much is prp", "ask_cost"), _message("/ask_cost", "ask_cost")
    MedicationQuestionCheck().process([question, payload])
    assert question.get("intent")["name"] == payload.get("intent")["name"] == "ask_cost"
