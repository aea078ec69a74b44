"""Copies of the project's knowledge directory that a test edits as a clinic would."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ruamel.yaml import YAML

from clinic.paths import KNOWLEDGE_FILE_NAME, PROJECT_ROOT, SETTINGS_FILE_NAME

KNOWLEDGE_DIR = PROJECT_ROOT / "knowledge"


def copy_knowledge(target: Path) -> Path:
    """``knowledge/`` copied to ``target`` (returned)."""
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def touch_later(path: Path) -> None:
    """A time stamp clearly newer than the last one, so even a same-size edit is seen."""
    status = path.stat()
    later = status.st_mtime_ns + 2_000_000_000
    os.utime(path, ns=(later, later))


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in ``path`` (which must contain it) by ``new``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    touch_later(path)


def remove_treatment(directory: Path, treatment_id: str, *, with_price: bool = True) -> None:
    """Delete a treatment from the knowledge copy, and every reference to it; its price too
    unless ``with_price`` is false (then the settings no longer match the knowledge)."""
    yaml = YAML(typ="rt")
    knowledge_file = directory / KNOWLEDGE_FILE_NAME
    data = yaml.load(knowledge_file.read_text(encoding="utf-8"))
    data["treatments"] = [t for t in data["treatments"] if t["id"] != treatment_id]
    data["comparisons"] = [c for c in data["comparisons"] if treatment_id not in c["treatments"]]
    for concern in data["concerns"]:
        concern["treatments"] = [t for t in concern["treatments"] if t != treatment_id]
    with knowledge_file.open("w", encoding="utf-8") as out:
        yaml.dump(data, out)
    touch_later(knowledge_file)
    if with_price:
        settings_file = directory / SETTINGS_FILE_NAME
        settings = yaml.load(settings_file.read_text(encoding="utf-8"))
        del settings["prices"][treatment_id]
        with settings_file.open("w", encoding="utf-8") as out:
            yaml.dump(settings, out)
        touch_later(settings_file)
