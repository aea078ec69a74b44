"""The review file: patient messages staff labelled, appended as NLU training examples.

``data/nlu/review.yml`` (``$CLINIC_REVIEW_FILE`` overrides the path) is ordinary Rasa NLU
data, so the next ``make train`` learns from it with the rest of ``data/``. Staff pick an
unanswered message on the report page, choose its intent (one of the domain's) and optionally
the treatment; :func:`preview` shows the lines that will be added as a diff, and
:func:`append_example` writes them.

- The treatment is annotated as an entity, the way ``data/nlu/*.yml`` does
  (``[vampire facial]{"entity": "treatment", "value": "microneedling_prp"}``, or
  ``[prp](treatment)`` when the words are the id), when the message contains one of the
  treatment's names or aliases from the knowledge file (compared as
  ``clinic.knowledge.alias_key`` does).
- A message already in the training data (any file of ``data/nlu/``, case and spacing
  ignored) is refused with a message saying where it is.
- The example goes under the intent's block, or a new block at the end; the result is parsed
  before it replaces the file (atomically), so the file stays valid YAML.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from clinic.knowledge import Knowledge, alias_key, get_knowledge
from clinic.paths import PROJECT_ROOT

REVIEW_FILE_ENV = "CLINIC_REVIEW_FILE"
DEFAULT_REVIEW_FILE = PROJECT_ROOT / "data" / "nlu" / "review.yml"
NLU_DIR = PROJECT_ROOT / "data" / "nlu"
DOMAIN_FILE = PROJECT_ROOT / "domain.yml"
MAX_EXAMPLE_CHARS = 300
MAX_ALIAS_WORDS = 6
HEADER = """\
version: "3.1"

# Patient messages the clinic's staff labelled on the "What patients asked" page
# (/staff/report): each was not understood or not answered well, and a person chose its
# intent (and treatment). The page appends here; `make train` reads this file with the rest
# of data/. Review the additions before committing them: every example teaches the model.
nlu: []
"""

# Rasa's entity annotations: [text](entity), [text](entity:value), [text]{"entity": ...}.
_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_WORD = re.compile(r"[0-9A-Za-z]+")
_INTENT_LINE = re.compile(r"^- intent:\s*(\S+)\s*$")
_EMPTY_NLU = re.compile(r"^nlu:\s*\[\]\s*$")
_write_lock = threading.Lock()


class ReviewError(ValueError):
    """A message that cannot be added as it is; the text says why."""


class AlreadyInTrainingDataError(ReviewError):
    pass


@dataclass(frozen=True)
class Preview:
    path: Path
    intent: str
    example: str  # the example as written, with the treatment annotated
    diff: str  # a unified diff of the file
    new_text: str


def review_file_path(environ: dict[str, str] | None = None) -> Path:
    """``$CLINIC_REVIEW_FILE`` (relative to the project root), else ``data/nlu/review.yml``."""
    environ = dict(os.environ) if environ is None else environ
    configured = environ.get(REVIEW_FILE_ENV, "").strip()
    if not configured:
        return DEFAULT_REVIEW_FILE
    path = Path(configured)
    return path if path.is_absolute() else PROJECT_ROOT / path


def domain_intents(domain_file: Path = DOMAIN_FILE) -> list[str]:
    """The intents of ``domain.yml``, in its order."""
    domain = yaml.safe_load(domain_file.read_text(encoding="utf-8")) or {}
    intents = []
    for entry in domain.get("intents") or []:
        name = next(iter(entry)) if isinstance(entry, dict) else entry
        intents.append(str(name))
    return intents


def plain_example(line: str) -> str:
    """An example's text without entity annotations, lower case, single-spaced."""
    return " ".join(_ANNOTATION.sub(r"\1", line).lower().split())


