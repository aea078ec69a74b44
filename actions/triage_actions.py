"""Complications first: the urgent reply, the front desk's urgent ticket, and the call-back.

The NLU pipeline marks a message ``report_complication`` and attaches ``triage`` (which
layer caught it, and the sign when the rules name one; ``clinic_nlu/red_flag_check.py``).
One ticket per episode: while the sender has an open complication ticket from the last 24
hours, follow-up messages are added to it instead of opening another. A sender who already
opened ``URGENT_PER_SENDER_PER_HOUR`` urgent tickets in the last hour still gets the advice,
but further tickets are filed as "soon", so one sender cannot bury a real emergency.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    idempotency_key,
    intent_name,
    patient_messages,
    send_reply,
    treatment_in_focus,
)
from clinic import clock
from clinic.complication_screen import Triage
from clinic.contact import find_phone
from clinic.contract import TRIAGE_KEY
from clinic.frontdesk import get_store
from clinic.knowledge import get_knowledge
from clinic.settings import ClinicSettings, get_settings
from clinic.urgent_advice import callback_question, urgent_advice

logger = logging.getLogger(__name__)

# Channels whose sender id is the patient's phone number.
PHONE_CHANNELS = {"twilio"}
CALLBACK_TICKET_SLOT = "callback_ticket"
CALLBACK_PHONE_SLOT = "callback_phone"
URGENT_PER_SENDER_PER_HOUR_ENV = "CLINIC_URGENT_PER_SENDER_PER_HOUR"
DEFAULT_URGENT_PER_SENDER_PER_HOUR = 3


def urgent_per_sender_per_hour() -> int:
    raw = os.environ.get(URGENT_PER_SENDER_PER_HOUR_ENV, "")
    try:
        return max(1, int(raw)) if raw.strip() else DEFAULT_URGENT_PER_SENDER_PER_HOUR
    except ValueError:
        logger.warning("$%s is not a number; using %s", URGENT_PER_SENDER_PER_HOUR_ENV,
                       DEFAULT_URGENT_PER_SENDER_PER_HOUR)  # fmt: skip
        return DEFAULT_URGENT_PER_SENDER_PER_HOUR


class ActionHandleComplication(Action):
    """Say plainly what to do now, and put the message on the front desk's urgent ticket."""

    def name(self) -> str:
        return "action_handle_complication"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings, now = get_settings(), clock.now()
        found = Triage.from_dict(tracker.latest_message.get(TRIAGE_KEY))
        advice = urgent_advice(found, settings, now)
        fields = {
            "sign": found.sign if found else None,
            "emergency": bool(found and found.emergency),
            "layer": found.layer if found else None,
            "clinic_open": settings.is_open(now),
        }
        if found is None:
            # "Report a problem" (a button, or the payload typed): nothing described yet, so
            # no ticket; the patient is asked what is happening and told whom to call.
            send_reply(dispatcher, "urgent", [advice], ticket=None, **fields)
            return []
        ticket_id, has_phone = self._record(tracker, found, now)
        texts, events = [advice], []
        if ticket_id is not None and not has_phone:
            texts.append(callback_question(settings, now))
            events.append(SlotSet(CALLBACK_TICKET_SLOT, ticket_id))
        # The advice goes out even when the ticket could not be stored.
        send_reply(dispatcher, "urgent", texts, ticket=ticket_id, callback=len(texts) > 1, **fields)
        return events

    @staticmethod
    def _record(tracker: Tracker, found: Triage, now: datetime) -> tuple[int | None, bool]:
        """The ticket id (new, or the open episode's) and whether it has a phone number."""
        channel = tracker.get_latest_input_channel() or "unknown"
        sender = tracker.sender_id
        phone = sender if channel in PHONE_CHANNELS else None
        text = tracker.latest_message.get("text") or ""
        try:
            store = get_store()
            episode = store.open_episode(sender, now=now)
            if episode is not None:
                # A retried action (same message) must not add it twice.
                if episode.messages[-1:] == (text,):
                    return episode.id, bool(episode.contact_phone)
                ticket = store.append_messages(episode.id, [text], phone=phone)
                logger.info("Follow-up added to complication ticket %s", ticket.id)
                return ticket.id, bool(ticket.contact_phone)
            recent = store.count_created_since(
                sender, urgency="urgent", since=now - timedelta(hours=1)
            )
            urgency = "urgent" if recent < urgent_per_sender_per_hour() else "soon"
            if urgency != "urgent":
                logger.warning("Urgent tickets per sender per hour reached; filing as soon")
            ticket = store.create(
                idempotency_key=idempotency_key(tracker),
                category="complication",
                urgency=urgency,
                channel=channel,
                treatment=treatment_in_focus(tracker),
                phone=phone,
                messages=patient_messages(tracker),
                sender_id=sender,
                triage_layer=found.layer,
            )
        except Exception:  # the database is down: the patient still gets the advice
            logger.exception("Could not store a complication ticket")
            return None, False
        logger.info("%s complication ticket %s (%s)", urgency.capitalize(), ticket.id, found.layer)
        return ticket.id, bool(ticket.contact_phone)


