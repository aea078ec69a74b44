"""Treatment/concern recognition with the spaCy pipeline built from the knowledge file."""

from __future__ import annotations

import time
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
    tokenizable,
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


# --- odd input: what the REST fuzz (tests/e2e/test_fuzz.py) found -------------------------------


def test_a_name_ends_where_its_words_end(nlp) -> None:
    # Spans used to start or end on emoji, spaces or other scripts next to the name.
    for text, mention in [
        ("side effects of dermapen? מה המחיר", "dermapen"),
        ("what helps with acne scars क्या यह दर्द करता है", "acne scars"),
        ("\u200f\u0645\u0627 \u0647\u0648 \u0627\u0644\u0639\u0644\u0627\u062c prp", "prp"),
        ("sIDe EFfEcts of 🧴d💅ErmAPeN?🙏", "d💅ErmAPeN"),
        ("prp\r\rcost", "prp"),
    ]:
        (entity,) = entity_dicts(nlp(text))
        assert text[entity["start"] : entity["end"]] == mention, text


def test_tokenizable_blanks_symbols_in_long_chunks_only_character_for_character() -> None:
    chunk = "prp" + "😀!\u200d🇬🇧" * 30 + "e\u0301" + "12"
    text = f"is p.r.p. ok? {chunk} thanks!"
    read = tokenizable(text)
    assert len(read) == len(text)
    assert read.startswith("is p.r.p. ok? prp ") and read.endswith("e\u0301" + "12 thanks!")
    assert set(read[len("is p.r.p. ok? prp") : -len("e\u030112 thanks!")]) == {" "}
    assert tokenizable("x" * 5000) == "x" * 5000


@pytest.mark.parametrize(
    "text",
    [
        "😀" * 1990,
        "!" * 1990,
        "🇬🇧" * 995,
        "(" * 1990,
        "!?" * 995,
        "👩\u200d👩\u200d👧\u200d👦" * 280,
    ],
    ids=["emoji", "exclamation-marks", "flags", "brackets", "mixed-punctuation", "zwj-families"],
)
def test_long_runs_of_symbols_are_read_fast_and_name_nothing(trained_and_loaded, text) -> None:
    # spaCy's tokenizer took 0.3-0.9 s for each of these (2 cores), on the shared event loop.
    _, loaded = trained_and_loaded
    started = time.perf_counter()
    entities, _ = _recognised(loaded, text + " prp")
    assert time.perf_counter() - started < 0.25
    assert [(e["value"], e["start"], e["end"]) for e in entities] == [
        ("prp", len(text) + 1, len(text) + 4)
    ]


def test_lone_surrogates_do_not_stop_the_recognizer(trained_and_loaded) -> None:
    # json.loads('"\\ud800prp"') gives a string spaCy cannot hash.
    _, loaded = trained_and_loaded
    entities, _ = _recognised(loaded, "\ud800what is prp\udfff")
    assert [(e["value"], e["start"], e["end"]) for e in entities] == [("prp", 9, 12)]
