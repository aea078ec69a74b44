"""The labelled triage messages in ``data/triage/``: complication reports and ordinary questions.

Each file has two lists: ``red_flags`` (``text``, ``sign``, ``emergency``) for messages in which
someone has a sign of a complication now, and ``ordinary`` (``text``) for symptom questions
that are not. The red-flag rules are gated on them (``tests/unit/clinic``), and the
second triage layer's classifier is trained on them (``clinic/complication_screen.py``). How
they are written and scored is in ``tests/triage/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinic.paths import PROJECT_ROOT
from clinic.yaml_source import load_yaml

LABELLED_DIR = PROJECT_ROOT / "data" / "triage"


@dataclass(frozen=True)
class LabelledMessage:
    text: str
    red_flag: bool
    sign: str | None  # for red flags: the sign a clinician would name
    emergency: bool
    source: str  # "file:line", to find it again


def load_labelled_file(path: Path) -> list[LabelledMessage]:
    """One labelled file; a malformed entry raises KnowledgeError naming file, line and field."""
    root = load_yaml(path)
    root.reject_unknown({"red_flags", "ordinary"})
    messages = []
    for node in root.child("red_flags").elements():
        node.reject_unknown({"text", "sign", "emergency"})
        messages.append(
            LabelledMessage(
                text=node.child("text").text(),
                red_flag=True,
                sign=node.child("sign").text(),
                emergency=node.child("emergency").boolean(),
                source=f"{node.file}:{node.line}",
            )
        )
    for node in root.child("ordinary").elements():
        node.reject_unknown({"text"})
        text = node.child("text").text()
        messages.append(LabelledMessage(text, False, None, False, f"{node.file}:{node.line}"))
    return messages


def labelled_files(directory: Path = LABELLED_DIR) -> list[Path]:
    return sorted(directory.glob("*.yml"))


def load_labelled(directory: Path = LABELLED_DIR) -> list[LabelledMessage]:
    """Every labelled file in ``directory``, in file order."""
    return [message for path in labelled_files(directory) for message in load_labelled_file(path)]