class ActionTakeCallbackPhone(Action):
    """A phone number typed after the urgent advice: check it, then ask for consent."""

    def name(self) -> str:
        return "action_take_callback_phone"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings = get_settings()
        phone = find_phone(tracker.latest_message.get("text") or "")
        if tracker.get_slot(CALLBACK_TICKET_SLOT) is None:
            text = (
                'Thanks. If you would like the clinic to call you, say "call me back" and I '
                f"will take your details, or call the clinic on {settings.phone}."
            )
            send_reply(dispatcher, "handoff", [text], step="callback_offer")
            return []
        if phone is None:
            text = (
                "That doesn't look like a phone number. Please type it like 07700 900123, "
                f"or call the clinic on {settings.phone}."
            )
            send_reply(dispatcher, "urgent", [text], step="callback_phone")
            return []
        text = (
            f"May the clinic keep {phone} with your message, to call you back about it? "
            "You can say no and the number will not be kept."
        )
        buttons = [
            {"title": "Yes, call me", "payload": "/affirm"},
            {"title": "No", "payload": "/deny"},
        ]
        send_reply(dispatcher, "urgent", [text], buttons, step="callback_consent")
        return [SlotSet(CALLBACK_PHONE_SLOT, phone)]


class ActionAnswerYesOrNo(Action):
    """ "yes" / "no" outside a form: the call-back consent when one was asked, else one short
    acknowledgement (never the fallback, which would repeat itself)."""

    def name(self) -> str:
        return "action_answer_yes_or_no"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings, now = get_settings(), clock.now()
        agreed = intent_name(tracker.latest_message) == "affirm"
        ticket_id = tracker.get_slot(CALLBACK_TICKET_SLOT)
        phone = tracker.get_slot(CALLBACK_PHONE_SLOT)
        if ticket_id is None or phone is None:
            treatment = treatment_in_focus(tracker)
            name = get_knowledge().treatments[treatment].name if treatment else None
            about = f" about {name}" if name else ""
            text = (
                f"Glad that helps. Is there anything else you would like to know{about}?"
                if agreed
                else "No problem. If you have another question, just ask."
            )
            send_reply(dispatcher, "smalltalk", [text])
            return []
        cleared = [SlotSet(CALLBACK_TICKET_SLOT, None), SlotSet(CALLBACK_PHONE_SLOT, None)]
        if not agreed:
            text = (
                "I have not kept your number. If anything changes, call the clinic on "
                f"{settings.phone}, or {settings.emergency_number} in an emergency."
            )
            send_reply(dispatcher, "urgent", [text], step="callback_declined")
            return cleared
        stored = _store_callback_phone(int(ticket_id), str(phone))
        text = _callback_confirmation(settings, now, str(phone), stored)
        send_reply(dispatcher, "urgent", [text], step="callback_stored", ticket=int(ticket_id))
        return cleared


def _store_callback_phone(ticket_id: int, phone: str) -> bool:
    try:
        get_store().set_contact_phone(ticket_id, phone)
    except Exception:
        logger.exception("Could not add the call-back number to ticket %s", ticket_id)
        return False
    logger.info("Call-back number added to ticket %s", ticket_id)
    return True


def _callback_confirmation(
    settings: ClinicSettings, now: datetime, phone: str, stored: bool
) -> str:
    if not stored:
        return (
            "Sorry, I could not pass your number on just now. Please call the clinic on "
            f"{settings.phone}, or {settings.emergency_number} in an emergency."
        )
    when = "as soon as it can" if settings.is_open(now) else "when it opens"
    return (
        f"Thank you. The clinic will call you on {phone} {when}. Don't wait for the call if "
        f"you get worse: call {settings.emergency_number} in an emergency."
    )
