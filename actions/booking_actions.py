"""The booking / call-back form: who to contact, how, about what, when, and consent.

Started by "book a consultation" (a booking), "talk to a person" / "call me back" or a second
misunderstood message in a row (a call-back). The patient can stop at any point; nothing is
stored without explicit consent, and slots holding contact details are cleared at the end.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    MESSAGES_ON_TICKET,
    button,
    entity_values,
    idempotency_key,
    intent_name,
    intent_payload,
    send_reply,
    treatment_in_focus,
)
from clinic.contact import valid_contact
from clinic.frontdesk import get_store
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


class ActionAskTreatmentOfInterest(Action):
    def name(self) -> str:
        return "action_ask_treatment_of_interest"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        knowledge = get_knowledge()
        buttons = [
            button(t.name, intent_payload("inform_treatment", treatment=t.id))
            for t in knowledge.treatments.values()
        ]
        buttons.append(button("Not sure yet", "not sure yet"))
        send_reply(
            dispatcher,
            reply_type(tracker),
            ["Which treatment are you interested in?"],
            buttons=buttons,
            step="treatment_of_interest",
        )
        return []


class ValidateBookingForm(FormValidationAction):
    def name(self) -> str:
        return "validate_booking_form"

    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        if not name or len(name) > 80 or "?" in name or any(c.isdigit() for c in name):
            dispatcher.utter_message(
                text='Please tell me just your name, for example "Sam Taylor".'
            )
            return {"contact_name": None}
        return {"contact_name": name}

    def validate_contact_details(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        contact = valid_contact(str(value or ""))
        if contact is None:
            dispatcher.utter_message(
                text="That doesn't look like a phone number or an email address. Please type "
                "a phone number (for example 07700 900123) or an email address."
            )
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
        dispatcher.utter_message(text='Please pick a treatment from the list, or say "not sure".')
        return {"treatment_of_interest": None}

    def validate_preferred_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if not text or len(text) > 200:
            dispatcher.utter_message(text="Please tell me briefly when suits you.")
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
        contact = tracker.get_slot("contact_details") or ""
        treatment = tracker.get_slot("treatment_of_interest")
        ticket = get_store().create(
            idempotency_key=f"form:{idempotency_key(tracker)}",
            category="booking" if kind == "booking" else "callback",
            urgency="routine" if kind == "booking" else "soon",
            channel=tracker.get_latest_input_channel() or "unknown",
            treatment=None if treatment in (None, UNDECIDED) else treatment,
            name=tracker.get_slot("contact_name"),
            phone=None if "@" in contact else contact,
            email=contact if "@" in contact else None,
            messages=[
                *messages_before_form(tracker),
                f"Preferred time: {tracker.get_slot('preferred_time')}",
            ],
        )
        logger.info("%s ticket %s", kind.capitalize(), ticket.id)
        send_reply(
            dispatcher,
            reply_type(tracker),
            [f"Thank you, {tracker.get_slot('contact_name')}. Our team will contact you soon "
             f"(your reference is {ticket.id})."],
            ticket=ticket.id,
        )  # fmt: skip
        return _cleared()


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
