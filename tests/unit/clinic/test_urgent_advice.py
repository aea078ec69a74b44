"""What a patient with a possible complication is told, in and out of opening hours."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from clinic.complication_screen import Triage
from clinic.settings import get_settings
from clinic.urgent_advice import (
    CALLBACK_QUESTION_CLOSED,
    callback_question,
    urgent_advice,
    urgent_calls,
)

# The example clinic: Europe/London, Tuesday 09:00-18:00, closed on Sunday.
TUESDAY_NOON = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
TUESDAY_NIGHT = datetime(2026, 12, 1, 21, 22, tzinfo=timezone.utc)
SATURDAY_EVENING = datetime(2026, 12, 5, 15, 0, tzinfo=timezone.utc)
FEVER = Triage("rules", "fever", False, "fever")
VISION = Triage("rules", "vision_change", True, "blurry vision")
UNSURE = Triage("symptom_screen", None, False, "throbbing")


@pytest.fixture()
def settings():
    return get_settings()


def test_open_hours(settings) -> None:
    assert settings.is_open(TUESDAY_NOON) and not settings.is_open(TUESDAY_NIGHT)
    assert settings.next_opening(TUESDAY_NIGHT) == datetime(
        2026, 12, 2, 9, 0, tzinfo=settings.time_zone
    )
    assert f"{settings.next_opening(SATURDAY_EVENING):%A %H:%M}" == "Monday 09:00"


def test_opening_hours_follow_the_clinics_time_zone(settings) -> None:
    in_new_york = replace(settings, time_zone=__import__("zoneinfo").ZoneInfo("America/New_York"))
    # 21:22 UTC is 16:22 in New York: open there, closed in London.
    assert in_new_york.is_open(TUESDAY_NIGHT) and not settings.is_open(TUESDAY_NIGHT)


def test_a_sign_in_opening_hours_says_call_the_clinic_now(settings) -> None:
    text = urgent_advice(FEVER, settings, TUESDAY_NOON)
    assert text.startswith(f"Please call the clinic now on {settings.phone}")
    assert settings.emergency_number in text


def test_a_sign_out_of_hours_gives_the_out_of_hours_advice(settings) -> None:
    text = urgent_advice(FEVER, settings, TUESDAY_NIGHT)
    assert text.startswith("The clinic is closed now (it opens tomorrow at 09:00).")
    assert f"{settings.non_emergency_name} on {settings.non_emergency_line}" in text
    assert settings.emergency_number in text and "call the clinic now" not in text


def test_the_clinics_own_out_of_hours_number_comes_first(settings) -> None:
    with_line = replace(settings, out_of_hours_phone="+44 20 7946 0999")
    text = urgent_advice(FEVER, with_line, SATURDAY_EVENING)
    assert "it opens on Monday at 09:00" in text
    assert text.index("+44 20 7946 0999") < text.index(settings.non_emergency_name)


@pytest.mark.parametrize("now", [TUESDAY_NOON, TUESDAY_NIGHT])
def test_an_emergency_sign_says_the_emergency_number_first(settings, now) -> None:
    text = urgent_advice(VISION, settings, now)
    assert text.startswith(f"Please call {settings.emergency_number} now")


@pytest.mark.parametrize("now", [TUESDAY_NOON, TUESDAY_NIGHT])
def test_an_unsure_catch_says_it_may_need_checking(settings, now) -> None:
    text = urgent_advice(UNSURE, settings, now)
    assert text.startswith("This may need checking now")
    assert settings.emergency_number in text


def test_a_report_without_a_description_asks_what_is_happening(settings) -> None:
    text = urgent_advice(None, settings, TUESDAY_NOON)
    assert "tell me here what you are noticing" in text and settings.emergency_number in text


def test_the_callback_question_says_when_the_clinic_will_call(settings) -> None:
    assert callback_question(settings, TUESDAY_NIGHT) == CALLBACK_QUESTION_CLOSED
    assert "when it opens" not in callback_question(settings, TUESDAY_NOON)


# --- the numbers to call, for the widget's tap-to-call buttons ----------------------------


def _numbers(calls) -> list[str]:
    return [call["number"] for call in calls]


def test_an_emergency_gives_the_emergency_number_first_then_the_open_clinic(settings) -> None:
    assert urgent_calls(VISION, settings, TUESDAY_NOON) == [
        {"label": "Call 999", "number": "999", "kind": "emergency"},
        {"label": "Call the clinic", "number": settings.phone, "kind": "clinic"},
    ]
    # Closed: nobody answers the clinic's phone now.
    assert _numbers(urgent_calls(VISION, settings, TUESDAY_NIGHT)) == ["999"]


@pytest.mark.parametrize("found", [FEVER, UNSURE, None])
def test_in_opening_hours_the_clinic_comes_first(settings, found) -> None:
    assert _numbers(urgent_calls(found, settings, TUESDAY_NOON)) == [settings.phone, "999"]


@pytest.mark.parametrize("found", [FEVER, UNSURE, None])
def test_out_of_hours_the_non_emergency_line_comes_first(settings, found) -> None:
    calls = urgent_calls(found, settings, TUESDAY_NIGHT)
    assert calls[0] == {
        "label": f"Call {settings.non_emergency_name}",
        "number": settings.non_emergency_line,
        "kind": "non_emergency",
    }
    assert _numbers(calls) == [settings.non_emergency_line, "999"]


def test_the_clinics_own_out_of_hours_number_is_the_first_button(settings) -> None:
    with_line = replace(settings, out_of_hours_phone="+44 20 7946 0999")
    calls = urgent_calls(FEVER, with_line, SATURDAY_EVENING)
    assert [call["kind"] for call in calls] == ["out_of_hours", "non_emergency", "emergency"]
    assert calls[0]["number"] == "+44 20 7946 0999"


@pytest.mark.parametrize("now", [TUESDAY_NOON, TUESDAY_NIGHT, SATURDAY_EVENING])
@pytest.mark.parametrize("found", [VISION, FEVER, UNSURE, None])
def test_every_number_to_call_is_one_the_advice_gives_in_the_same_order(
    settings, found, now
) -> None:
    with_line = replace(settings, out_of_hours_phone="+44 20 7946 0999")
    for clinic in (settings, with_line):
        text = urgent_advice(found, clinic, now)
        position = 0
        for number in _numbers(urgent_calls(found, clinic, now)):
            # As a number of its own ("999" is also the end of "+44 20 7946 0999").
            match = re.compile(rf"(?<![\d+])(?<!\d ){re.escape(number)}(?!\d)").search(
                text, position
            )
            assert match, f"{number} not in the advice after position {position}: {text}"
            position = match.end()
