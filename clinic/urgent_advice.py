"""What a patient with a possible complication is told, by triage layer and opening hours.

The rules name a sign: an emergency sign gets the emergency number first; any other sign gets
"call the clinic now", or, when the clinic is closed, the out-of-hours advice from the clinic
settings (the non-emergency medical line, the clinic's out-of-hours number if it has one).
The classifier and the symptom screen cannot name a sign, so their reply says the message may
need checking now and lists when to call the emergency number. Every reply ends with the
emergency signs, so no reply leaves a patient without the number to call.

:func:`urgent_calls` lists the numbers the same advice tells the patient to call now, in the
order it gives them, for the reply contract's ``call`` field (the widget shows them as
tap-to-call buttons, so it never has to find numbers in the text).
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from clinic.complication_screen import Triage
from clinic.red_flags import EMERGENCY_SIGNS_TEXT, SIGN_DESCRIPTIONS
from clinic.settings import ClinicSettings

CALLBACK_QUESTION = (
    "If you would like the clinic to call you back, type your phone number here (optional)."
)
CALLBACK_QUESTION_CLOSED = (
    "If you would like the clinic to call you back when it opens, type your phone number "
    "here (optional)."
)


class CallOption(TypedDict):
    """A number to call now: ``{"label": "Call 999", "number": "999", "kind": "emergency"}``.

    ``kind`` is ``emergency``, ``clinic``, ``out_of_hours`` (the clinic's own out-of-hours
    number) or ``non_emergency`` (e.g. NHS 111)."""

    label: str
    number: str
    kind: str


def _opens(settings: ClinicSettings, now: datetime) -> str:
    """ "it opens tomorrow at 09:00" (or "" when it never opens)."""
    opening = settings.next_opening(now)
    if opening is None:
        return ""
    days = (opening.date() - now.astimezone(settings.time_zone).date()).days
    day = {0: "today", 1: "tomorrow"}.get(days, f"on {opening:%A}")
    return f"it opens {day} at {opening:%H:%M}"


def _when_it_opens(settings: ClinicSettings, now: datetime) -> str:
    opens = _opens(settings, now)
    return f"The clinic is closed now ({opens})." if opens else "The clinic is closed now."


def _out_of_hours_line(settings: ClinicSettings) -> str:
    line = f"call {settings.non_emergency_name} on {settings.non_emergency_line}"
    if settings.out_of_hours_phone:
        line = f"call the clinic's out-of-hours number {settings.out_of_hours_phone} or {line}"
    return line


def _emergency_tail(settings: ClinicSettings) -> str:
    return f"If you have {EMERGENCY_SIGNS_TEXT}, call {settings.emergency_number} straight away."


def urgent_advice(triage: Triage | None, settings: ClinicSettings, now: datetime) -> str:
    """The advice to send now. ``triage`` None: the patient asked to report a problem
    (a button) without describing it."""
    is_open = settings.is_open(now)
    if triage is not None and triage.emergency and triage.sign:
        what = SIGN_DESCRIPTIONS[triage.sign]
        later = f"When you are safe, let the clinic know on {settings.phone}."
        if not is_open:
            opens = _opens(settings, now)
            later = f"When you are safe, let the clinic know ({opens}, {settings.phone})."
        return (
            f"Please call {settings.emergency_number} now: {what} after a treatment can be an "
            f"emergency. Tell them which treatment you had and when. {later}"
        )
    if triage is not None and triage.sign:
        what = SIGN_DESCRIPTIONS[triage.sign]
        if is_open:
            first = (
                f"Please call the clinic now on {settings.phone}: {what} after a treatment "
                "should be checked by the team today."
            )
        else:
            first = (
                f"{_when_it_opens(settings, now)} {what[0].upper()}{what[1:]} after a "
                f"treatment should be checked today: please {_out_of_hours_line(settings)} now."
            )
        return f"{first} {_emergency_tail(settings)}"
    if triage is not None:  # the classifier or the symptom screen: no sign named
        if is_open:
            first = (
                "This may need checking now: please call the clinic on "
                f"{settings.phone} and tell them what you notice and which treatment you had."
            )
        else:
            first = (
                f"This may need checking now. {_when_it_opens(settings, now)} Please "
                f"{_out_of_hours_line(settings)} and tell them what you notice and which "
                "treatment you had."
            )
        return f"{first} {_emergency_tail(settings)}"
    # "Report a problem" without a description: no ticket yet, ask what is happening.
    if is_open:
        first = (
            "If you have a problem after a treatment, please call the clinic now on "
            f"{settings.phone}, or tell me here what you are noticing."
        )
    else:
        first = (
            f"{_when_it_opens(settings, now)} If you have a problem after a treatment, please "
            f"{_out_of_hours_line(settings)}, or tell me here what you are noticing."
        )
    return f"{first} {_emergency_tail(settings)}"


def urgent_calls(
    triage: Triage | None, settings: ClinicSettings, now: datetime
) -> list[CallOption]:
    """The numbers :func:`urgent_advice` tells the patient to call now, in its order: the
    emergency number first for an emergency sign (then the clinic, when it is open); else the
    clinic when it is open, or its out-of-hours number and the non-emergency line when it is
    closed, then the emergency number, which every reply ends with."""
    emergency = CallOption(
        label=f"Call {settings.emergency_number}",
        number=settings.emergency_number,
        kind="emergency",
    )
    clinic = CallOption(label="Call the clinic", number=settings.phone, kind="clinic")
    is_open = settings.is_open(now)
    if triage is not None and triage.emergency and triage.sign:
        return [emergency, clinic] if is_open else [emergency]
    if is_open:
        return [clinic, emergency]
    calls = []
    if settings.out_of_hours_phone:
        calls.append(
            CallOption(
                label="Call the clinic's out-of-hours line",
                number=settings.out_of_hours_phone,
                kind="out_of_hours",
            )
        )
    calls.append(
        CallOption(
            label=f"Call {settings.non_emergency_name}",
            number=settings.non_emergency_line,
            kind="non_emergency",
        )
    )
    return [*calls, emergency]


def callback_question(settings: ClinicSettings, now: datetime) -> str:
    return CALLBACK_QUESTION if settings.is_open(now) else CALLBACK_QUESTION_CLOSED
