"""The booking / call-back form: who to contact, how, about what, when, and consent.

Started by "book a consultation" (a booking), "talk to a person" / "call me back" or a second
misunderstood message in a row (a call-back). The patient can stop at any point; nothing is
stored without explicit consent, and slots holding contact details are cleared at the end.

The ticket's key is the conversation, the kind and the details given, so the same request sent
again (the form run a second time, a message re-sent) is told it is already with the team
instead of making a second ticket. When the database cannot be written, the request is kept in
the outbox (``clinic.frontdesk.outbox``) and the patient is asked to call the clinic.
"""

from __future__ import annotations

import logging
import re
from abc import ABCMeta, abstractmethod
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    MESSAGES_ON_TICKET,
    button,
    conversation_turns,
    entity_values,
    intent_confidence,
    intent_name,
    intent_payload,
    recent_turns,
    reply_sent_this_turn,
    send_question,
    send_reply,
    treatment_in_focus,
)
from clinic.contact import valid_contact
from clinic.contract import TOPIC_BY_INTENT
from clinic.frontdesk import get_desk
from clinic.frontdesk.outbox import Filed, Outcome, TicketRequest, details_key
from clinic.knowledge import get_knowledge
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

FORM = "booking_form"
KIND_SLOT = "booking_kind"
FORM_SLOTS = (
    "contact_name",
    "contact_details",
    "treatment_of_interest",
    "preferred_time",
    "consent",
)
UNDECIDED = "undecided"

_NOT_SURE = re.compile(r"\b(not sure|unsure|don'?t know|dunno|undecided|no idea|any)\b", re.I)


def reply_type(tracker: Tracker) -> str:
    return "handoff" if tracker.get_slot(KIND_SLOT) == "callback" else "booking"


def messages_before_form(tracker: Tracker) -> list[str]:
    """The patient's messages that led to the request (not the form's answers)."""
    texts: list[str] = []
    for event in tracker.events:
        if event.get("event") == "active_loop" and event.get("name") == FORM:
            break
        if event.get("event") == "user" and event.get("text"):
            texts.append(event["text"])
    return texts[-MESSAGES_ON_TICKET:]


def booking_transcript(tracker: Tracker) -> list[dict[str, str]]:
    """What led to the request (the last messages before this run of the form) and the
    form's questions and answers: the preferred time in the patient's own words."""
    events = tracker.events
    start, in_form = len(events), False
    for index, event in enumerate(events):
        if event.get("event") == "active_loop":
            entering = event.get("name") == FORM
            if entering and not in_form:
                start = index
            in_form = entering
    before, during = conversation_turns(events[:start]), conversation_turns(events[start:])
    return [*recent_turns(before), *during]


def _cleared() -> list[EventType]:
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, KIND_SLOT)]


class ActionStartBooking(Action):
    """Decide booking or call-back, prefill the treatment from the conversation, start the form."""

    def name(self) -> str:
        return "action_start_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = "booking" if intent_name(tracker.latest_message) == "request_booking" else "callback"
        treatment = treatment_in_focus(tracker)
        if kind == "booking":
            intro = "I can pass a booking request to our front desk; they will contact you."
        else:
            intro = "I'll ask our team to get in touch with you."
        # Text only: the form's first question carries this turn's reply payload.
        settings = get_settings()
        dispatcher.utter_message(
            text=f'{intro} You can say "stop" at any time. (You can also book online at '
            f"{settings.booking_url} or call {settings.phone}.)"
        )
        return [
            *_cleared(),
            SlotSet(KIND_SLOT, kind),
            SlotSet("treatment_of_interest", treatment),
            FollowupAction(FORM),
        ]


FORM_QUESTIONS = {
    "contact_name": "What name should the team use for you?",
    "contact_details": "What phone number or email address can the team reach you on?",
    "treatment_of_interest": "Which treatment are you interested in?",
    "preferred_time": 'When would suit you? For example "weekday mornings" or "Tuesday after 5pm".',
    "consent": "May the clinic contact you about this and store these details for that purpose? "
    "You can say no and nothing will be kept.",
}


