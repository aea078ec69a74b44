"""The red-flag detector (clinic/red_flags.py) against the labelled set tests/triage/red_flags.yml.

Gate: recall on red flags >= 0.98 and false alarms on ordinary questions <= 5%; every miss
and false alarm is listed in the failure message. Then sign and emergency per red flag, and a
few tricky cases (negation, past and resolved, hypothetical, first person).
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from clinic.paths import PROJECT_ROOT
from clinic.red_flags import SIGN_DESCRIPTIONS, RedFlag, advice, detect, normalise

LABELLED = PROJECT_ROOT / "tests" / "triage" / "red_flags.yml"
MIN_RECALL = 0.98
MAX_FALSE_ALARM_RATE = 0.05


@pytest.fixture(scope="module")
def labelled() -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load(LABELLED.read_text(encoding="utf-8"))


def test_labelled_set_is_large_and_covers_every_sign(labelled: dict) -> None:
    red_flags, ordinary = labelled["red_flags"], labelled["ordinary"]
    assert len(red_flags) + len(ordinary) >= 70
    assert len(red_flags) >= 32 and len(ordinary) >= 32
    assert {case["sign"] for case in red_flags} == set(SIGN_DESCRIPTIONS)
    texts = [case["text"].lower() for case in red_flags + ordinary]
    assert len(texts) == len(set(texts)), "duplicate messages"


def test_recall_on_red_flags(labelled: dict) -> None:
    cases = labelled["red_flags"]
    misses = [case["text"] for case in cases if detect(case["text"]) is None]
    recall = 1 - len(misses) / len(cases)
    assert recall >= MIN_RECALL, "\n".join(
        [f"recall {recall:.3f} < {MIN_RECALL}; missed:", *misses]
    )


def test_false_alarms_on_ordinary_questions(labelled: dict) -> None:
    cases = labelled["ordinary"]
    alarms = [(case["text"], detect(case["text"])) for case in cases]
    alarms = [f"{text}  ->  {flag}" for text, flag in alarms if flag is not None]
    rate = len(alarms) / len(cases)
    assert rate <= MAX_FALSE_ALARM_RATE, "\n".join(
        [f"false-alarm rate {rate:.3f} > {MAX_FALSE_ALARM_RATE}:", *alarms]
    )


def test_sign_and_emergency_of_red_flags(labelled: dict) -> None:
    wrong = []
    for case in labelled["red_flags"]:
        flag = detect(case["text"])
        if flag and (flag.sign, flag.emergency) != (case["sign"], case["emergency"]):
            wrong.append(
                f"{case['text']}  ->  {flag.sign}/{flag.emergency}, "
                f"expected {case['sign']}/{case['emergency']}"
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


def test_advice_gives_the_right_number() -> None:
    urgent = advice(RedFlag("vision_change", True, "blurry vision"), "020 1", "999")
    call_clinic = advice(RedFlag("blisters", False, "blisters"), "020 1", "999")
    assert urgent.startswith("Please call 999 now") and "020 1" in urgent
    assert call_clinic.startswith("Please call the clinic now on 020 1") and "999" in call_clinic
