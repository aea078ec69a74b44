"""Complications first: the urgent reply, the front desk's urgent ticket, and the call-back.

The NLU pipeline marks a message ``report_complication`` and attaches ``triage`` (which
layer caught it, and the sign when the rules name one; ``clinic_nlu/red_flag_check.py``).
One ticket per episode: while the sender has an open complication ticket from the last 24
hours, follow-up messages are added to it instead of opening another. A sender who already
opened ``URGENT_PER_SENDER_PER_HOUR`` urgent tickets in the last hour still gets the advice,
but further tickets are filed as "soon", so one sender cannot bury a real emergency.

The advice never depends on the ticket database: when it cannot be written, the message (or
the call-back number) is kept in the outbox (``clinic.frontdesk.outbox``) and written later,
and the reply adds that it could not be passed on yet and to call the clinic.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import (
    idempotency_key,
    intent_name,
    patient_messages,
    send_reply,
    ticket_transcript,
    treatment_in_focus,
)
from clinic import clock
from clinic.complication_screen import Triage
from clinic.contact import find_phone
from clinic.contract import TRIAGE_KEY
from clinic.frontdesk import get_desk
from clinic.frontdesk.outbox import Filed, Outcome, TicketRequest
from clinic.knowledge import get_knowledge
from clinic.settings import ClinicSettings, get_settings
from clinic.urgent_advice import callback_question, urgent_advice, urgent_calls

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
            "call": urgent_calls(found, settings, now),  # the widget's tap-to-call buttons
        }
        if found is None:
            # "Report a problem" (a button, or the payload typed): nothing described yet, so
            # no ticket; the patient is asked what is happening and told whom to call.
            send_reply(dispatcher, "urgent", [advice], ticket=None, **fields)
            return []
        filed = self._record(tracker, found, now)
        ticket = filed.ticket
        texts, events = [advice], []
        if ticket is None:
            texts.append(_not_passed_on_text(settings, filed))
        elif not ticket.contact_phone:
            texts.append(callback_question(settings, now))
            events.append(SlotSet(CALLBACK_TICKET_SLOT, ticket.id))
        # The advice goes out in full whatever became of the ticket.
        send_reply(
            dispatcher,
            "urgent",
            texts,
            ticket=ticket.id if ticket else None,
            callback=bool(events),
            filed=filed.outcome.value,
            **fields,
        )
        return events

    @staticmethod
    def _record(tracker: Tracker, found: Triage, now: datetime) -> Filed:
        """The episode's ticket (new, or the open one the message joined), or the request
        kept in the outbox."""
        channel = tracker.get_latest_input_channel() or "unknown"
        sender = tracker.sender_id
        try:
            filed = get_desk().submit(
                TicketRequest(
                    idempotency_key=idempotency_key(tracker),
                    category="complication",
                    urgency="urgent",
                    channel=channel,
                    treatment=treatment_in_focus(tracker),
                    phone=sender if channel in PHONE_CHANNELS else None,
                    messages=patient_messages(tracker),
                    transcript=ticket_transcript(tracker),
                    sender_id=sender,
                    triage_layer=found.layer,
                    join_episode=True,
                ),
                now=now,
                urgent_per_hour=urgent_per_sender_per_hour(),
            )
        except Exception:  # a bug, not the database (the desk keeps those): advice still goes
            logger.exception("Could not file a complication ticket")
            return Filed(Outcome.UNSAVED)
        if filed.ticket is not None:
            logger.info("Complication ticket %s %s (%s, %s)", filed.ticket.id,
                        filed.outcome.value, filed.ticket.urgency, found.layer)  # fmt: skip
        return filed


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
            # .get: the knowledge is read twice, and a reload may come between.
            found = get_knowledge().treatments.get(treatment) if treatment else None
            name = found.name if found else None
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
        filed = _store_callback_phone(int(ticket_id), str(phone))
        text = _callback_confirmation(settings, now, str(phone), filed)
        send_reply(dispatcher, "urgent", [text], step="callback_stored", ticket=int(ticket_id),
                   filed=filed.outcome.value)  # fmt: skip
        return cleared


def _not_passed_on_text(settings: ClinicSettings, filed: Filed) -> str:
    """After the advice, when the message is not on a ticket: the team may not know yet."""
    if filed.outcome is Outcome.KEPT:
        return (
            "I couldn't pass your message on to the clinic's team right now, so please don't "
            f"wait to hear from them: call the clinic on {settings.phone}. Your message is "
            "kept, and the team will see it once our system is back."
        )
    return (
        "I couldn't pass your message on to the clinic's team right now, so they don't have "
        f"it: please call the clinic on {settings.phone}."
    )


def _store_callback_phone(ticket_id: int, phone: str) -> Filed:
    try:
        filed = get_desk().set_contact_phone(ticket_id, phone)
    except Exception:  # e.g. the ticket is unknown; the database's failures are kept instead
        logger.exception("Could not add the call-back number to ticket %s", ticket_id)
        return Filed(Outcome.UNSAVED)
    logger.info("Call-back number for ticket %s %s", ticket_id, filed.outcome.value)
    return filed


def _callback_confirmation(
    settings: ClinicSettings, now: datetime, phone: str, filed: Filed
) -> str:
    if filed.outcome is Outcome.KEPT:
        return (
            "Sorry, I couldn't save your number right now. Please call the clinic on "
            f"{settings.phone}, or {settings.emergency_number} in an emergency. Your number is "
            "kept, and the team will see it once our system is back."
        )
    if filed.ticket is None:
        return (
            "Sorry, I could not pass your number on just now. Please call the clinic on "
            f"{settings.phone}, or {settings.emergency_number} in an emergency."
        )
    when = "as soon as it can" if settings.is_open(now) else "when it opens"
    return (
        f"Thank you. The clinic will call you on {phone} {when}. Don't wait for the call if "
        f"you get worse: call {settings.emergency_number} in an emergency."
    )
