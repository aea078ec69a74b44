"""Treatment/concern recognition with the spaCy pipeline built from the knowledge file."""

from __future__ import annotations

from pathlib import Path

import pytest
import spacy
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from clinic.paths import KNOWLEDGE_FILE_NAME, PROJECT_ROOT, knowledge_dir
from clinic_nlu.alias_matcher import entity_dicts, levenshtein
from clinic_nlu.recognizer import (
    KnowledgeEntityRecognizer,
    build_pipeline,
    text_outside_entities,
)

TRAINING_DATA = load_data(str(PROJECT_ROOT / "data" / "nlu"))


@pytest.fixture(scope="module")
def nlp():
    # As the Rasa component does: only words outside entity annotations are "ordinary".
    texts = [text_outside_entities(example) for example in TRAINING_DATA.training_examples]
    return build_pipeline(knowledge_dir() / KNOWLEDGE_FILE_NAME, texts)


def found(nlp, text: str) -> list[tuple[str, str]]:
    return [(e["entity"], e["value"]) for e in entity_dicts(nlp(text))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("what is prp", [("treatment", "prp")]),
        ("What is PRP?", [("treatment", "prp")]),
        ("is p.r.p. painful", [("treatment", "prp")]),
        ("P.R.P", [("treatment", "prp")]),
        ("platelet-rich-plasma downtime", [("treatment", "prp")]),
        ("Platelet Rich Plasma", [("treatment", "prp")]),
        ("how much are PRP's", [("treatment", "prp")]),
        ("micro needling cost", [("treatment", "microneedling")]),
        ("micro-needling", [("treatment", "microneedling")]),
        ("is derma pen safe", [("treatment", "microneedling")]),
        ("Dermapens", [("treatment", "microneedling")]),
        ("collagen induction therapy", [("treatment", "microneedling")]),
        ("mesotheraphy sessions", [("treatment", "mesotherapy")]),
        ("MESOTHERAPY", [("treatment", "mesotherapy")]),
        ("exozomes", [("treatment", "exosomes")]),
        ("exosome", [("treatment", "exosomes")]),
        ("the vampire facial one", [("treatment", "microneedling_prp")]),
        ("microneedling with PRP", [("treatment", "microneedling_prp")]),
        ("prp vs exosomes", [("treatment", "prp"), ("treatment", "exosomes")]),
        ("mesotherapy or micro needling?", [("treatment", "mesotherapy"), ("treatment", "microneedling")]),
        ("what helps acne scars", [("concern", "acne_scars")]),
        ("my hair is thinning", [("concern", "hair_loss")]),
        ("do you do botox", [("other_procedure", "botox")]),
    ],
)  # fmt: skip
def test_recognises_names_however_written(nlp, text: str, expected) -> None:
    assert found(nlp, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'm needing some help",
        "hello there",
        "what is the therapy like",
        "thanks!",
        "",
        "   ",
        "???",
    ],
)
def test_ordinary_words_are_not_treatments(nlp, text: str) -> None:
    assert [e for e in found(nlp, text) if e[0] == "treatment"] == []


def test_offsets_point_at_the_mention(nlp) -> None:
    text = "Is derma pen or P.R.P. better?"
    entities = entity_dicts(nlp(text))
    assert [text[e["start"] : e["end"]] for e in entities] == ["derma pen", "P.R.P."]
    assert all(e["confidence_entity"] == 1.0 for e in entities)


def test_fuzzy_matches_have_lower_confidence(nlp) -> None:
    (entity,) = entity_dicts(nlp("exozomes"))
    assert 0.5 < entity["confidence_entity"] < 1.0


def test_levenshtein() -> None:
    assert levenshtein("exozomes", "exosomes") == 1
    assert levenshtein("mesotheraphy", "mesotherapy") == 1
    assert levenshtein("", "abc") == 3


def test_pipeline_survives_saving_and_loading(nlp, tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "pipeline")
    reloaded = spacy.load(tmp_path / "pipeline")
    assert found(reloaded, "derma pen vs exozomes") == found(nlp, "derma pen vs exozomes")


@pytest.fixture(scope="module")
def trained_and_loaded(tmp_path_factory):
    """The Rasa component trained on the project's data, and a copy loaded from its storage."""
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    resource = Resource("recognizer")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = KnowledgeEntityRecognizer.create({}, storage, resource, context)
    trained.train(TRAINING_DATA)
    return trained, KnowledgeEntityRecognizer.load({}, storage, resource, context)


def test_rasa_component_trains_loads_and_masks_tokens(trained_and_loaded) -> None:
    _, loaded = trained_and_loaded

    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    message = Message(data={"text": "how long is derma pen recovery"})
    tokenizer.process([message])
    loaded.process([message])

    assert [(e["entity"], e["value"], e["extractor"]) for e in message.get("entities")] == [
        ("treatment", "microneedling", "KnowledgeEntityRecognizer")
    ]
    tokens = [token.text for token in message.get("text_tokens")]
    assert tokens == ["how", "long", "is", "__treatment__", "__treatment__", "recovery"]


def test_fingerprint_follows_the_knowledge_file(tmp_path: Path) -> None:
    copy = tmp_path / "treatments.yml"
    copy.write_text((knowledge_dir() / KNOWLEDGE_FILE_NAME).read_text())
    before = KnowledgeEntityRecognizer.fingerprint_addon({"knowledge_file": str(copy)})
    copy.write_text(copy.read_text().replace("      - meso\n", "      - meso\n      - mezo\n"))
    assert KnowledgeEntityRecognizer.fingerprint_addon({"knowledge_file": str(copy)}) != before


ROUND_TRIP_TEXTS = [
    "how long is derma pen recovery",
    "prp vs exozomes, which is better?",
    "the vampire facial one for my acne scars",
    "do you do botox",
    "hello there",
    "",
]


def _recognised(component: KnowledgeEntityRecognizer, text: str) -> tuple[list, list[str]]:
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    message = Message(data={"text": text})
    tokenizer.process([message])
    component.process([message])
    tokens = [token.text for token in message.get("text_tokens") or []]
    return message.get("entities") or [], tokens


def test_a_loaded_recognizer_finds_what_the_trained_one_did(trained_and_loaded) -> None:
    trained, loaded = trained_and_loaded

    for text in ROUND_TRIP_TEXTS:
        assert _recognised(loaded, text) == _recognised(trained, text), text
    assert _recognised(loaded, ROUND_TRIP_TEXTS[1])[0], "the comparison must not be vacuous"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("How does microneedling work with PRP?", ["microneedling_prp"]),
        ("what's the point of adding PRP to microneedling", ["microneedling_prp"]),
        ("PRP microneedling", ["microneedling_prp"]),
        ("microneedling or prp, which is better?", ["microneedling", "prp"]),
        ("microneedling vs PRP", ["microneedling", "prp"]),
    ],
)
def test_parts_named_together_are_the_combined_treatment(nlp, text: str, expected) -> None:
    assert [e.kb_id_ for e in nlp(text).ents] == expected


def test_combinations_survive_saving_and_loading(nlp, tmp_path: Path) -> None:
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    text = "How does microneedling work with PRP?"
    assert [e.kb_id_ for e in loaded(text).ents] == ["microneedling_prp"]
