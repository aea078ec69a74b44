"""What needs retraining (issue 11): the Makefile retrains the model when the knowledge
file's names or combinations change, and not when an answer, notice or price does.

Runs the real Makefile with ``make -n`` (nothing is trained) on a copy of the knowledge
directory and a stand-in model file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from clinic.paths import PROJECT_ROOT

KNOWLEDGE = PROJECT_ROOT / "knowledge"


def plan(tmp: Path) -> str:
    """What ``make train`` would do now (the model-inputs step itself runs: it is a `+` line)."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "train",
         f"MODEL={tmp / 'model.tar.gz'}", f"MODEL_KNOWLEDGE={tmp / 'model-knowledge.json'}"],
        cwd=PROJECT_ROOT, env={**os.environ, "CLINIC_KNOWLEDGE_DIR": str(tmp / "knowledge")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def newest_model_input() -> float:
    """The newest time stamp among the project files the Makefile's model depends on."""
    files = [PROJECT_ROOT / "config.yml", PROJECT_ROOT / "domain.yml"]
    files += [*(PROJECT_ROOT / "data").rglob("*.yml"), *(PROJECT_ROOT / "clinic_nlu").glob("*.py")]
    files += [*(PROJECT_ROOT / "clinic").glob("*.py"), PROJECT_ROOT / ".venv" / ".installed"]
    return max(path.stat().st_mtime for path in files if path.exists())


def trains(output: str) -> bool:
    return "rasa train" in output


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_only_names_and_combinations_retrain(tmp_path: Path) -> None:
    shutil.copytree(KNOWLEDGE, tmp_path / "knowledge")
    treatments = tmp_path / "knowledge" / "treatments.yml"
    assert trains(plan(tmp_path))  # no model yet
    # A model trained after every input (the project's files may have been edited a moment
    # ago), the names' file from just before it.
    trained = newest_model_input() + 0.5
    time.sleep(max(0.0, trained - time.time() + 0.1))
    (tmp_path / "model.tar.gz").write_bytes(b"stand-in")
    os.utime(tmp_path / "model.tar.gz", (trained, trained))
    os.utime(tmp_path / "model-knowledge.json", (trained - 0.25, trained - 0.25))
    assert not trains(plan(tmp_path))

    # An answer's wording, a notice, a price: read at run time, no retraining.
    text = treatments.read_text()
    edit(treatments, "        text: >-\n", "        text: >-\n          Edited by the clinic.\n")
    assert treatments.read_text() != text
    assert not trains(plan(tmp_path))
    assert (tmp_path / "model-knowledge.json").stat().st_mtime == trained - 0.25

    # A new name for a treatment: the recogniser must learn it.
    edit(treatments, "    aliases:\n", "    aliases:\n      - zzglow facial\n")
    output = plan(tmp_path)
    assert trains(output)
    assert "model-knowledge.json" in output  # the banner says why
