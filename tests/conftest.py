"""Shared fixtures: the project paths and the trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clinic.paths import MODELS_DIR

MODEL_PATH = MODELS_DIR / "clinic.tar.gz"

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL_PATH.is_file():
        pytest.fail(f"no trained model at {MODEL_PATH}: run `make train` (make test does)")
    return MODEL_PATH
