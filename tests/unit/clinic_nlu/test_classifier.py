"""The tf-idf logistic-regression intent classifier: train -> persist -> load -> same predictions.

Modelled on Rasa's own ``tests/nlu/classifiers/test_logistic_regression_classifier.py``: the
real tokenizer and featurizers of ``config.yml`` on the project's training data, the real
``LocalModelStorage``, and the loaded component compared with the one that was trained.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic.paths import PROJECT_ROOT
from clinic_nlu.classifier import (
    IDF_FILE,
    TfidfLogisticRegressionClassifier,
    inverse_document_frequency,
    tf_idf,
)

# Eight intents of the real data: enough to test the round trip, a fraction of the fitting time.
INTENTS = {
    "ask_sessions",
    "ask_pain",
    "ask_recovery_time",
    "ask_cost",
    "ask_opening_hours",
    "request_booking",
    "greet",
    "out_of_scope",
}
# Messages the classifier never saw in training, in several writing styles, with their intents.
UNSEEN = {
    "how many sessions of prp do i need": "ask_sessions",
    "does microneedling hurt a lot?": "ask_pain",
    "whats the downtime after exosomes": "ask_recovery_time",
    "how much is mesotherapy": "ask_cost",
    "are you open on saturday": "ask_opening_hours",
    "can i book a consultation": "request_booking",
    "hi": "greet",
    "what's the weather like": "out_of_scope",
}


class Pipeline:
    """The featurizing part of config.yml, trained on the project's NLU data."""

    def __init__(self, storage: LocalModelStorage, context: ExecutionContext) -> None:
        self.tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
        word = {**CountVectorsFeaturizer.get_default_config(), "min_ngram": 1, "max_ngram": 2}
        char = {
            **CountVectorsFeaturizer.get_default_config(),
            "analyzer": "char_wb",
            "min_ngram": 2,
            "max_ngram": 5,
        }
        self.featurizers = [
            CountVectorsFeaturizer.create(word, storage, Resource("words"), context),
            CountVectorsFeaturizer.create(char, storage, Resource("chars"), context),
        ]

    def fit(self, data: TrainingData) -> None:
        self.tokenizer.process_training_data(data)
        for featurizer in self.featurizers:
            featurizer.train(data)
            featurizer.process_training_data(data)

    def messages(self, texts: list[str]) -> list[Message]:
        messages = [Message(data={"text": text}) for text in texts]
        self.tokenizer.process(messages)
        for featurizer in self.featurizers:
            featurizer.process(messages)
        return messages


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    storage = LocalModelStorage(tmp_path_factory.mktemp("storage"))
    context = ExecutionContext(GraphSchema({}), "test")
    pipeline = Pipeline(storage, context)
    data = load_data(str(PROJECT_ROOT / "data" / "nlu")).filter_training_examples(
        lambda example: example.get("intent") in INTENTS
    )
    pipeline.fit(data)
    resource = Resource("intent_classifier")
    config = TfidfLogisticRegressionClassifier.get_default_config()
    classifier = TfidfLogisticRegressionClassifier.create(config, storage, resource, context)
    classifier.train(data)
    return pipeline, classifier, storage, resource, context, config


def _predictions(messages: list[Message]) -> list[tuple[str, float, list[str]]]:
    return [
        (
            m.get("intent")["name"],
            m.get("intent")["confidence"],
            [r["name"] for r in m.get("intent_ranking")],
        )
        for m in messages
    ]


def test_a_loaded_classifier_predicts_what_the_trained_one_did(trained) -> None:
    pipeline, classifier, storage, resource, context, config = trained
    loaded = TfidfLogisticRegressionClassifier.load(config, storage, resource, context)

    before = _predictions(classifier.process(pipeline.messages(list(UNSEEN))))
    after = _predictions(loaded.process(pipeline.messages(list(UNSEEN))))

    assert [(name, ranking) for name, _, ranking in after] == [
        (name, ranking) for name, _, ranking in before
    ]
    assert np.allclose([c for _, c, _ in after], [c for _, c, _ in before])
    np.testing.assert_array_equal(loaded.idf, classifier.idf)


def test_the_persisted_model_holds_the_idf_weights(trained) -> None:
    _, classifier, storage, resource, _, _ = trained
    with storage.read_from(resource) as model_dir:
        assert (Path(model_dir) / IDF_FILE).is_file()
        np.testing.assert_array_equal(np.load(Path(model_dir) / IDF_FILE), classifier.idf)


def test_predictions_on_unseen_messages_are_sensible(trained) -> None:
    pipeline, classifier, *_ = trained
    names = [
        name for name, _, _ in _predictions(classifier.process(pipeline.messages(list(UNSEEN))))
    ]
    assert names == list(UNSEEN.values())


def test_an_untrained_classifier_says_so(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    config = TfidfLogisticRegressionClassifier.get_default_config()
    classifier = TfidfLogisticRegressionClassifier.create(
        config, storage, Resource("untrained"), context
    )
    pipeline = Pipeline(storage, context)
    pipeline.fit(load_data(str(PROJECT_ROOT / "data" / "nlu" / "smalltalk.yml")))
    with pytest.raises(RuntimeError, match="before being trained"):
        classifier.process(pipeline.messages(["hello"]))


def test_tf_idf_is_sublinear_and_unit_length() -> None:
    from scipy.sparse import csr_matrix

    counts = csr_matrix(np.array([[1, 0, 4], [0, 2, 0]]))
    idf = inverse_document_frequency(counts)
    assert np.allclose(idf, np.log(3 / 2) + 1)  # each column in one of two documents
    weighted = tf_idf(counts, idf).toarray()
    assert np.allclose(np.linalg.norm(weighted, axis=1), 1.0)
    assert weighted[0, 2] / weighted[0, 0] == pytest.approx(1 + np.log(4))
