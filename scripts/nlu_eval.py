"""Evaluate the trained NLU model on a Rasa NLU YAML file of labelled messages.

Used by tests/nlu (the held-out gate) and by `make nlu-report FILE=...` while improving
the training data, e.g. on a development set. Entities are compared by type and id.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data

from clinic.paths import MODELS_DIR


@dataclass(frozen=True)
class Prediction:
    text: str
    expected_intent: str
    expected_entities: list[dict]
    intent: str
    confidence: float
    entities: list[dict]


@dataclass(frozen=True)
class EntityScore:
    precision: float
    recall: float
    f1: float
    true_positives: int
    errors: list[str]


def predict(model: Path, examples_file: Path) -> list[Prediction]:
    agent = Agent.load(str(model))
    examples = load_data(str(examples_file)).intent_examples

    async def parse_all() -> list[dict]:
        return [await agent.parse_message(example.get("text")) for example in examples]

    return [
        Prediction(
            text=example.get("text"),
            expected_intent=example.get("intent"),
            expected_entities=example.get("entities") or [],
            intent=result["intent"]["name"],
            confidence=result["intent"]["confidence"],
            entities=result["entities"],
        )
        for example, result in zip(examples, asyncio.run(parse_all()), strict=True)
    ]


def intent_errors(predictions: list[Prediction]) -> list[str]:
    return [
        f"{p.text!r}: expected {p.expected_intent}, got {p.intent} ({p.confidence:.2f})"
        for p in predictions
        if p.intent != p.expected_intent
    ]


def entity_score(predictions: list[Prediction], entity_type: str) -> EntityScore:
    def values(entities: list[dict]) -> Counter:
        return Counter(e["value"] for e in entities if e["entity"] == entity_type)

    true_positives = false_positives = false_negatives = 0
    errors = []
    for p in predictions:
        expected, found = values(p.expected_entities), values(p.entities)
        true_positives += sum((expected & found).values())
        false_positives += sum((found - expected).values())
        false_negatives += sum((expected - found).values())
        if expected != found:
            errors.append(f"{p.text!r}: expected {dict(expected)}, found {dict(found)}")
    precision = true_positives / max(true_positives + false_positives, 1)
    recall = true_positives / max(true_positives + false_negatives, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return EntityScore(precision, recall, f1, true_positives, errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path, help="Rasa NLU YAML with labelled messages")
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "clinic.tar.gz")
    args = parser.parse_args()
    predictions = predict(args.model, args.file)
    errors = intent_errors(predictions)
    print(
        f"intent accuracy {1 - len(errors) / len(predictions):.3f} on {len(predictions)} messages"
    )
    for entity_type in ("treatment", "concern"):
        score = entity_score(predictions, entity_type)
        print(
            f"{entity_type} F1 {score.f1:.3f} "
            f"(precision {score.precision:.3f}, recall {score.recall:.3f})"
        )
        errors.extend(score.errors)
    print("\n".join(errors))


if __name__ == "__main__":
    main()
