"""The red-flag rules (clinic/red_flags.py) against every labelled triage file in data/triage/.

Gate, on all files together: recall on red flags >= 0.98 and false alarms on ordinary questions
<= 5%; every miss and false alarm is listed in the failure message. No emergency may be
under-called in any file; in red_flags.yml the sign must match too. Then a few tricky cases
(negation, past and resolved, hypothetical, first person, the signs added in issue 8).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clinic.labelled_triage import LabelledMessage, labelled_files, load_labelled
from clinic.red_flags import SIGN_DESCRIPTIONS, RedFlag, current_mention, detect, normalise

MIN_RECALL = 0.98
MAX_FALSE_ALARM_RATE = 0.05


@pytest.fixture(scope="module")
def labelled() -> list[LabelledMessage]:
    return load_labelled()


def test_labelled_set_is_large_and_covers_every_sign(labelled: list[LabelledMessage]) -> None:
    red_flags = [m for m in labelled if m.red_flag]
    ordinary = [m for m in labelled if not m.red_flag]
    assert len(labelled_files()) >= 4
    assert len(red_flags) >= 400 and len(ordinary) >= 300
    assert {m.sign for m in red_flags} == set(SIGN_DESCRIPTIONS)
    texts = [m.text.lower() for m in labelled]
    assert len(texts) == len(set(texts)), "duplicate messages"


def test_recall_on_red_flags(labelled: list[LabelledMessage]) -> None:
    cases = [m for m in labelled if m.red_flag]
    misses = [f"{m.source}: {m.text}" for m in cases if detect(m.text) is None]
    recall = 1 - len(misses) / len(cases)
    assert recall >= MIN_RECALL, "\n".join(
        [f"recall {recall:.3f} < {MIN_RECALL}; missed:", *misses]
    )


def test_false_alarms_on_ordinary_questions(labelled: list[LabelledMessage]) -> None:
    cases = [m for m in labelled if not m.red_flag]
    alarms = [(m, detect(m.text)) for m in cases]
    alarms = [f"{m.source}: {m.text}  ->  {flag}" for m, flag in alarms if flag is not None]
    rate = len(alarms) / len(cases)
    assert rate <= MAX_FALSE_ALARM_RATE, "\n".join(
        [f"false-alarm rate {rate:.3f} > {MAX_FALSE_ALARM_RATE}:", *alarms]
    )


def test_no_emergency_is_under_called(labelled: list[LabelledMessage]) -> None:
    wrong = []
    for m in labelled:
        flag = detect(m.text)
        if m.red_flag and m.emergency and flag is not None and not flag.emergency:
            wrong.append(f"{m.source}: {m.text}  ->  {flag.sign}, not an emergency")
    assert not wrong, "\n".join(wrong)


def test_sign_and_emergency_of_the_first_labelled_set(labelled: list[LabelledMessage]) -> None:
    wrong = []
    for m in labelled:
        if not (m.red_flag and Path(m.source.split(":")[0]).name == "red_flags.yml"):
            continue
        flag = detect(m.text)
        if flag and (flag.sign, flag.emergency) != (m.sign, m.emergency):
            wrong.append(
                f"{m.source}: {m.text}  ->  {flag.sign}/{flag.emergency}, "
                f"expected {m.sign}/{m.emergency}"
            )
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "text",
    [
        "no fever, just a bit pink",
        "I haven't had any pus or oozing",
        "there's no fever or chills, only some redness",
        "I don't think it's infected",
        "the redness isn't spreading",
        "without any blisters so far",
    ],
)
def test_negated_signs_are_not_red_flags(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "I had a blister after my last course years ago, can I still have microneedling?",
        "there was some oozing on the first night but it has healed now",
        "I had a fever last month, is PRP ok for me?",
    ],
)
def test_past_and_resolved_signs_are_not_red_flags(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "can PRP give you a fever?",
        "what should I do if my lips swell after mesotherapy?",
        "how long do blisters take to heal after microneedling?",
        "is blurry vision a side effect of mesotherapy?",
        "my friend said her skin went white after fillers, can that happen with PRP?",
    ],
)
def test_hypothetical_questions_are_not_red_flags(text: str) -> None:
    assert detect(text) is None


@pytest.mark.parametrize(
    ("text", "sign", "emergency"),
    [
        ("my lips are swelling, is that normal?", "allergic_reaction", True),
        ("Is it normal that my vision is blurry after mesotherapy?", "vision_change", True),
        ("no fever but my lips are swelling", "allergic_reaction", True),
        ("I had a fever last week and now it's back", "fever", False),
        ("I think there's pus, will it go away by itself?", "pus", False),
        ("there's pus and my throat feels tight", "allergic_reaction", True),
        ("the bruise isn't the problem, the skin around it went white", "skin_colour_change", True),
    ],
)
def test_first_person_current_signs_are_red_flags(text: str, sign: str, emergency: bool) -> None:
    flag = detect(text)
    assert flag is not None and (flag.sign, flag.emergency) == (sign, emergency), flag


def test_bruise_colours_are_not_a_blocked_vessel() -> None:
    assert detect("my bruise has gone purple and yellow") is None


def test_normalise_spelling_and_contractions() -> None:
    assert normalise("My LIPS r swolllen & I can\u2019t breathe!!") == (
        "my lips are swollen and i cant breathe"
    )


def test_flag_carries_the_matched_phrase() -> None:
    assert detect("temp of 39.2 since last night") == RedFlag("fever", False, "temp of 39.2")


@pytest.mark.parametrize(
    ("text", "sign", "emergency"),
    [
        (
            "the skin by my nose looks lacy and marbled since the exosomes",
            "skin_colour_change",
            True,
        ),
        ("pressed the pale bit and the colour doesn't come back", "skin_colour_change", True),
        ("since the injection there's a shadow over part of my eye", "vision_change", True),
        ("can I take an antihistamine? my eyes are almost swollen shut", "allergic_reaction", True),
        ("the lump from last month keeps growing and is red now", "lump_changes", False),
        ("I'm on warfarin and the bruise keeps spreading", "spreading_bruise", False),
        ("my fingers are tingling where they took blood for the PRP", "spreading_bruise", False),
        ("she passed out after the blood draw and hit her head", "fainting", True),
        ("nearly fainted after the blood test, still a bit woozy", "fainting", False),
        ("the pain woke me up at 3am and it's worse every day", "worsening_pain", False),
        ("the redness has moved down onto my neck overnight", "spreading_redness", False),
    ],
)
def test_signs_added_for_new_wording(text: str, sign: str, emergency: bool) -> None:
    flag = detect(text)
    assert flag is not None and (flag.sign, flag.emergency) == (sign, emergency), flag


@pytest.mark.parametrize(
    "text",
    [
        "the yellow discharge hasn't stopped",
        "the pus won't go away",
    ],
)
def test_denied_resolution_is_not_resolved(text: str) -> None:
    assert detect(text) is not None


def test_current_mention_needs_a_current_cue() -> None:
    swelling = re.compile(r"\bswell\w*|\bswollen\b")
    assert current_mention("my cheek is swollen since yesterday", swelling) == "swollen"
    assert current_mention("swelling after microneedling?", swelling) is None
    assert current_mention("my cheek isn't swollen", swelling) is None
