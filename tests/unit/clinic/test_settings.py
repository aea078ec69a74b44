"""The clinic settings' widget and retention parts: read, defaulted and refused with the line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clinic.knowledge import get_knowledge
from clinic.paths import PROJECT_ROOT, SETTINGS_FILE_NAME
from clinic.settings import DEFAULT_RETENTION_DAYS, parse_settings
from clinic.yaml_source import KnowledgeError


def settings_file(tmp_path: Path, old: str | None = None, new: str = "") -> Path:
    path = tmp_path / SETTINGS_FILE_NAME
    shutil.copy(PROJECT_ROOT / "knowledge" / SETTINGS_FILE_NAME, path)
    if old is not None:
        text = path.read_text()
        assert old in text, f"test setup: {old!r} not in {SETTINGS_FILE_NAME}"
        path.write_text(text.replace(old, new, 1))
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_assistant_and_retention_settings_are_read(tmp_path) -> None:
    settings = parse_settings(settings_file(tmp_path), get_knowledge())
    assert settings.assistant_name == "Skin Clinic Assistant"
    assert settings.brand_colour == "#2f6f6a"
    assert len(settings.starter_questions) == 3
    assert settings.retention_days == 90


def test_retention_defaults_to_90_days_when_not_set(tmp_path) -> None:
    path = settings_file(tmp_path, "conversation_retention_days: 90\n", "")
    assert parse_settings(path, get_knowledge()).retention_days == DEFAULT_RETENTION_DAYS == 90


@pytest.mark.parametrize(
    "old, new, marker, field, problem",
    [
        ('colour: "#2f6f6a"', "colour: teal", "colour: teal", "assistant.colour", "#rrggbb"),
        ("conversation_retention_days: 90", "conversation_retention_days: 0",
         "conversation_retention_days: 0", "conversation_retention_days", "at least 1"),
        ("conversation_retention_days: 90", "conversation_retention_days: 5000",
         "conversation_retention_days: 5000", "conversation_retention_days", "from 1 to 3650"),
        ("    - How much does mesotherapy cost?\n",
         "    - How much does mesotherapy cost?\n    - A fourth question?\n",
         "starter_questions:", "assistant.starter_questions", "at most 3"),
        ("    - How much does mesotherapy cost?", "    - " + "very long question " * 6,
         "very long question", "assistant.starter_questions[item 3]", "under 80 characters"),
        ("  name: Skin Clinic Assistant", "  nmae: Skin Clinic Assistant", "nmae:",
         "assistant.nmae", "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_assistant_setting_names_its_line_and_field(
    tmp_path, old, new, marker, field, problem
) -> None:
    path = settings_file(tmp_path, old, new)
    with pytest.raises(KnowledgeError) as raised:
        parse_settings(path, get_knowledge())
    assert (raised.value.line, raised.value.field) == (line_of(path, marker), field)
    assert problem in raised.value.problem
