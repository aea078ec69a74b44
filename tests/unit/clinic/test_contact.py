"""Phone numbers and e-mail addresses as patients type them."""

from __future__ import annotations

import pytest

from clinic.contact import find_phone, valid_contact, valid_phone


@pytest.mark.parametrize(
    "text, expected",
    [("07700 900123", "07700900123"), ("+44 (0)7700-900123", "+4407700900123"),
     ("Sam@Example.com", "sam@example.com"), ("call me maybe", None), ("123", None),
     ("1" * 16, None), ("sam@", None), ("", None)],
)  # fmt: skip
def test_valid_contact(text: str, expected) -> None:
    assert valid_contact(text) == expected


def test_valid_phone_refuses_email() -> None:
    assert valid_phone("sam@example.com") is None


@pytest.mark.parametrize(
    "text, expected",
    [("my number is 07700 900123, after 6 please", "07700900123"),
     ("call me on +44 7700 900123", "+447700900123"), ("07700900123", "07700900123"),
     ("it started 2 days ago at 10", None), ("i had 3 sessions in 2024", None),
     ("my temperature is 38.5", None), ("no thanks", None)],
)  # fmt: skip
def test_find_phone_in_a_sentence(text: str, expected) -> None:
    assert find_phone(text) == expected
