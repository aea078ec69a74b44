"""The complication check in the NLU pipeline: train -> persist -> load -> same decisions.

Real objects throughout: rasa ``Message``s, ``LocalModelStorage``, the project's NLU data and
the labelled triage files in data/triage/ (the component's own training data).
"""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from clinic.contract import REPORT_COMPLICATION, TRIAGE_KEY
from clinic.paths import PROJECT_ROOT
from clinic_nlu.red_flag_check import MODEL_FILE, RedFlagCheck

# Messages none of the training data holds, with what the check should decide.
UNSEEN = {
    "my lips are swelling after prp": ("rules", "allergic_reaction"),
    "there is pus and I have a fever": ("rules", "pus"),
    "is redness normal after microneedling?": (None, None),
    "will I bruise after PRP?": (None, None),
    "how much is a course of exosomes": (None, None),
}


def _message(text: str, intent: str, confidence: float, others: list[tuple[str, float]]) -> Message:
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": confidence})
    ranking = [(intent, confidence), *others]
    message.set("intent_ranking", [{"name": n, "confidence": c} for n, c in ranking])
    return message


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    resource = Resource("red_flag_check")
    config = RedFlagCheck.get_default_config()
    component = RedFlagCheck.create(config, storage, resource, context)
    component.train(load_data(str(PROJECT_ROOT / "data" / "nlu")))
    return component, storage, resource, context, config


def _decisions(component: RedFlagCheck, texts: list[str]) -> list[tuple]:
    messages = [_message(t, "ask_side_effects", 0.9, [("ask_pain", 0.05)]) for t in texts]
    component.process(messages)
    return [
        (
            m.get("intent")["name"],
            (m.get(TRIAGE_KEY) or {}).get("layer"),
            (m.get(TRIAGE_KEY) or {}).get("sign"),
        )
        for m in messages
    ]


def test_a_loaded_check_decides_what_the_trained_one_did(trained) -> None:
    component, storage, resource, context, config = trained
    loaded = RedFlagCheck.load(config, storage, resource, context)
    texts = [*UNSEEN, "my cheek feels strange and tight since the meso this morning"]
    assert _decisions(loaded, texts) == _decisions(component, texts)
    assert loaded.classifier is not None
    assert loaded.classifier.threshold == component.classifier.threshold
    with storage.read_from(resource) as directory:
        assert (directory / MODEL_FILE).stat().st_size > 0


def test_decisions_on_unseen_messages(trained) -> None:
    component = trained[0]
    for (text, (layer, sign)), (intent, found_layer, found_sign) in zip(
        UNSEEN.items(), _decisions(component, list(UNSEEN)), strict=True
    ):
        assert (found_layer, found_sign) == (layer, sign), text
        assert intent == (REPORT_COMPLICATION if layer else "ask_side_effects"), text


def test_a_complication_guess_without_any_layer_falls_back_to_the_next_intent(trained) -> None:
    message = _message(
        "is redness normal after microneedling?",
        REPORT_COMPLICATION,
        0.6,
        [("ask_side_effects", 0.3)],
    )
    trained[0].process([message])
    assert message.get("intent")["name"] == "ask_side_effects"
    assert [r["name"] for r in message.get("intent_ranking")] == ["ask_side_effects"]


def test_a_flagged_message_is_never_left_to_the_fallback(trained) -> None:
    message = _message("my vision went blurry after the injection", "nlu_fallback", 0.1, [])
    trained[0].process([message])
    assert message.get("intent") == {"name": REPORT_COMPLICATION, "confidence": 1.0}
    assert message.get(TRIAGE_KEY)["emergency"] is True


def test_the_symptom_screen_defers_to_a_confident_ordinary_intent(trained) -> None:
    _, storage, resource, _, config = trained
    screen_only = RedFlagCheck(config, storage, resource, classifier=None)
    text = "my face feels really strange since the exosomes"
    unsure = _message(text, "ask_side_effects", 0.4, [("ask_recovery_time", 0.3)])
    confident = _message(text, "ask_side_effects", 0.95, [("ask_recovery_time", 0.01)])
    screen_only.process([unsure, confident])
    assert unsure.get(TRIAGE_KEY)["layer"] == "symptom_screen"
    assert confident.get("intent")["name"] == "ask_side_effects"
    assert confident.get(TRIAGE_KEY) is None


def test_a_check_without_a_trained_classifier_still_runs_the_rules(tmp_path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    config = RedFlagCheck.get_default_config()
    untrained = RedFlagCheck.load(config, storage, Resource("never_trained"), context)
    assert untrained.classifier is None
    assert _decisions(untrained, ["I have a fever since the PRP"])[0][:2] == (
        REPORT_COMPLICATION, "rules",
    )  # fmt: skip


def test_the_fingerprint_follows_the_labelled_files(tmp_path) -> None:
    labelled = tmp_path / "triage"
    labelled.mkdir()
    (labelled / "a.yml").write_text("red_flags: []\nordinary: []\n")
    config = {"labelled_dir": str(labelled)}
    before = RedFlagCheck.fingerprint_addon(config)
    (labelled / "a.yml").write_text("red_flags: []\nordinary:\n  - text: is redness normal?\n")
    assert RedFlagCheck.fingerprint_addon(config) != before
    assert RedFlagCheck.fingerprint_addon(RedFlagCheck.get_default_config()) is not None
