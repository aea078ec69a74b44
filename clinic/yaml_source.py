"""Reading the clinic's YAML files with line numbers, so every error names file, line and field.

The clinic edits these files by hand; an error such as
``knowledge/treatments.yml:42: treatments[1].answers.pain.text: must be a non-empty string``
lets them fix it without reading Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError


class KnowledgeError(ValueError):
    """A clinic data file is malformed. The message is ``file:line: field: problem``."""

    def __init__(self, file: str | Path, line: int, field: str, problem: str):
        self.file = str(file)
        self.line = line
        self.field = field
        self.problem = problem
        super().__init__(f"{self.file}:{line}: {field}: {problem}")


def display_path(path: Path) -> str:
    """The path as the clinic knows it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_yaml(path: Path) -> Node:
    """Parse ``path`` and return its root mapping as a :class:`Node`."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KnowledgeError(shown, 0, "(file)", "file not found") from None
    except UnicodeDecodeError as error:
        raise KnowledgeError(shown, 0, "(file)", f"not UTF-8 text ({error.reason})") from None
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        data = yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = " ".join(str(part) for part in (error.context, error.problem) if part)
        raise KnowledgeError(shown, line, "(syntax)", f"invalid YAML: {problem}") from None
    except YAMLError as error:
        raise KnowledgeError(shown, 0, "(syntax)", f"invalid YAML: {error}") from None
    root = Node(data, shown, "", 1)
    if not isinstance(data, CommentedMap):
        raise KnowledgeError(shown, 1, "(document)", "must be a mapping of fields")
    return root


_READABLE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class Node:
    """A YAML value with the file, line and dotted field path it came from."""

    def __init__(self, value: Any, file: str, field: str, line: int):
        self.value = value
        self.file = file
        self.field = field or "(document)"
        self.line = line

    def error(self, problem: str) -> KnowledgeError:
        return KnowledgeError(self.file, self.line, self.field, problem)

    def _child_field(self, key: str | int) -> str:
        if isinstance(key, int):  # a list position, counted from 1 as people count
            return f"{self.field}[item {key + 1}]"
        return key if self.field == "(document)" else f"{self.field}.{key}"

    def _element_field(self, index: int, value: Any) -> str:
        """``treatments[prp]`` for a list item with a readable ``id``, else its position."""
        item_id = value.get("id") if isinstance(value, CommentedMap) else None
        if isinstance(item_id, str) and _READABLE_ID.match(item_id):
            return f"{self.field}[{item_id}]"
        return self._child_field(index)

    # -- mappings ---------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        return isinstance(self.value, CommentedMap) and key in self.value

    def child(self, key: str, required: bool = True) -> Node | None:
        """The value under ``key``; a missing required key is an error at the mapping's line."""
        mapping = self.as_map()
        if key not in mapping.value:
            if required:
                raise KnowledgeError(self.file, self.line, self._child_field(key), "missing")
            return None
        line = mapping.value.lc.key(key)[0] + 1
        return Node(mapping.value[key], self.file, self._child_field(key), line)

    def items(self) -> Iterator[tuple[str, Node]]:
        mapping = self.as_map()
        for key in mapping.value:
            line = mapping.value.lc.key(key)[0] + 1
            yield (
                str(key),
                Node(mapping.value[key], self.file, self._child_field(str(key)), line),
            )

    def as_map(self) -> Node:
        if not isinstance(self.value, CommentedMap):
            raise self.error("must be a mapping of fields")
        return self

    def reject_unknown(self, allowed: set[str]) -> None:
        """Typos in field names (``aliasses:``) would otherwise be silently ignored."""
        for key, node in self.items():
            if key not in allowed:
                raise node.error(f"unknown field (expected one of: {', '.join(sorted(allowed))})")

    # -- sequences --------------------------------------------------------------------------
    def elements(self) -> Iterator[Node]:
        if not isinstance(self.value, CommentedSeq):
            raise self.error("must be a list")
        for index, value in enumerate(self.value):
            line = self.value.lc.item(index)[0] + 1
            yield Node(value, self.file, self._element_field(index, value), line)

    # -- scalars ----------------------------------------------------------------------------
    def text(self) -> str:
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.error("must be a non-empty string")
        return " ".join(self.value.split())

    def text_list(self, allow_empty: bool = False) -> tuple[str, ...]:
        values = tuple(element.text() for element in self.elements())
        if not values and not allow_empty:
            raise self.error("must list at least one entry")
        return values

    def number(self) -> float:
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise self.error("must be a number")
        if self.value < 0:
            raise self.error("must not be negative")
        return float(self.value)

    def integer(self) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 1:
            raise self.error("must be a whole number of at least 1")
        return int(self.value)

    def boolean(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error("must be true or false")
        return self.value
