"""Rasa NLU component: the complication check that runs on every patient message.

The red-flag detector (``clinic/red_flags.py``: deterministic, auditable rules) decides
whether a message reports a complication, not the statistical classifier: on a match the
intent becomes ``report_complication`` with confidence 1.0, which the dialogue answers before
anything else; without a match a ``report_complication`` guess by the classifier is replaced
by its next-best intent, so "is redness normal after microneedling?" stays a side-effect
question.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from clinic.red_flags import detect

REPORT_COMPLICATION = "report_complication"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagCheck(GraphComponent):
    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RedFlagCheck:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            flag = detect(message.get(TEXT) or "")
            ranking = [
                r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != REPORT_COMPLICATION
            ]
            if flag is not None:
                top = {INTENT_NAME_KEY: REPORT_COMPLICATION, "confidence": 1.0}
                ranking = [top, *ranking]
            elif (message.get(INTENT) or {}).get(INTENT_NAME_KEY) == REPORT_COMPLICATION:
                top = ranking[0] if ranking else {INTENT_NAME_KEY: None, "confidence": 0.0}
            else:
                continue
            message.set(INTENT, top, add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
