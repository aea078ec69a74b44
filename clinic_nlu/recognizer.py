"""Rasa NLU component: recognises treatments, concerns and other procedures with spaCy.

At training time it builds a spaCy pipeline (blank English tokenizer + :class:`AliasMatcher`)
from the knowledge file's aliases and the training data's vocabulary, and stores it inside
the Rasa model. Adding an alias to ``knowledge/treatments.yml`` and retraining is all it takes
to teach the assistant a new name: the knowledge file's names and combinations
(``Knowledge.model_inputs``) are part of this component's fingerprint, so Rasa retrains it
when they change, and only then.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

import spacy
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from spacy.language import Language

from clinic.knowledge import parse_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, knowledge_dir
from clinic_nlu.alias_matcher import FACTORY_NAME, AliasMatcher, entity_dicts

# spaCy's tokenizer splits punctuation and symbols off a chunk without whitespace one at a
# time, rescanning the rest of the chunk each time: 2,000 emoji or "!" in a row take it about
# half a second, on the event loop every patient shares. No name is written that long, so in
# a longer chunk punctuation, symbols and invisible characters are read as spaces, one for
# one, so that offsets stay the message's own. Lone surrogates anywhere (spaCy cannot hash
# them) are read as U+FFFD.
LONG_CHUNK_CHARS = 100
_LONG_CHUNK = re.compile(rf"\S{{{LONG_CHUNK_CHARS + 1},}}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _letters_only(chunk: re.Match[str]) -> str:
    # Letters, combining marks (a name under "Zalgo" marks is still a name) and digits stay.
    return "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in chunk.group())


def tokenizable(text: str) -> str:
    """``text`` as the spaCy pipeline reads it: as long, character for character (see above)."""
    return _LONG_CHUNK.sub(_letters_only, _LONE_SURROGATE.sub("\ufffd", text))


def _knowledge_path(config: dict[str, Any]) -> Path:
    configured = config.get("knowledge_file")
    return Path(configured) if configured else knowledge_dir() / KNOWLEDGE_FILE_NAME


def build_pipeline(knowledge_path: Path, training_texts: list[str]) -> Language:
    """A blank English spaCy pipeline whose only component matches the knowledge's aliases."""
    nlp = spacy.blank("en")
    matcher: AliasMatcher = nlp.add_pipe(FACTORY_NAME)
    knowledge = parse_knowledge(knowledge_path)
    matcher.add_aliases(knowledge.alias_entries())
    matcher.add_combinations(knowledge.combinations())
    matcher.add_known_words(
        token.text for doc in nlp.tokenizer.pipe(training_texts) for token in doc
    )
    return nlp


def text_outside_entities(message: Message) -> str:
    """The example's text with annotated entities blanked out: only ordinary words remain."""
    text = message.get(TEXT) or ""
    # Entities from stories carry no positions; only NLU examples have annotated spans.
    spans = [e for e in message.get(ENTITIES) or [] if "start" in e and "end" in e]
    for entity in sorted(spans, key=lambda e: -e["start"]):
        text = text[: entity["start"]] + " " + text[entity["end"] :]
    return text


# Also registered as a message featurizer: Rasa then runs `process_training_data` on the
# training examples, so the featurizers after it train on masked tokens too.
@DefaultV1Recipe.register(
    [
        DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR,
        DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER,
    ],
    is_trainable=True,
)
class KnowledgeEntityRecognizer(GraphComponent, EntityExtractorMixin):
    """Extracts ``treatment``, ``concern`` and ``other_procedure`` entities (values are ids)."""

    PIPELINE_DIR = "spacy_pipeline"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # None: the project's knowledge/treatments.yml (or $CLINIC_KNOWLEDGE_DIR).
            "knowledge_file": None,
            # Replace recognised names in the tokens the featurizers see by their entity type
            # ("how long is prp recovery" -> "how long is __treatment__ recovery"), so intent
            # classification learns the question, not which treatment it was asked about.
            "mask_entity_tokens": True,
        }

    @staticmethod
    def required_packages() -> list[str]:
        return ["spacy"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        # Only the names and combinations: an edited answer or price needs no retraining.
        path = _knowledge_path({**cls.get_default_config(), **config})
        if not path.is_file():
            return None
        return hashlib.sha256(parse_knowledge(path).model_inputs().encode()).hexdigest()

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        nlp: Language | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> KnowledgeEntityRecognizer:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        texts = [text_outside_entities(example) for example in training_data.training_examples]
        self._nlp = build_pipeline(_knowledge_path(self._config), texts)
        with self._model_storage.write_to(self._resource) as directory:
            self._nlp.to_disk(directory / self.PIPELINE_DIR)
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> KnowledgeEntityRecognizer:
        with model_storage.read_from(resource) as directory:
            nlp = spacy.load(directory / cls.PIPELINE_DIR)
        return cls(config, model_storage, resource, nlp)

    def _recognise(self, message: Message) -> list[dict[str, Any]]:
        if self._nlp is None:
            raise RuntimeError("KnowledgeEntityRecognizer was used before being trained")
        text = message.get(TEXT)
        if not text:
            return []
        found = entity_dicts(self._nlp(tokenizable(text)))
        if self._config["mask_entity_tokens"]:
            _mask_tokens(message, found)
        return found

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = self.add_extractor_name(self._recognise(message))
            message.set(ENTITIES, message.get(ENTITIES, []) + found, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # Training examples keep their hand-made annotations; only their tokens are masked,
        # exactly as at prediction time.
        for example in training_data.training_examples:
            self._recognise(example)
        return training_data


def _mask_tokens(message: Message, entities: list[dict[str, Any]]) -> None:
    for token in message.get(TOKENS_NAMES[TEXT]) or []:
        for entity in entities:
            if token.start < entity["end"] and entity["start"] < token.end:
                token.text = token.lemma = f"__{entity['entity']}__"
                break
