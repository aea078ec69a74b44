"""The clinic settings file (``knowledge/clinic.yml``): name, hours, address, contact, prices.

Kept apart from the treatment knowledge so front-desk staff can change prices and hours
without touching the answers. An edit takes effect within a second in a running server
(validated first, together with the knowledge it needs a price for: see
``clinic.knowledge.LiveKnowledge``); no retraining is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic.knowledge import DependentFile, Knowledge, forget_loaded_files, live_knowledge
from clinic.paths import SETTINGS_FILE_NAME, knowledge_dir
from clinic.yaml_source import Node, load_yaml

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_COLOUR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_RETENTION_DAYS = 90
MAX_RETENTION_DAYS = 3650
MAX_STARTER_QUESTIONS = 3
MAX_STARTER_CHARS = 80
_HOURS_PATTERN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class OpeningHours:
    opens: time
    closes: time

    def __str__(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"


@dataclass(frozen=True)
class Price:
    per_session: float
    per_course: float
    course_sessions: int


@dataclass(frozen=True)
class ClinicSettings:
    name: str
    is_example: bool
    address: str
    phone: str
    email: str
    booking_url: str
    emergency_number: str
    currency: str
    opening_hours: dict[str, OpeningHours | None]  # weekday -> hours, None when closed
    prices: dict[str, Price]
    time_zone: ZoneInfo  # the opening hours are in this zone
    non_emergency_line: str  # e.g. NHS 111: medical advice when the clinic is closed
    non_emergency_name: str
    out_of_hours_phone: str | None  # the clinic's own out-of-hours number, if it has one
    # The chat widget and the staff pages (``assistant`` in the file).
    assistant_name: str = "Clinic Assistant"
    starter_questions: tuple[str, ...] = ()  # offered as chips when the chat opens
    brand_colour: str = "#2f6f6a"  # '#rrggbb': widget header, staff pages
    # Stored conversations older than this are deleted (``conversation_retention_days``).
    retention_days: int = 90

    def is_open(self, at: datetime) -> bool:
        """Whether the clinic is open at ``at`` (an aware datetime, any zone)."""
        local = at.astimezone(self.time_zone)
        hours = self.opening_hours[WEEKDAYS[local.weekday()]]
        return hours is not None and hours.opens <= local.time() < hours.closes

    def next_opening(self, at: datetime) -> datetime | None:
        """When the clinic next opens after ``at``, in its own zone; None if never open."""
        local = at.astimezone(self.time_zone)
        for days_ahead in range(8):
            day = local.date() + timedelta(days=days_ahead)
            hours = self.opening_hours[WEEKDAYS[day.weekday()]]
            if hours is None:
                continue
            opens = datetime.combine(day, hours.opens, tzinfo=self.time_zone)
            if opens > local:
                return opens
        return None

    def format_money(self, amount: float) -> str:
        value = f"{amount:,.0f}" if amount == int(amount) else f"{amount:,.2f}"
        return f"{value} {self.currency}"


def _hours(node: Node) -> OpeningHours | None:
    if isinstance(node.value, str) and node.value.strip().lower() == "closed":
        return None
    match = _HOURS_PATTERN.match(node.text())
    if not match:
        raise node.error("must be 'HH:MM-HH:MM' (e.g. '09:00-18:00') or 'closed'")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise node.error("is not a valid time of day") from None
    if closes <= opens:
        raise node.error("closing time must be after opening time")
    return OpeningHours(opens, closes)


def parse_settings(path: Path, knowledge: Knowledge) -> ClinicSettings:
    """Load and validate the settings; every treatment in the knowledge needs a price."""
    root = load_yaml(path)
    root.reject_unknown(
        {
            "version", "example", "name", "address", "phone", "email", "booking_url",
            "emergency_number", "currency", "opening_hours", "prices", "time_zone",
            "out_of_hours", "assistant", "conversation_retention_days",
        }
    )  # fmt: skip
    if root.child("version").value != 1:
        raise root.child("version").error("unsupported version (this assistant reads version 1)")

    hours_node = root.child("opening_hours")
    hours_node.reject_unknown(set(WEEKDAYS))
    opening_hours = {day: _hours(hours_node.child(day)) for day in WEEKDAYS}

    prices_node = root.child("prices")
    prices_node.reject_unknown(set(knowledge.treatments))
    prices = {}
    for treatment_id in knowledge.treatments:
        node = prices_node.child(treatment_id)
        node.reject_unknown({"per_session", "per_course", "course_sessions"})
        prices[treatment_id] = Price(
            per_session=node.child("per_session").number(),
            per_course=node.child("per_course").number(),
            course_sessions=node.child("course_sessions").integer(),
        )

    booking_node = root.child("booking_url")
    booking_url = booking_node.text()
    if not booking_url.startswith(("https://", "http://")):
        raise booking_node.error("must be a web address starting with https://")

    zone_node = root.child("time_zone")
    try:
        time_zone = ZoneInfo(zone_node.text())
    except (ZoneInfoNotFoundError, ValueError):
        raise zone_node.error(
            "unknown time zone (use an IANA name such as Europe/London)"
        ) from None

    after_hours = root.child("out_of_hours")
    after_hours.reject_unknown({"non_emergency_line", "non_emergency_name", "clinic_phone"})
    clinic_phone_node = after_hours.child("clinic_phone", required=False)
    out_of_hours_phone = None
    if clinic_phone_node is not None and clinic_phone_node.value not in (None, ""):
        out_of_hours_phone = clinic_phone_node.text()

    assistant = _assistant(root.child("assistant"))
    retention_node = root.child("conversation_retention_days", required=False)
    retention_days = DEFAULT_RETENTION_DAYS
    if retention_node is not None:
        retention_days = retention_node.integer()
        if not 1 <= retention_days <= MAX_RETENTION_DAYS:
            raise retention_node.error(f"must be a number of days from 1 to {MAX_RETENTION_DAYS}")

    example_node = root.child("example", required=False)
    return ClinicSettings(
        name=root.child("name").text(),
        is_example=example_node.boolean() if example_node is not None else False,
        address=root.child("address").text(),
        phone=root.child("phone").text(),
        email=root.child("email").text(),
        booking_url=booking_url,
        emergency_number=root.child("emergency_number").text(),
        currency=root.child("currency").text(),
        opening_hours=opening_hours,
        prices=prices,
        time_zone=time_zone,
        non_emergency_line=after_hours.child("non_emergency_line").text(),
        non_emergency_name=after_hours.child("non_emergency_name").text(),
        out_of_hours_phone=out_of_hours_phone,
        retention_days=retention_days,
        **assistant,
    )


def _assistant(node: Node) -> dict[str, Any]:
    node.reject_unknown({"name", "starter_questions", "colour"})
    starters_node = node.child("starter_questions")
    starters = starters_node.text_list()
    if len(starters) > MAX_STARTER_QUESTIONS:
        raise starters_node.error(f"list at most {MAX_STARTER_QUESTIONS} questions")
    for element, question in zip(starters_node.elements(), starters, strict=True):
        if len(question) > MAX_STARTER_CHARS:
            raise element.error(f"keep a starter question under {MAX_STARTER_CHARS} characters")
    colour_node = node.child("colour")
    colour = colour_node.text()
    if not _COLOUR_PATTERN.match(colour):
        raise colour_node.error("must be a colour written '#rrggbb' (e.g. '#2f6f6a')")
    return {
        "assistant_name": node.child("name").text(),
        "starter_questions": starters,
        "brand_colour": colour.lower(),
    }


SETTINGS_FILE = DependentFile(SETTINGS_FILE_NAME, parse_settings)


def get_settings(directory: Path | None = None) -> ClinicSettings:
    """The validated clinic settings as the file is now, checked against the knowledge in use
    (an invalid edit of either file keeps the last good pair)."""
    return live_knowledge(directory or knowledge_dir()).dependent(SETTINGS_FILE)


def get_knowledge_and_settings(directory: Path | None = None) -> tuple[Knowledge, ClinicSettings]:
    """Both from one version: every treatment of this knowledge has a price in these settings."""
    return live_knowledge(directory or knowledge_dir()).with_dependent(SETTINGS_FILE)


get_settings.cache_clear = forget_loaded_files  # type: ignore[attr-defined]
