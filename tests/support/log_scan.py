"""Grep a captured log for personal data: the check behind "no personal data in any log"."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from clinic.contact import valid_phone

_SEPARATORS = r"[\s\-().\\/]*"  # what people (and escaped reprs) put between a number's digits
_WHITESPACE = re.compile(r"\s+")


def personal_data_found(log_text: str, values: Iterable[str]) -> list[str]:
    """The ``values`` (names, e-mail addresses, phone numbers, message texts) that appear in
    ``log_text``, in the order given.

    Text is compared case-insensitively, with runs of white space as one space and backslash
    escapes ignored, as written, JSON-escaped or repr-escaped (``I\\'m Jane``, ``Zo\\u00eb``).
    A phone number is found however its digits are separated and with its national prefix or
    country code or neither: ``+44 7700 900123`` is found as ``07700900123``, ``7700-900-123``
    or ``447700900123``. Short values ("Jo") also match inside longer words: pick distinctive
    test data.
    """
    normalised_log = _normalised(log_text)
    found: list[str] = []
    for value in values:
        if value in found or not value.strip():
            continue
        phone = valid_phone(value)
        if phone is not None:
            if _phone_pattern(phone).search(log_text):
                found.append(value)
        elif any(_normalised(form) in normalised_log for form in _written_forms(value)):
            found.append(value)
    return found


def _normalised(text: str) -> str:
    return _WHITESPACE.sub(" ", text.replace("\\", "")).casefold()


def _written_forms(value: str) -> set[str]:
    """``value`` as a log may hold it: plain, in JSON, in a (bytes) repr, URL-encoded @."""
    return {
        value,
        json.dumps(value)[1:-1],
        repr(value)[1:-1],
        repr(value.encode())[2:-1],  # inside a bytes repr, as Rasa logs a response body
        value.replace("@", "%40"),
    }


def _phone_pattern(phone: str) -> re.Pattern[str]:
    """The subscriber digits (no "+", "00", country code 44 or leading 0), any separators,
    whatever precedes them (a country code, a trunk 0), not followed by another digit."""
    digits = phone.lstrip("+")
    for prefix in ("0044", "44", "00", "0"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 6:
            digits = digits[len(prefix) :]
            break
    body = _SEPARATORS.join(digits)
    return re.compile(rf"{body}(?!\d)")
