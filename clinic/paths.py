"""Where the project's files are, found from this package, never from the working directory."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = PROJECT_ROOT / "build"
MODELS_DIR = PROJECT_ROOT / "models"
SEEDS_DIR = PROJECT_ROOT.parent / "shared" / "seeds"

KNOWLEDGE_DIR_ENV = "CLINIC_KNOWLEDGE_DIR"
KNOWLEDGE_FILE_NAME = "treatments.yml"
SETTINGS_FILE_NAME = "clinic.yml"


def knowledge_dir() -> Path:
    """Where the clinic's files live: ``$CLINIC_KNOWLEDGE_DIR`` or the repo's ``knowledge/``."""
    configured = os.environ.get(KNOWLEDGE_DIR_ENV)
    return Path(configured) if configured else PROJECT_ROOT / "knowledge"
