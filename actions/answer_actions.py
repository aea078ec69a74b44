"""The action that answers treatment questions, keeping the conversation's context.

Context lives in three slots the action sets itself (none influences dialogue prediction):
``treatments`` (the treatments last talked about), ``topic`` (the last topic answered) and
``pending_topic`` (a topic waiting for the patient to say which treatment). So:

- "tell me about mesotherapy" -> "how many sessions would I need?" answers for mesotherapy;
- "what's the downtime for prp" -> "and for exosomes?" answers recovery time for exosomes;
- "side effects of prp?" -> "how does that compare to exosomes" compares the two;
- "how much does it cost?" with no treatment known asks which one, with buttons.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    PENDING_TOPIC_SLOT,
    TOPIC_SLOT,
    TREATMENTS_SLOT,
    ResumesForm,
    button,
    entity_values,
    intent_confidence,
    intent_name,
    intent_payload,
    not_offered_reply,
    send_reply,
)
from clinic.answering import (
    ComposedAnswer,
    comparison_answer,
    concern_answer,
    defers_to_consultation,
    topic_answer,
    unique,
)
from clinic.contract import (
    CLINIC_INTENT_LABELS,
    COMPARE_TREATMENTS,
    INFORM_TREATMENT,
    INTENT_BY_TOPIC,
    TOPIC_BY_INTENT,
    TOPICS,
)
from clinic.knowledge import Knowledge
from clinic.settings import get_knowledge_and_settings

_QUESTION_SENTENCE = re.compile(
    r"[^.?!\n]*\?|(?:^|[.!\n]\s*)(?:what|how|when|where|why|who|which|is|are|can|could|do|does|"
    r"will|would|should)\b[^.?!\n]*",
    re.IGNORECASE,
)
SECOND_QUESTION_CONFIDENCE = 0.1


def second_question_topic(message: dict[str, Any], answered: str) -> str | None:
    """The topic of a second question in the same message, when the classifier saw one."""
    if len(_QUESTION_SENTENCE.findall(message.get("text") or "")) < 2:
        return None
    for ranked in (message.get("intent_ranking") or [])[1:]:
        topic = TOPIC_BY_INTENT.get(ranked.get("name") or "")
        if topic in (None, answered, "comparison", "concern"):
            continue
        return topic if ranked.get("confidence", 0) >= SECOND_QUESTION_CONFIDENCE else None
    return None


class ActionAnswerQuestion(ResumesForm, Action):
    def name(self) -> str:
        return "action_answer_question"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # One version of both files: a reload between two reads could drop a price.
        knowledge, settings = get_knowledge_and_settings()
        message = tracker.latest_message
        intent = intent_name(message)
        named = entity_values(message, "treatment")
        mentioned = [t for t in named if t in knowledge.treatments]
        concerns = [c for c in entity_values(message, "concern") if c in knowledge.concerns]
        others = [
            p for p in entity_values(message, "other_procedure") if p in knowledge.not_offered
        ]
        context = [t for t in tracker.get_slot(TREATMENTS_SLOT) or [] if t in knowledge.treatments]
        topic = self._topic(intent, tracker, mentioned, concerns)

        if not mentioned and not concerns and others:
            # "how much is botox?": a question about something the clinic does not do.
            return not_offered_reply(dispatcher, others)
        if topic == "concern" and concerns:
            composed = concern_answer(knowledge, concerns[0])
        elif topic == "comparison":
            treatment_ids = list(
                unique([*context, *mentioned] if len(mentioned) < 2 else mentioned)
            )
            if len(treatment_ids) < 2:
                return self._ask_what_to_compare(dispatcher, knowledge, treatment_ids)
            composed = comparison_answer(knowledge, treatment_ids)
        elif named and not mentioned and not concerns:
            # The model still knows a treatment the clinic has since removed from the
            # knowledge (it is retrained later): say so, never answer about another one.
            return self._ask_which_treatment(
                dispatcher, knowledge, topic, "Sorry, I don't have information on that treatment."
            )
        else:
            treatment_ids = mentioned or context
            if not treatment_ids:
                if topic == "concern":
                    return self._ask_which_concern(dispatcher, knowledge)
                return self._ask_which_treatment(dispatcher, knowledge, topic)
            composed = topic_answer(knowledge, settings, topic, treatment_ids)

        return self._send_answer(dispatcher, knowledge, composed, topic, message, others)

    @staticmethod
    def _topic(
        intent: str | None,
        tracker: Tracker,
        mentioned: list[str],
        concerns: list[str],
    ) -> str:
        if intent in TOPIC_BY_INTENT:
            return TOPIC_BY_INTENT[intent]
        if intent == INFORM_TREATMENT and concerns and not mentioned:
            return "concern"
        # A bare treatment name answers a pending question, else follows up the last topic.
        for slot in (PENDING_TOPIC_SLOT, TOPIC_SLOT):
            value = tracker.get_slot(slot)
            if value in TOPICS:
                return value
        return "overview"

    @staticmethod
    def _send_answer(
        dispatcher: CollectingDispatcher,
        knowledge: Knowledge,
        composed: ComposedAnswer,
        topic: str,
        message: dict[str, Any],
        others: list[str],
    ) -> list[EventType]:
        texts = list(composed.texts)
        if others:
            names = " or ".join(knowledge.not_offered[p].name for p in others)
            texts.insert(0, f"Just so you know, we don't offer {names} here.")
        fields: dict[str, Any] = {
            "topic": topic,
            "treatments": list(composed.treatments),
            "sources": list(composed.sources),
            "confidence": intent_confidence(message),
        }
        if composed.concern is not None:
            fields["concern"] = composed.concern
        buttons = []
        other_topic = second_question_topic(message, topic)
        if other_topic is not None:
            # Two questions in one message: say which one this answers, offer the other.
            texts[0] = f"On {TOPICS[topic].lower().rstrip('?')}: {texts[0]}"
            treatments = list(composed.treatments)[:1]
            payload = intent_payload(
                INTENT_BY_TOPIC[other_topic], **({"treatment": treatments[0]} if treatments else {})
            )
            buttons.append(button(f"Also: {TOPICS[other_topic]}", payload))
            fields["also_asked"] = other_topic
        if defers_to_consultation(texts):
            buttons += [
                button(CLINIC_INTENT_LABELS["request_booking"], intent_payload("request_booking")),
                button(CLINIC_INTENT_LABELS["request_human"], intent_payload("request_human")),
            ]
        send_reply(dispatcher, "answer", texts, buttons, **fields)
        remembered = list(composed.treatments) if composed.concern is None else []
        events: list[EventType] = [
            SlotSet(TOPIC_SLOT, topic),
            SlotSet(PENDING_TOPIC_SLOT, None),
        ]
        if remembered:
            events.append(SlotSet(TREATMENTS_SLOT, remembered))
        return events

    @staticmethod
    def _ask_which_treatment(
        dispatcher: CollectingDispatcher, knowledge: Knowledge, topic: str, preface: str = ""
    ) -> list[EventType]:
        buttons = [
            button(t.name, intent_payload(INFORM_TREATMENT, treatment=t.id))
            for t in knowledge.treatments.values()
        ]
        label = TOPICS[topic].lower()
        question = f"Which treatment would you like to know about ({label})?"
        send_reply(
            dispatcher,
            "clarify",
            [f"{preface} {question}".strip()],
            buttons=buttons,
            topic=topic,
            options=list(knowledge.treatments),
        )
        return [SlotSet(PENDING_TOPIC_SLOT, topic)]

    @staticmethod
    def _ask_what_to_compare(
        dispatcher: CollectingDispatcher, knowledge: Knowledge, known: list[str]
    ) -> list[EventType]:
        if known:
            first = knowledge.treatments[known[0]]
            others = [t for t in knowledge.treatments.values() if t.id != first.id]
            text = f"Which treatment would you like to compare {first.name} with?"
            buttons = [
                button(t.name, intent_payload(COMPARE_TREATMENTS, treatment=t.id)) for t in others
            ]
            options = [t.id for t in others]
        else:
            text = "Which treatments would you like to compare?"
            buttons = [
                button(
                    " vs ".join(knowledge.treatments[t].name for t in c.treatments),
                    intent_payload(COMPARE_TREATMENTS, treatment=list(c.treatments)),
                )
                for c in knowledge.comparisons
            ]
            options = [list(c.treatments) for c in knowledge.comparisons]
        send_reply(
            dispatcher,
            "clarify",
            [text],
            buttons=buttons,
            topic="comparison",
            options=options,
        )
        return [
            SlotSet(PENDING_TOPIC_SLOT, "comparison"),
            SlotSet(TREATMENTS_SLOT, known),
        ]

    @staticmethod
    def _ask_which_concern(
        dispatcher: CollectingDispatcher, knowledge: Knowledge
    ) -> list[EventType]:
        buttons = [
            button(c.name, intent_payload("ask_concern", concern=c.id))
            for c in knowledge.concerns.values()
        ]
        send_reply(
            dispatcher,
            "clarify",
            ["Which concern would you like help with?"],
            buttons=buttons,
            topic="concern",
            options=list(knowledge.concerns),
        )
        return [SlotSet(PENDING_TOPIC_SLOT, "concern")]
