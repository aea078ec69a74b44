"""Contact details patients type: phone numbers and e-mail addresses, checked and normalised."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)
_PHONE_CHARACTERS = re.compile(r"^\+?[\d\s().\-/]+$")
# A phone number inside a sentence: "my number is 07700 900123, after 6 please".
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().\-/]{5,}\d(?!\w)")
MIN_DIGITS, MAX_DIGITS = 7, 15


def valid_phone(text: str) -> str | None:
    """The number as "+" and digits or digits only, when ``text`` is just a phone number."""
    text = text.strip()
    if not _PHONE_CHARACTERS.match(text):
        return None
    digits = re.sub(r"\D", "", text)
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return None
    return ("+" if text.startswith("+") else "") + digits


def valid_contact(text: str) -> str | None:
    """A normalised phone number (7-15 digits) or e-mail address, else None."""
    text = text.strip()
    if _EMAIL.match(text):
        return text.lower()
    return valid_phone(text)


def find_phone(text: str) -> str | None:
    """The first phone number written in ``text``, normalised, or None."""
    for candidate in _PHONE_IN_TEXT.finditer(text):
        phone = valid_phone(candidate.group())
        if phone is not None:
            return phone
    return None
