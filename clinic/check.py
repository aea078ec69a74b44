"""``python -m clinic.check``: validate the knowledge and clinic settings files.

Prints a one-line summary, or ``file:line: field: problem`` and exits 1, so ``make validate``
and the start-up scripts stop before a server starts on a broken file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from clinic.contract import TOPICS
from clinic.knowledge import parse_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, SETTINGS_FILE_NAME, knowledge_dir
from clinic.settings import parse_settings
from clinic.yaml_source import KnowledgeError


def check(directory: Path) -> str:
    """The summary of both files in ``directory``; raises ``KnowledgeError`` on a mistake."""
    knowledge = parse_knowledge(directory / KNOWLEDGE_FILE_NAME)
    settings = parse_settings(directory / SETTINGS_FILE_NAME, knowledge)
    return (
        f"knowledge ok: {len(knowledge.treatments)} treatments x {len(TOPICS)} topics, "
        f"{len(knowledge.comparisons)} comparisons, {len(knowledge.concerns)} concerns; "
        f"clinic settings ok: {settings.name}"
    )


def main() -> int:
    try:
        print(check(knowledge_dir()))
    except KnowledgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
