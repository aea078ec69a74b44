"""NLU quality on the held-out patient messages (tests/nlu/holdout*.yml, never trained on).

- ``holdout.yml`` (issue 2): intent accuracy >= 0.95, treatment-entity F1 >= 0.95, concern
  F1 >= 0.9.
- ``holdout_2.yml`` (issue 9): written fresh, with public clinic FAQ headings in their original
  wording, long messages, texting style and follow-ups; intent accuracy and treatment-entity
  F1 >= 0.93.

Entities are compared by type and canonical id, so "derma pen" must come out as
treatment=microneedling. Both sets' errors have been read while tuning (see the README), so
they are development sets now; the gates keep what was reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from scripts.nlu_eval import Prediction, entity_score, intent_errors, predict

HERE = Path(__file__).resolve().parent
TRAINING_DATA = HERE.parents[1] / "data" / "nlu"
GATES = {
    "holdout.yml": {"intent": 0.95, "treatment": 0.95, "concern": 0.9, "size": 150},
    "holdout_2.yml": {"intent": 0.93, "treatment": 0.93, "size": 250},
}
HOLDOUT_2_FAQ_HEADINGS = 80


ENTITY_GATES = [
    (name, entity)
    for name, gate in GATES.items()
    for entity in ("treatment", "concern")
    if entity in gate
]


@pytest.fixture(scope="module")
def predictions(trained_model: Path) -> dict[str, list[Prediction]]:
    return {name: predict(trained_model, HERE / name) for name in GATES}


@pytest.mark.parametrize("name", sorted(GATES))
def test_holdout_is_large_and_not_copied_from_training(name: str) -> None:
    holdout = {e.get("text").lower().strip() for e in load_data(str(HERE / name)).intent_examples}
    training = {
        e.get("text").lower().strip() for e in load_data(str(TRAINING_DATA)).intent_examples
    }
    assert len(holdout) >= GATES[name]["size"]
    assert not holdout & training, f"held-out messages also in training: {holdout & training}"


def test_the_second_holdout_cites_its_faq_pages() -> None:
    """Each group of FAQ headings follows a '# source: <url>' line (the page it came from)."""
    lines = (HERE / "holdout_2.yml").read_text().splitlines()
    sources = {line.split(":", 1)[1].strip() for line in lines if line.startswith("# source:")}
    assert len(sources) >= 10 and all(url.startswith("http") for url in sources)


@pytest.mark.parametrize("name", sorted(GATES))
def test_intent_accuracy(predictions: dict[str, list[Prediction]], name: str) -> None:
    errors = intent_errors(predictions[name])
    accuracy = 1 - len(errors) / len(predictions[name])
    assert accuracy >= GATES[name]["intent"], "\n".join(
        [f"{name}: accuracy {accuracy:.3f}", *errors]
    )


@pytest.mark.parametrize(("name", "entity_type"), ENTITY_GATES)
def test_entity_f1(predictions: dict[str, list[Prediction]], name: str, entity_type: str) -> None:
    score = entity_score(predictions[name], entity_type)
    assert score.true_positives > 0
    assert score.f1 >= GATES[name][entity_type], "\n".join(
        [f"{name}: {entity_type} F1 {score.f1:.3f}", *score.errors]
    )
