"""Rasa NLU component: medicine and dosing questions become ``out_of_scope``, whatever the
intent classifier thought (``clinic/medication.py`` decides). Runs after the complication
check, which it never overrides: a complication asked as a medicine question stays urgent.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from clinic.contract import MEDICATION_KEY, OUT_OF_SCOPE, REPORT_COMPLICATION
from clinic.medication import asks_about_medication

NEVER_OVERRIDDEN = {REPORT_COMPLICATION}


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class MedicationQuestionCheck(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MedicationQuestionCheck:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
            text = message.get(TEXT) or ""
            if (
                intent in NEVER_OVERRIDDEN
                or text.startswith("/")
                or not asks_about_medication(text)
            ):
                continue
            ranking = [
                r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != OUT_OF_SCOPE
            ]
            message.set(
                INTENT, {INTENT_NAME_KEY: OUT_OF_SCOPE, "confidence": 1.0}, add_to_output=True
            )
            message.set(
                INTENT_RANKING_KEY,
                [{INTENT_NAME_KEY: OUT_OF_SCOPE, "confidence": 1.0}, *ranking],
                add_to_output=True,
            )
            message.set(MEDICATION_KEY, True, add_to_output=True)
        return messages
