"""Intent classifier: Rasa's logistic regression, on tf-idf weighted n-gram counts.

Rasa 3.6's LogisticRegressionClassifier fits raw counts with a fixed regularisation
(C=1). On this project's held-out patient messages, sublinear tf-idf weighting with a
weaker regularisation classifies markedly better (figures in the README), and it still
trains in seconds and loads without TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

IDF_FILE = "idf.npy"


def inverse_document_frequency(counts: csr_matrix) -> np.ndarray:
    """Smoothed idf, as scikit-learn's TfidfTransformer computes it."""
    documents = counts.shape[0]
    frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    return np.log((1 + documents) / (1 + frequency)) + 1.0


def tf_idf(counts: csr_matrix, idf: np.ndarray) -> csr_matrix:
    """Sublinear term frequency (1 + log count) times idf, each row scaled to unit length."""
    weighted = csr_matrix(counts, dtype=np.float64, copy=True)
    weighted.data = 1.0 + np.log(weighted.data)
    return normalize(weighted.multiply(idf).tocsr())


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TfidfLogisticRegressionClassifier(LogisticRegressionClassifier):
    """Same features, ranking output and persistence as Rasa's; tf-idf before the model."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "max_iter": 5000,
            # Inverse regularisation strength: larger trusts the training data more.
            "C": 100.0,
        }

    def __init__(
        self,
        config: dict[str, Any],
        name: str,
        model_storage: ModelStorage,
        resource: Resource,
        idf: np.ndarray | None = None,
    ) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf = LogisticRegression(
            C=self.config["C"],
            solver=self.config["solver"],
            max_iter=self.config["max_iter"],
            tol=self.config["tol"],
            random_state=self.config["random_state"],
            class_weight="balanced",
        )
        self.idf = idf

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TfidfLogisticRegressionClassifier:
        return cls(config, execution_context.node_name, model_storage, resource)

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        if self.idf is None:
            raise RuntimeError(f"{self.name} was used before being trained")
        return tf_idf(super()._create_X(messages).tocsr(), self.idf)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT) and e.get(TEXT)]
        if not examples:
            return self._resource
        counts = super()._create_X(examples).tocsr()
        self.idf = inverse_document_frequency(counts)
        self.clf.fit(tf_idf(counts, self.idf), [e.get(INTENT) for e in examples])
        self.persist()
        return self._resource

    def persist(self) -> None:
        super().persist()
        with self._model_storage.write_to(self._resource) as model_dir:
            np.save(model_dir / IDF_FILE, self.idf)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> TfidfLogisticRegressionClassifier:
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        with model_storage.read_from(resource) as model_dir:
            component.idf = np.load(model_dir / IDF_FILE)
        return component
