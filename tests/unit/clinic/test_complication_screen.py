"""The second triage layer (clinic/complication_screen.py): the classifier and the screen.

The classifier is trained on the labelled triage files, so its figures on them are measured
out of fold: each fold is scored by a model trained without it (the same split every run).
"""

from __future__ import annotations

import random

import pytest

from clinic.complication_screen import (
    FALSE_ALARM_BUDGET,
    LAYERS,
    ComplicationClassifier,
    Triage,
    current_symptom,
    triage,
)
from clinic.labelled_triage import LabelledMessage, load_labelled
from clinic.red_flags import detect

FOLDS = 4
# Extra negatives as the NLU component adds them: ordinary questions of other intents.
OTHER_QUESTIONS = [
    "how much is prp",
    "what are your opening hours",
    "can i book a consultation",
    "how many sessions of microneedling will i need",
    "what is the difference between prp and exosomes",
    "hello",
    "does mesotherapy hurt",
    "how long does the redness last after microneedling",
]


@pytest.fixture(scope="module")
def labelled() -> list[LabelledMessage]:
    return load_labelled()


@pytest.fixture(scope="module")
def out_of_fold(labelled) -> list[tuple[LabelledMessage, bool]]:
    """Each message with whether rules + classifier flag it, the classifier never having
    seen the message's fold."""
    order = list(range(len(labelled)))
    random.Random(3).shuffle(order)
    fold_of = {index: position % FOLDS for position, index in enumerate(order)}
    results = []
    for fold in range(FOLDS):
        train = [m for i, m in enumerate(labelled) if fold_of[i] != fold]
        test = [m for i, m in enumerate(labelled) if fold_of[i] == fold]
        classifier = ComplicationClassifier.train(
            [m.text for m in train if m.red_flag],
            [m.text for m in train if not m.red_flag],
            OTHER_QUESTIONS,
        )
        results += [(m, detect(m.text) is not None or classifier.fires(m.text)) for m in test]
    return results


def test_out_of_fold_rules_and_classifier_keep_false_alarms_within_the_gate(out_of_fold) -> None:
    ordinary = [flagged for m, flagged in out_of_fold if not m.red_flag]
    alarms = sum(ordinary) / len(ordinary)
    assert alarms <= 0.05, f"false alarms {alarms:.3f}"


def test_out_of_fold_recall_is_at_least_the_rules_alone(out_of_fold) -> None:
    red_flags = [(m, flagged) for m, flagged in out_of_fold if m.red_flag]
    both = sum(flagged for _, flagged in red_flags)
    rules = sum(detect(m.text) is not None for m, _ in red_flags)
    assert both >= rules and both / len(red_flags) >= 0.98


@pytest.fixture(scope="module")
def classifier(labelled) -> ComplicationClassifier:
    return ComplicationClassifier.train(
        [m.text for m in labelled if m.red_flag],
        [m.text for m in labelled if not m.red_flag],
        OTHER_QUESTIONS,
    )


def test_the_threshold_is_chosen_within_the_budget(classifier) -> None:
    assert 0.05 <= classifier.threshold <= 0.95
    assert 0 < FALSE_ALARM_BUDGET <= 0.05


def test_the_classifier_survives_a_round_trip(classifier) -> None:
    loaded = ComplicationClassifier.from_bytes(classifier.to_bytes())
    texts = ["my face is killing me since the prp", "how much is prp", "hello"]
    assert loaded.threshold == classifier.threshold
    assert [loaded.probability(t) for t in texts] == pytest.approx(
        [classifier.probability(t) for t in texts]
    )


def test_the_classifier_separates_reports_from_questions(classifier) -> None:
    assert classifier.probability("the bit they injected is throbbing and gone a weird colour") > (
        classifier.probability("what are your opening hours on saturday")
    )


@pytest.mark.parametrize(
    "text, symptom",
    [
        ("my cheek feels really strange since the meso", "feels really strange"),
        ("my cheek is throbbing now", "throbbing"),
        ("my skin is a bit pink, fading already", None),  # improving
        ("swelling after microneedling: how long?", None),  # no current cue
        ("my vision is fine, is meso near the eyes safe?", None),
        ("my eye isn't sore", None),  # negated
    ],
)
def test_current_symptom(text: str, symptom: str | None) -> None:
    assert current_symptom(text) == symptom


def test_triage_tries_the_layers_in_order(classifier) -> None:
    ruled = triage("my lips are swelling up", classifier)
    assert ruled == Triage("rules", "allergic_reaction", True, ruled.evidence)
    screened = triage("my cheek feels really strange since the meso", None, 0.2)
    assert screened is not None and screened.layer == "symptom_screen"
    assert triage("my cheek feels really strange since the meso", None, 0.9) is None
    assert triage("how much is a course of prp?", classifier) is None


def test_triage_round_trips_through_a_dict() -> None:
    found = Triage("classifier", None, False, "score 0.91")
    assert Triage.from_dict(found.as_dict()) == found
    assert Triage.from_dict({"layer": "guess"}) is None and Triage.from_dict(None) is None
    assert set(LAYERS) == {"rules", "classifier", "symptom_screen"}
