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
        line, hint = syntax_error_line(error, text.splitlines())
        raise KnowledgeError(shown, line, "(syntax)", f"invalid YAML: {hint}") from None
    except YAMLError as error:
        raise KnowledgeError(shown, 0, "(syntax)", f"invalid YAML: {error}") from None
    root = Node(data, shown, "", 1)
    if not isinstance(data, CommentedMap):
        raise KnowledgeError(shown, 1, "(document)", "must be a mapping of fields")
    return root


# -- syntax errors, as a person fixes them ------------------------------------------------------

# A value that opens with a quote it does not close on the same line: `name: "Clinic`.
_OPEN_QUOTE = re.compile(r"""^\s*(?:-\s+)?(?:[^\s:#'"][^:#]*:\s+)?(?P<quote>["'])(?P<rest>.*)$""")
_DUPLICATE_KEY = re.compile(r'found duplicate key "(?P<key>[^"]*)"')
# The parser's marks at these points say where the unfinished thing began, not where it broke.
_STARTED_AT_CONTEXT = ("while scanning a quoted scalar", "while scanning a simple key",
                       "while parsing a flow")  # fmt: skip
_EXCERPT_CHARS = 60
_QUOTE_LOOKBACK = 40  # lines


def syntax_error_line(error: MarkedYAMLError, lines: list[str]) -> tuple[int, str]:
    """The line (from 1) a person would fix for a YAML syntax error, and a plain-English hint.

    The parser's marks count from 0 and often point past the problem: at the end of the file
    for an unclosed quote, at the next line for a missing ``:``. This picks the line where the
    unfinished thing started, or the unclosed quote above a confused parser, and says what is
    likely wrong there, the parser's own words in brackets.
    """
    context = str(error.context or "")
    problem = str(error.problem or "")
    mark = error.problem_mark or error.context_mark
    if error.context_mark is not None and context.startswith(_STARTED_AT_CONTEXT):
        mark = error.context_mark
    if mark is None:
        return 0, problem or context or "the file could not be read"
    index = min(mark.line, max(len(lines) - 1, 0))
    column = mark.column if index == mark.line else 0
    while index > 0 and not lines[index].strip():  # past the end: the last written line
        index, column = index - 1, len(lines[index - 1])
    text = lines[index] if lines else ""

    unclosed = None
    if context.startswith("while scanning a quoted scalar"):
        unclosed = index
    elif "duplicate key" not in problem:
        # A quote left open above closes at the next quote and confuses the parser further
        # down: `name: "Clinic`, then `colour: "#2f6f6a"` some lines later.
        unclosed = _unclosed_quote_line(lines, index, max(index - _QUOTE_LOOKBACK, 0))
    if "duplicate key" in problem:
        hint = _duplicate_key_hint(problem, lines, index)
    elif "'\\t'" in problem or "\t" in text[: len(text) - len(text.lstrip())]:
        hint = "a tab is used for indentation; YAML needs spaces"
    elif unclosed is not None:
        index = unclosed
        quote = next((c for c in lines[index] if c in "\"'"), '"')
        hint = f"the quote ({quote}) opened on this line is not closed: end the text with {quote}"
    elif "could not find expected ':'" in problem:
        hint = "a field needs ':' and a space after its name (e.g. phone: 020 7946 0000)"
    elif context.startswith("while parsing a flow"):
        closing = "]" if "sequence" in context else "}"
        hint = f"a list or mapping opened on this line is not closed with '{closing}'"
    elif "mapping values are not allowed" in problem and ": " in text[:column]:
        hint = "a value containing ': ' must be in quotes (e.g. address: \"Unit 2: High St\")"
    elif "mapping values are not allowed" in problem or "expected <block end>" in problem:
        hint = "check the indentation: this line does not line up with the lines above it"
    else:
        hint = "the YAML here cannot be read"
    parser_says = " ".join(part for part in (context, problem) if part)
    excerpt = lines[index].strip() if lines else ""
    if len(excerpt) > _EXCERPT_CHARS:
        excerpt = excerpt[: _EXCERPT_CHARS - 3] + "..."
    near = f'. The line: "{excerpt}"' if excerpt else ""
    return index + 1, f"{hint}{near} (the parser says: {parser_says})"


def _unclosed_quote_line(lines: list[str], start: int, stop: int) -> int | None:
    """The nearest line from ``start`` up to ``stop`` whose value opens a quote it does not
    close, when closing it there makes the file readable past ``start``: a quoted text may
    legitimately run over several lines, so the guess is checked, not assumed."""
    for candidate in range(start, stop - 1, -1):
        match = _OPEN_QUOTE.match(lines[candidate])
        if match is None:
            continue
        quote, rest = match["quote"], match["rest"]
        # '' inside single quotes and \" inside double quotes are escaped quotes.
        rest = (
            rest.replace("''", "") if quote == "'" else rest.replace("\\\\", "").replace('\\"', "")
        )
        if quote in rest:
            continue
        closed = [*lines[:candidate], lines[candidate].rstrip() + quote, *lines[candidate + 1 :]]
        try:
            YAML(typ="safe").load("\n".join(closed))
        except MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            if mark is None or mark.line <= start:
                return None  # not this quote's fault: say what the parser found
        except YAMLError:
            return None
        return candidate
    return None


def _duplicate_key_hint(problem: str, lines: list[str], index: int) -> str:
    match = _DUPLICATE_KEY.search(problem)
    key = match["key"] if match else "this field"
    indent = len(lines[index]) - len(lines[index].lstrip()) if lines else 0
    first = re.compile(rf"^ {{{indent}}}(?:- )?{re.escape(key)}\s*:")
    earlier = next((n for n in range(index - 1, -1, -1) if first.match(lines[n])), None)
    where = f" (first at line {earlier + 1})" if earlier is not None else ""
    return f"'{key}' is written twice in the same place{where}: keep one"


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
