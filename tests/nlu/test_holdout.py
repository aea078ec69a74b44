"""NLU quality on held-out patient messages (tests/nlu/holdout.yml, never used in training).

Fails below intent accuracy 0.95 or treatment-entity F1 0.95. Entities are compared by
type and canonical id, so "derma pen" must come out as treatment=microneedling.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from scripts.nlu_eval import Prediction, entity_score, intent_errors, predict

HOLDOUT = Path(__file__).resolve().parent / "holdout.yml"
TRAINING_DATA = Path(__file__).resolve().parents[2] / "data" / "nlu"
MIN_INTENT_ACCURACY = 0.95
MIN_ENTITY_F1 = {"treatment": 0.95, "concern": 0.9}


@pytest.fixture(scope="module")
def predictions(trained_model: Path) -> list[Prediction]:
    return predict(trained_model, HOLDOUT)


def test_holdout_is_large_and_not_copied_from_training() -> None:
    holdout = {e.get("text").lower().strip() for e in load_data(str(HOLDOUT)).intent_examples}
    training = {
        e.get("text").lower().strip() for e in load_data(str(TRAINING_DATA)).intent_examples
    }
    assert len(holdout) >= 150
    assert not holdout & training, f"held-out messages also in training: {holdout & training}"


def test_intent_accuracy(predictions: list[Prediction]) -> None:
    errors = intent_errors(predictions)
    accuracy = 1 - len(errors) / len(predictions)
    assert accuracy >= MIN_INTENT_ACCURACY, "\n".join([f"accuracy {accuracy:.3f}", *errors])


@pytest.mark.parametrize("entity_type", sorted(MIN_ENTITY_F1))
def test_entity_f1(predictions: list[Prediction], entity_type: str) -> None:
    score = entity_score(predictions, entity_type)
    assert score.true_positives > 0
    assert score.f1 >= MIN_ENTITY_F1[entity_type], "\n".join(
        [f"{entity_type} F1 {score.f1:.3f}", *score.errors]
    )