def training_examples(
    nlu_dir: Path = NLU_DIR, extra: Path | None = None
) -> dict[str, tuple[str, str]]:
    """Every example of the NLU files (and ``extra``): plain text -> (file name, intent)."""
    files = sorted(nlu_dir.glob("*.yml"))
    if (
        extra is not None
        and extra.is_file()
        and extra.resolve() not in {f.resolve() for f in files}
    ):
        files.append(extra)
    found: dict[str, tuple[str, str]] = {}
    for path in files:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError:
            raise ReviewError(
                f"{path.name} is not valid YAML, so nothing can be added safely: fix the file "
                "by hand (`rasa data validate` points at the line)."
            ) from None
        nlu = data.get("nlu") if isinstance(data, dict) else None
        for block in nlu if isinstance(nlu, list) else []:
            if not isinstance(block, dict) or "intent" not in block:
                continue
            for line in str(block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    found.setdefault(plain_example(line[2:]), (path.name, str(block["intent"])))
    return found


def _alias_span(text: str, aliases: list[str]) -> tuple[int, int] | None:
    """The longest stretch of whole words of ``text`` that reads as one of ``aliases``."""
    keys = {alias_key(alias) for alias in aliases if alias_key(alias)}
    words = list(_WORD.finditer(text))
    best: tuple[int, int] | None = None
    for first in range(len(words)):
        for last in range(first, min(first + MAX_ALIAS_WORDS, len(words))):
            start, end = words[first].start(), words[last].end()
            if alias_key(text[start:end]) in keys and (
                best is None or end - start > best[1] - best[0]
            ):
                best = (start, end)
    return best


def annotated(text: str, treatment: str | None, knowledge: Knowledge) -> str:
    """``text`` with the first, longest mention of ``treatment`` marked as its entity."""
    if treatment is None:
        return text
    aliases = [alias for entity, item, alias in knowledge.alias_entries() if item == treatment]
    span = _alias_span(text, aliases)
    if span is None:
        return text
    start, end = span
    words = text[start:end]
    if words == treatment:
        marked = f"[{words}](treatment)"
    else:
        marked = f'[{words}]{{"entity": "treatment", "value": "{treatment}"}}'
    return text[:start] + marked + text[end:]


def _checked_text(message: str) -> str:
    text = " ".join(message.split())
    if not text:
        raise ReviewError("The message is empty.")
    if text.startswith("/"):
        raise ReviewError("That is a button press, not a typed message: nothing to learn.")
    if "[" in text or "]" in text:
        raise ReviewError(
            "The message contains [ or ] (masked contact details such as [phone], or "
            "brackets), which would break the training data. Add it by hand if it matters."
        )
    if len(text) > MAX_EXAMPLE_CHARS:
        raise ReviewError(f"The message is longer than {MAX_EXAMPLE_CHARS} characters.")
    return text


def _appended(current: str, intent: str, example: str) -> str:
    """The review file's text with ``example`` under ``intent``'s block."""
    lines = current.splitlines()
    nlu_line = next((i for i, line in enumerate(lines) if _EMPTY_NLU.match(line)), None)
    if nlu_line is not None:
        lines[nlu_line] = "nlu:"
    block_start = next(
        (
            i
            for i, line in enumerate(lines)
            if (match := _INTENT_LINE.match(line)) and match.group(1) == intent
        ),
        None,
    )
    new_line = f"    - {example}"
    if block_start is None:
        while lines and not lines[-1].strip():
            lines.pop()
        lines += [f"- intent: {intent}", "  examples: |", new_line]
    else:
        block_end = next(
            (i for i in range(block_start + 1, len(lines)) if lines[i].startswith("- ")),
            len(lines),
        )
        last_example = max(
            (i for i in range(block_start, block_end) if lines[i].startswith("    - ")),
            default=block_start + 1,
        )
        lines.insert(last_example + 1, new_line)
    return "\n".join(lines) + "\n"


def _contains(text: str, intent: str, example: str) -> bool:
    data = yaml.safe_load(text) or {}
    return any(
        isinstance(block, dict)
        and block.get("intent") == intent
        and f"- {example}" in [line.strip() for line in str(block.get("examples")).splitlines()]
        for block in data.get("nlu") or []
    )


def preview(
    message: str,
    intent: str,
    treatment: str | None = None,
    *,
    path: Path | None = None,
    knowledge: Knowledge | None = None,
    intents: list[str] | None = None,
) -> Preview:
    """What appending ``message`` as an example of ``intent`` would change, as a diff.

    Raises :class:`ReviewError` (with a message for staff) for an unknown intent or
    treatment, a message that cannot be written safely, or one already in the training data.
    """
    path = path or review_file_path()
    knowledge = knowledge or get_knowledge()
    intents = intents if intents is not None else domain_intents()
    if intent not in intents:
        raise ReviewError(f"Unknown intent {intent!r}: choose one of the list.")
    if treatment is not None and treatment not in knowledge.treatments:
        raise ReviewError(f"Unknown treatment {treatment!r}: choose one of the list.")
    text = _checked_text(message)
    known = training_examples(extra=path).get(plain_example(text))
    if known is not None:
        file_name, known_intent = known
        raise AlreadyInTrainingDataError(
            f"This message is already in the training data ({file_name}, intent "
            f"{known_intent}): nothing to add."
        )
    current = path.read_text(encoding="utf-8") if path.is_file() else HEADER
    example = annotated(text, treatment, knowledge)
    new_text = _appended(current, intent, example)
    try:
        valid = _contains(new_text, intent, example)
    except yaml.YAMLError:
        valid = False
    if not valid:
        raise ReviewError(
            f"{path.name} is not laid out as this page writes it, so the example cannot be "
            "added safely: fix the file by hand (see the other files in data/nlu/)."
        )
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path.name} (now)",
            tofile=f"{path.name} (after saving)",
        )
    )
    return Preview(path=path, intent=intent, example=example, diff=diff, new_text=new_text)


def append_example(
    message: str,
    intent: str,
    treatment: str | None = None,
    *,
    path: Path | None = None,
    knowledge: Knowledge | None = None,
    intents: list[str] | None = None,
) -> Preview:
    """Append ``message`` to the review file (checked as :func:`preview` does); returns what
    was written. The file is replaced in one step, never left half-written."""
    path = path or review_file_path()
    with _write_lock:
        planned = preview(
            message, intent, treatment, path=path, knowledge=knowledge, intents=intents
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(planned.new_text)
            # mkstemp makes the file private; the review file is an ordinary project file.
            os.chmod(temporary, path.stat().st_mode & 0o777 if path.exists() else 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return planned
