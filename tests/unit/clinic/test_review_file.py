"""The review file: labelled patient messages appended as NLU examples, on a temp copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from clinic.knowledge import get_knowledge
from clinic.paths import PROJECT_ROOT
from clinic.review_file import (
    DEFAULT_REVIEW_FILE,
    HEADER,
    REVIEW_FILE_ENV,
    AlreadyInTrainingDataError,
    ReviewError,
    annotated,
    append_example,
    domain_intents,
    preview,
    review_file_path,
)


@pytest.fixture
def review(tmp_path: Path) -> Path:
    copy = tmp_path / "review.yml"
    shutil.copy(DEFAULT_REVIEW_FILE, copy)
    return copy


def examples(path: Path) -> dict[str, list[str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        block["intent"]: [line[2:] for line in block["examples"].splitlines()]
        for block in data["nlu"]
    }


def test_the_committed_file_is_valid_and_empty() -> None:
    data = yaml.safe_load(DEFAULT_REVIEW_FILE.read_text(encoding="utf-8"))
    assert data == {"version": "3.1", "nlu": []}
    assert DEFAULT_REVIEW_FILE.read_text(encoding="utf-8") == HEADER


def test_preview_shows_the_lines_added_and_writes_nothing(review: Path) -> None:
    before = review.read_text(encoding="utf-8")
    planned = preview("is the vampire facial ok when pregnant", "ask_candidacy",
                      "microneedling_prp", path=review)  # fmt: skip
    assert review.read_text(encoding="utf-8") == before
    added = [line for line in planned.diff.splitlines() if line.startswith("+ ")
             or line.startswith("+-") or line.startswith("+  ")]  # fmt: skip
    assert added == [
        "+- intent: ask_candidacy",
        "+  examples: |",
        '+    - is the [vampire facial]{"entity": "treatment", "value": "microneedling_prp"} '
        "ok when pregnant",
    ]
    assert "-nlu: []" in planned.diff and "+nlu:" in planned.diff


def test_append_goes_under_the_intent_block_and_stays_valid(review: Path) -> None:
    append_example("is the vampire facial ok when pregnant", "ask_candidacy",
                   "microneedling_prp", path=review)  # fmt: skip
    append_example("do you sell gift cards", "out_of_scope", path=review)
    append_example("can I have P.R.P. if I'm 17", "ask_candidacy", "prp", path=review)
    append_example("prp when breastfeeding?", "ask_candidacy", "prp", path=review)
    assert examples(review) == {
        "ask_candidacy": [
            'is the [vampire facial]{"entity": "treatment", "value": "microneedling_prp"} '
            "ok when pregnant",
            'can I have [P.R.P]{"entity": "treatment", "value": "prp"}. if I\'m 17',
            "[prp](treatment) when breastfeeding?",
        ],
        "out_of_scope": ["do you sell gift cards"],
    }
    assert review.read_text(encoding="utf-8").startswith(HEADER.split("nlu:")[0])


def test_a_treatment_not_named_in_the_message_is_not_annotated() -> None:
    assert annotated("is it safe when pregnant", "prp", get_knowledge()) == (
        "is it safe when pregnant"
    )
    assert annotated("is it safe", None, get_knowledge()) == "is it safe"


def test_a_message_already_in_the_training_data_is_refused(review: Path) -> None:
    with pytest.raises(AlreadyInTrainingDataError, match=r"booking\.yml, intent request_booking"):
        preview("Book me in   PLS", "request_booking", path=review)
    append_example("do you sell gift cards", "out_of_scope", path=review)
    before = review.read_text(encoding="utf-8")
    with pytest.raises(AlreadyInTrainingDataError, match="already in the training data"):
        append_example("do you sell gift cards", "ask_cost", path=review)
    assert review.read_text(encoding="utf-8") == before


@pytest.mark.parametrize(
    ("message", "intent", "treatment", "says"),
    [
        ("", "greet", None, "empty"),
        ('/ask_cost{"treatment":"prp"}', "ask_cost", None, "button press"),
        ("call me on [phone]", "request_human", None, r"\[ or \]"),
        ("what is it", "ask_everything", None, "Unknown intent"),
        ("what is it", "ask_overview", "botox", "Unknown treatment"),
    ],
)
def test_bad_labels_are_refused_clearly(
    review: Path, message: str, intent: str, treatment: str | None, says: str
) -> None:
    with pytest.raises(ReviewError, match=says):
        preview(message, intent, treatment, path=review)


def test_a_hand_broken_file_is_not_overwritten(review: Path) -> None:
    review.write_text("version: '3.1'\nnlu: {not: a list\n", encoding="utf-8")
    with pytest.raises(ReviewError, match="not valid YAML"):
        append_example("do you sell gift cards", "out_of_scope", path=review)
    assert review.read_text(encoding="utf-8") == "version: '3.1'\nnlu: {not: a list\n"
    review.write_text("version: '3.1'\nnlu: {a: 1}\n", encoding="utf-8")
    with pytest.raises(ReviewError, match="cannot be added safely"):
        append_example("do you sell gift cards", "out_of_scope", path=review)


def test_the_path_setting_and_the_intents() -> None:
    assert review_file_path({}) == DEFAULT_REVIEW_FILE
    assert review_file_path({REVIEW_FILE_ENV: "build/r.yml"}) == PROJECT_ROOT / "build/r.yml"
    intents = domain_intents()
    assert "ask_cost" in intents and "out_of_scope" in intents
