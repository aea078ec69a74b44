"""Fallback ("did you mean ...?") and out-of-scope replies."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    ResumesForm,
    button,
    entity_values,
    intent_payload,
    not_offered_reply,
    send_reply,
    treatment_in_focus,
)
from clinic.answering import out_of_scope_text, what_i_can_help_with
from clinic.contract import CLINIC_INTENT_LABELS, MEDICATION_KEY, TOPIC_BY_INTENT, TOPICS
from clinic.knowledge import get_knowledge
from clinic.settings import get_settings

MAX_SUGGESTIONS = 3


def suggestions(tracker: Tracker) -> list[dict[str, str]]:
    """Buttons for the likeliest intents the model ranked below its confidence threshold."""
    knowledge = get_knowledge()
    message = tracker.latest_message
    treatment = treatment_in_focus(tracker)
    buttons = []
    for ranked in message.get("intent_ranking") or []:
        intent = ranked.get("name")
        if intent in TOPIC_BY_INTENT and intent not in ("compare_treatments", "ask_concern"):
            label = TOPICS[TOPIC_BY_INTENT[intent]]
            if treatment in knowledge.treatments:  # read twice: a reload may come between
                label = f"{label}: {knowledge.treatments[treatment].name}"
                payload = intent_payload(intent, treatment=treatment)
            else:
                payload = intent_payload(intent)
        elif intent in CLINIC_INTENT_LABELS:
            label, payload = CLINIC_INTENT_LABELS[intent], intent_payload(intent)
        else:
            continue
        buttons.append(button(label, payload))
        if len(buttons) == MAX_SUGGESTIONS:
            break
    return buttons


def previous_turn_was_fallback(tracker: Tracker) -> bool:
    """Whether the bot's last action before the latest user message was a fallback too."""
    user_messages_seen = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            user_messages_seen += 1
        elif (
            user_messages_seen == 1
            and event.get("event") == "action"
            and event.get("name") != "action_listen"
        ):
            return event.get("name") == "action_fallback"
    return False


class ActionFallback(Action):
    """Low-confidence or unparseable messages: offer the closest topics as buttons."""

    def name(self) -> str:
        return "action_fallback"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        # Always end the turn here: with no rule for what was said (e.g. an answer the open
        # form cannot use), the policies would otherwise predict this fallback again and
        # again in the same turn until Rasa's circuit breaker stops it.
        listen = FollowupAction("action_listen")
        if tracker.active_loop_name:
            send_reply(
                dispatcher,
                "fallback",
                ['Sorry, I didn\'t catch that. Please answer the question above, or say "stop" '
                 "to end."],
                suggestions=[],
            )  # fmt: skip
            return [listen]
        if previous_turn_was_fallback(tracker):
            # Twice not understood: offer a person instead of more guesses (a call-back form).
            dispatcher.utter_message(
                text="Sorry, I'm still not following. Let me pass you to our team instead."
            )
            return [FollowupAction("action_start_booking")]
        buttons = suggestions(tracker)
        talk_to_person = button(
            CLINIC_INTENT_LABELS["request_human"], intent_payload("request_human")
        )
        if talk_to_person not in buttons:
            buttons.append(talk_to_person)
        if len(buttons) > 1:
            text = "Sorry, I'm not sure I understood. Did you mean one of these?"
        else:
            text = f"Sorry, I didn't understand that. {what_i_can_help_with(get_knowledge())}"
        send_reply(
            dispatcher,
            "fallback",
            [text],
            buttons=buttons,
            suggestions=[b["payload"] for b in buttons],
        )
        return [listen]


class ActionOutOfScope(ResumesForm, Action):
    """Weather, medication doses, procedures the clinic does not offer..."""

    def name(self) -> str:
        return "action_out_of_scope"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        knowledge = get_knowledge()
        others = [
            p
            for p in entity_values(tracker.latest_message, "other_procedure")
            if p in knowledge.not_offered
        ]
        if tracker.latest_message.get(MEDICATION_KEY):  # set by MedicationQuestionCheck
            text = (
                "I can't advise on medicines or doses. Please ask the doctor who prescribed it "
                f"or a pharmacist, or call the clinic on {get_settings().phone} and the team "
                "will talk it through with you."
            )
            send_reply(dispatcher, "out_of_scope", [text], medication=True)
            return []
        if others:
            return not_offered_reply(dispatcher, others)
        send_reply(dispatcher, "out_of_scope", [out_of_scope_text(knowledge)])
        return []


class ActionBotChallenge(ResumesForm, Action):
    """ "Are you a bot?": yes, and what it can do; inside the booking form, the form goes on."""

    def name(self) -> str:
        return "action_bot_challenge"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(response="utter_iamabot")
        return []
