"""YAML syntax errors in the clinic's files name the line a person would fix, with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinic.knowledge import parse_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, SETTINGS_FILE_NAME
from clinic.settings import parse_settings
from clinic.yaml_source import KnowledgeError, load_yaml
from tests.support.knowledge_copies import copy_knowledge, replace_in

# (name, file text, the line to fix, words of the hint)
BROKEN = [
    ("bad indentation", 'version: 1\nopening_hours:\n  monday: "09:00-18:00"\n   tuesday: closed\n'
     "phone: 1\n", 4, "indentation"),
    ("indented too far", "version: 1\nname: Clinic\n  phone: 1\nemail: a\n", 3, "indentation"),
    ("an unclosed quote at the end", 'version: 1\nname: "Clinic\nphone: 123\n', 2, "not closed"),
    ("an unclosed quote closed later", 'version: 1\nname: "Clinic\nphone: "0123"\nemail: a\n', 2,
     "not closed"),
    ("an unclosed single quote", "version: 1\nname: 'Clinic\nphone: 1\n", 2, "not closed"),
    ("a tab", "version: 1\nopening_hours:\n\tmonday: closed\nphone: 1\n", 3, "tab"),
    ("a duplicate key", "version: 1\nname: A\nphone: 1\nname: B\n", 4, "first at line 2"),
    ("a colon in an unquoted value", "version: 1\nname: Clinic\naddress: 1 High St: Town\n"
     "phone: 1\n", 3, "must be in quotes"),
    ("a missing colon", "version: 1\nname: Clinic\nphone 0123\nemail: a\n", 3, "needs ':'"),
    ("an unclosed list", "version: 1\naliases: [a, b\nphone: 1\n", 2, "not closed with ']'"),
]  # fmt: skip


@pytest.mark.parametrize(
    "text, line, hint", [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN]
)
def test_a_syntax_error_names_the_line_to_fix_with_a_hint(
    tmp_path: Path, text: str, line: int, hint: str
) -> None:
    path = tmp_path / "clinic.yml"
    path.write_text(text)
    with pytest.raises(KnowledgeError) as raised:
        load_yaml(path)
    error = raised.value
    assert (error.line, error.field) == (line, "(syntax)"), str(error)
    assert hint in error.problem
    assert str(error).startswith(f"{path}:{line}: (syntax): invalid YAML: ")
    assert text.splitlines()[line - 1].strip() in error.problem  # the line, quoted


def test_an_unclosed_quote_in_the_real_knowledge_file_points_at_its_line(tmp_path: Path) -> None:
    directory = copy_knowledge(tmp_path / "knowledge")
    treatments = directory / KNOWLEDGE_FILE_NAME
    lines = treatments.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith('title: "'))
    replace_in(treatments, lines[line - 1], lines[line - 1].rstrip('"'))
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(treatments)
    assert raised.value.line == line and "not closed" in raised.value.problem


def test_a_mistake_in_the_settings_file_is_a_syntax_error_there(tmp_path: Path) -> None:
    directory = copy_knowledge(tmp_path / "knowledge")
    settings = directory / SETTINGS_FILE_NAME
    lines = settings.read_text().splitlines()
    line = lines.index("currency: GBP") + 1
    replace_in(settings, "currency: GBP", "currency: GBP: pounds")
    with pytest.raises(KnowledgeError) as raised:
        parse_settings(settings, parse_knowledge(directory / KNOWLEDGE_FILE_NAME))
    assert raised.value.line == line and "must be in quotes" in raised.value.problem


def test_valid_yaml_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yml"
    path.write_text("version: 1\nname: \"Clinic: demo\"\naddress: 'O''Neil St'\n")
    root = load_yaml(path)
    assert root.child("name").text() == "Clinic: demo"
    assert root.child("address").text() == "O'Neil St"


def test_a_quote_left_open_above_a_confused_parser_is_found(tmp_path: Path) -> None:
    directory = copy_knowledge(tmp_path / "knowledge")
    settings = directory / SETTINGS_FILE_NAME
    line = settings.read_text().splitlines().index("currency: GBP") + 1
    replace_in(settings, "currency: GBP", 'currency: "GBP')  # closes at a later line's quote
    with pytest.raises(KnowledgeError) as raised:
        load_yaml(settings)
    assert raised.value.line == line and "not closed" in raised.value.problem


def test_a_text_quoted_over_several_lines_is_not_blamed(tmp_path: Path) -> None:
    path = tmp_path / "clinic.yml"
    path.write_text('version: 1\nname: "Clinic\n  on two lines"\nphone: 1\n   email: a\n')
    with pytest.raises(KnowledgeError) as raised:
        load_yaml(path)
    assert raised.value.line == 5 and "indentation" in raised.value.problem
