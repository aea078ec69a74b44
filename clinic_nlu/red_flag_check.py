"""Rasa NLU component: the complication check that runs on every patient message.

Three layers (``clinic/complication_screen.py``) decide whether a message may report a
complication, not the intent classifier alone: the readable red-flag rules, a classifier
trained on the labelled triage messages, and a symptom screen for messages that describe a
symptom now and are not confidently an ordinary question. When one fires, the intent becomes
``report_complication`` (confidence 1.0, so the fallback never takes it) and the message
carries ``triage``: which layer caught it, the sign and emergency when the rules name one.
When none fires, a ``report_complication`` guess by the intent classifier is replaced by its
next-best intent, so "is redness normal after microneedling?" stays a side-effect question.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.complication_screen import ComplicationClassifier, triage
from clinic.contract import REPORT_COMPLICATION, TRIAGE_KEY
from clinic.labelled_triage import LABELLED_DIR, labelled_files, load_labelled
from clinic.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

MODEL_FILE = "complication_classifier.pkl"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class RedFlagCheck(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # The labelled triage messages, relative to the project root.
        return {"labelled_dir": str(LABELLED_DIR.relative_to(PROJECT_ROOT))}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # The labelled files are training data Rasa does not see: without them in the
        # fingerprint, `rasa train` would reuse a classifier trained on older labels.
        directory = PROJECT_ROOT / Path({**cls.get_default_config(), **config}["labelled_dir"])
        digest = hashlib.sha256()
        for path in labelled_files(directory):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: ComplicationClassifier | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classifier = classifier

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagCheck:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        labelled = load_labelled(PROJECT_ROOT / Path(self.config["labelled_dir"]))
        reported, others = [], []
        for example in training_data.intent_examples:
            text = example.get(TEXT)
            if text:
                is_report = example.get(INTENT) == REPORT_COMPLICATION
                (reported if is_report else others).append(text)
        self.classifier = ComplicationClassifier.train(
            red_flags=[m.text for m in labelled if m.red_flag] + reported,
            ordinary=[m.text for m in labelled if not m.red_flag],
            other_questions=others,
        )
        logger.info("Complication classifier threshold %.3f", self.classifier.threshold)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / MODEL_FILE).write_bytes(self.classifier.to_bytes())
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> RedFlagCheck:
        try:
            with model_storage.read_from(resource) as directory:
                classifier = ComplicationClassifier.from_bytes(
                    (directory / MODEL_FILE).read_bytes()
                )
        except (ValueError, FileNotFoundError):
            # Never trained (e.g. `rasa train core`): the rules and the screen still run.
            logger.warning("No complication classifier in the model; rules and screen only")
            classifier = None
        return cls(config, model_storage, resource, classifier)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            ranking = [
                r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != REPORT_COMPLICATION
            ]
            ordinary_confidence = ranking[0]["confidence"] if ranking else 0.0
            found = triage(message.get(TEXT) or "", self.classifier, ordinary_confidence)
            if found is not None:
                top = {INTENT_NAME_KEY: REPORT_COMPLICATION, "confidence": 1.0}
                ranking = [top, *ranking]
                message.set(TRIAGE_KEY, found.as_dict(), add_to_output=True)
            elif (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == REPORT_COMPLICATION:
                top = ranking[0] if ranking else {INTENT_NAME_KEY: None, "confidence": 0.0}
            else:
                continue
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
