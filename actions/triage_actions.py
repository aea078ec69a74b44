"""Complications first: the urgent reply and the front desk's urgent ticket."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import idempotency_key, patient_messages, send_reply, treatment_in_focus
from clinic.frontdesk import get_store
from clinic.red_flags import EMERGENCY_SIGNS_TEXT, detect
from clinic.red_flags import advice as red_flag_advice
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

# Channels whose sender id is the patient's phone number.
PHONE_CHANNELS = {"twilio"}


class ActionHandleComplication(Action):
    """Say plainly what to do now, and put an urgent ticket at the top of the inbox."""

    def name(self) -> str:
        return "action_handle_complication"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings = get_settings()
        flag = detect(tracker.latest_message.get("text") or "")
        if flag is not None:
            text = red_flag_advice(flag, settings.phone, settings.emergency_number)
        else:  # e.g. a "report a problem" button: no sign to name
            text = (
                f"If you have a problem after a treatment, please call the clinic now on "
                f"{settings.phone}. If you have {EMERGENCY_SIGNS_TEXT}, call "
                f"{settings.emergency_number} straight away."
            )
        treatment = treatment_in_focus(tracker)
        ticket_id = self._raise_ticket(tracker, treatment)
        # The advice goes out even when the ticket could not be stored.
        send_reply(
            dispatcher,
            "urgent",
            [text],
            sign=flag.sign if flag else None,
            emergency=bool(flag and flag.emergency),
            ticket=ticket_id,
        )
        return []

    @staticmethod
    def _raise_ticket(tracker: Tracker, treatment: str | None) -> int | None:
        channel = tracker.get_latest_input_channel() or "unknown"
        try:
            ticket = get_store().create(
                idempotency_key=idempotency_key(tracker),
                category="complication",
                urgency="urgent",
                channel=channel,
                treatment=treatment,
                phone=tracker.sender_id if channel in PHONE_CHANNELS else None,
                messages=patient_messages(tracker),
            )
        except Exception:  # the database is down: the patient still gets the advice
            logger.exception("Could not store an urgent complication ticket")
            return None
        logger.info("Urgent complication ticket %s", ticket.id)
        return ticket.id