class _AskSlot(Action, metaclass=ABCMeta):
    """The booking form's question for one slot (``action_ask_<slot>``, which Rasa's form
    calls). It carries the turn's reply payload (``step``), unless an answer given inside
    the form already did: one payload per turn."""

    @property
    @abstractmethod
    def slot(self) -> str:
        """The form slot asked for (each subclass sets it; abstract, so rasa_sdk does not
        register this base class as an action)."""

    def name(self) -> str:
        return f"action_ask_{self.slot}"

    def buttons(self) -> list[dict[str, str]]:
        return []

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        send_question(
            dispatcher,
            tracker,
            reply_type(tracker),
            FORM_QUESTIONS[self.slot],
            self.buttons(),
            step=self.slot,
        )
        return []


class ActionAskContactName(_AskSlot):
    slot = "contact_name"


class ActionAskContactDetails(_AskSlot):
    slot = "contact_details"


class ActionAskTreatmentOfInterest(_AskSlot):
    slot = "treatment_of_interest"

    def buttons(self) -> list[dict[str, str]]:
        knowledge = get_knowledge()
        return [
            *(
                button(t.name, intent_payload("inform_treatment", treatment=t.id))
                for t in knowledge.treatments.values()
            ),
            button("Not sure yet", "not sure yet"),
        ]


class ActionAskPreferredTime(_AskSlot):
    slot = "preferred_time"


class ActionAskConsent(_AskSlot):
    slot = "consent"

    def buttons(self) -> list[dict[str, str]]:
        return [button("Yes, I agree", "/affirm"), button("No", "/deny")]


FREE_TEXT_SLOTS = ("contact_name", "contact_details", "treatment_of_interest", "preferred_time")
QUESTION_CONFIDENCE = 0.8
_QUESTION_SHAPE = re.compile(
    r"\?|^\s*(?:what|whats|what's|how|when|where|why|who|which|is|are|can|could|do|does|did|"
    r"will|would|should|tell me|i want to know|id like to know|i'd like to know)\b",
    re.IGNORECASE,
)
_QUESTION_INTENTS = {
    *TOPIC_BY_INTENT, "ask_opening_hours", "ask_location", "ask_contact",
    "out_of_scope", "bot_challenge",
}  # fmt: skip


def is_question(message: dict[str, Any]) -> bool:
    """A confident question about the clinic or its treatments, shaped as a question."""
    return (
        intent_name(message) in _QUESTION_INTENTS
        and intent_confidence(message) >= QUESTION_CONFIDENCE
        and bool(_QUESTION_SHAPE.search(message.get("text") or ""))
    )


def _complain(dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, text: str) -> None:
    """Say what is wrong with an answer, only for the question just asked."""
    if tracker.get_slot("requested_slot") == slot:
        dispatcher.utter_message(text=text)


