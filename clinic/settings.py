"""The clinic settings file (``knowledge/clinic.yml``): name, hours, address, contact, prices.

Kept apart from the treatment knowledge so front-desk staff can change prices and hours
without touching the answers. Changes take effect when the action server restarts; no
retraining is needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from functools import cache
from pathlib import Path

from clinic.knowledge import Knowledge, get_knowledge
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
            "emergency_number", "currency", "opening_hours", "prices",
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
    )


@cache
def get_settings(directory: Path | None = None) -> ClinicSettings:
    """The validated clinic settings, loaded once per process."""
    directory = directory or knowledge_dir()
    return parse_settings(directory / SETTINGS_FILE_NAME, get_knowledge(directory))
