"""Actions answering from the clinic settings: hours, location, contact, booking, a person."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import ResumesForm, intent_name, send_reply
from clinic.settings import WEEKDAYS, ClinicSettings, get_settings

_DAY_PATTERNS = {day: re.compile(rf"\b{day[:3]}(?:{day[3:]})?s?\b") for day in WEEKDAYS}
_WEEKEND = re.compile(r"\bweek-?ends?\b")


def days_mentioned(text: str) -> list[str]:
    """Weekdays named in ``text`` ("sat", "Saturdays", "weekend" -> saturday and sunday)."""
    lowered = text.lower()
    days = [day for day, pattern in _DAY_PATTERNS.items() if pattern.search(lowered)]
    if _WEEKEND.search(lowered):
        days.extend(day for day in ("saturday", "sunday") if day not in days)
    return days


def hours_text(settings: ClinicSettings, days: list[str] | None = None) -> str:
    if days:
        parts = []
        for day in days:
            hours = settings.opening_hours[day]
            parts.append(
                f"on {day.capitalize()} we're open {hours}"
                if hours
                else f"on {day.capitalize()} we're closed"
            )
        sentence = "; ".join(parts)
        return sentence[0].upper() + sentence[1:] + "."
    lines = [
        f"{day.capitalize()}: {hours or 'closed'}" for day, hours in settings.opening_hours.items()
    ]
    return "Our opening hours are " + ", ".join(lines) + "."


class ActionClinicInfo(ResumesForm, Action):
    """Opening hours (for a given day when one is named), address, phone and email."""

    def name(self) -> str:
        return "action_clinic_info"

    def reply(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        settings = get_settings()
        intent = intent_name(tracker.latest_message)
        if intent == "ask_location":
            info, text = "location", f"You'll find {settings.name} at {settings.address}."
        elif intent == "ask_contact":
            info = "contact"
            text = f"You can call {settings.name} on {settings.phone} or email {settings.email}."
        else:
            info = "hours"
            text = hours_text(settings, days_mentioned(tracker.latest_message.get("text") or ""))
        send_reply(dispatcher, "clinic_info", [text], info=info)
        return []