class ValidateBookingForm(FormValidationAction):
    """Checks each answer. Only the question just asked gets a message when its answer is
    wrong: when the form starts, its slots are cleared (set to None) and would otherwise all be
    "validated" at once, each with its own complaint."""

    def name(self) -> str:
        return "validate_booking_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        # Not when the form comes back after the answer: Rasa then calls this again with the
        # same (question) message, which must not be handed back a second time.
        answered = reply_sent_this_turn(tracker)
        if not answered and requested in FREE_TEXT_SLOTS and is_question(tracker.latest_message):
            # "what is prp?" asked instead of a name: not an answer. Rejecting hands the turn
            # to the rules, which answer the question; the form then asks again.
            return [SlotSet(requested, None), ActionExecutionRejected(FORM)]
        return await super().run(dispatcher, tracker, domain)

    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        if not name or len(name) > 80 or "?" in name or any(c.isdigit() for c in name):
            _complain(
                dispatcher, tracker, "contact_name",
                'Please tell me just your name, for example "Sam Taylor".',
            )  # fmt: skip
            return {"contact_name": None}
        return {"contact_name": name}

    def validate_contact_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        contact = valid_contact(str(value or ""))
        if contact is None:
            _complain(
                dispatcher, tracker, "contact_details",
                "That doesn't look like a phone number or an email address. Please type "
                "a phone number (for example 07700 900123) or an email address.",
            )  # fmt: skip
        return {"contact_details": contact}

    def validate_treatment_of_interest(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        knowledge = get_knowledge()
        named = [
            t
            for t in entity_values(tracker.latest_message, "treatment")
            if t in knowledge.treatments
        ]
        if named:
            return {"treatment_of_interest": named[0]}
        if value in knowledge.treatments or value == UNDECIDED:  # prefilled from context
            return {"treatment_of_interest": value}
        if _NOT_SURE.search(str(value or "")):
            return {"treatment_of_interest": UNDECIDED}
        _complain(
            dispatcher, tracker, "treatment_of_interest",
            'Please pick a treatment from the list, or say "not sure".',
        )  # fmt: skip
        return {"treatment_of_interest": None}

    def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if not text or len(text) > 200:
            _complain(
                dispatcher, tracker, "preferred_time", "Please tell me briefly when suits you."
            )
            return {"preferred_time": None}
        return {"preferred_time": text}


class ActionSubmitBooking(Action):
    """Store the ticket (with consent only) and tell the patient what happens next."""

    def name(self) -> str:
        return "action_submit_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kind = tracker.get_slot(KIND_SLOT) or "booking"
        if tracker.get_slot("consent") is not True:
            send_reply(
                dispatcher,
                reply_type(tracker),
                ["No problem: I haven't stored your details. You can still call or book online "
                 "whenever you like."],
                ticket=None,
            )  # fmt: skip
            return _cleared()
        name = tracker.get_slot("contact_name")
        contact = tracker.get_slot("contact_details") or ""
        treatment = tracker.get_slot("treatment_of_interest")
        preferred_time = tracker.get_slot("preferred_time")
        category = "booking" if kind == "booking" else "callback"
        filed = get_desk().submit(
            TicketRequest(
                idempotency_key=details_key(
                    f"form:{tracker.sender_id}:{category}", name, contact, treatment, preferred_time
                ),
                category=category,
                urgency="routine" if kind == "booking" else "soon",
                channel=tracker.get_latest_input_channel() or "unknown",
                treatment=None if treatment in (None, UNDECIDED) else treatment,
                name=name,
                phone=None if "@" in contact else contact,
                email=contact if "@" in contact else None,
                messages=[*messages_before_form(tracker), f"Preferred time: {preferred_time}"],
                transcript=booking_transcript(tracker),
                reopen_when_closed=True,
            )
        )
        ticket_id = filed.ticket.id if filed.ticket else None
        logger.info("%s request %s (ticket %s)", kind.capitalize(), filed.outcome.value, ticket_id)
        send_reply(
            dispatcher,
            reply_type(tracker),
            [submitted_text(filed, name)],
            ticket=ticket_id,
            filed=filed.outcome.value,
        )
        return _cleared()


def submitted_text(filed: Filed, name: str | None) -> str:
    """What the patient is told about their request: a confirmation only when it was written."""
    phone = get_settings().phone
    if filed.outcome is Outcome.CREATED and filed.ticket:
        return (
            f"Thank you, {name}. Our team will contact you soon "
            f"(your reference is {filed.ticket.id})."
        )
    if filed.ticket:
        return (
            f"Your request is already with our team (your reference is {filed.ticket.id}), so "
            "I haven't sent it again. They will contact you soon."
        )
    if filed.outcome is Outcome.KEPT:
        return (
            "Sorry, I couldn't save your request right now. Please call the clinic on "
            f"{phone}. Your request is kept, and the team will see it once our system is back."
        )
    return (
        "Sorry, I couldn't save your request right now, so the team does not have it. "
        f"Please call the clinic on {phone}."
    )


class ActionStopBooking(Action):
    def name(self) -> str:
        return "action_stop_booking"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        send_reply(
            dispatcher,
            reply_type(tracker),
            [
                "Okay, I've stopped, and nothing has been stored. "
                "Is there anything else I can help with?"
            ],
            ticket=None,
        )
        return _cleared()
