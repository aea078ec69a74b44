"""``python -m clinic.check``: validate the knowledge and clinic settings files.

Prints a one-line summary, or ``file:line: field: problem`` and exits 1, so ``make validate``
and the start-up scripts stop before a server starts on a broken file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from clinic.contract import TOPICS
from clinic.knowledge import Knowledge, missing_seed_files, parse_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, SEEDS_DIR, SETTINGS_FILE_NAME, knowledge_dir
from clinic.settings import parse_settings
from clinic.yaml_source import KnowledgeError


def check(directory: Path, seeds_dir: Path = SEEDS_DIR) -> str:
    """The summary of both files in ``directory``; raises ``KnowledgeError`` on a mistake,
    a cited source document missing from ``seeds_dir`` included."""
    knowledge = parse_knowledge(directory / KNOWLEDGE_FILE_NAME)
    settings = parse_settings(directory / SETTINGS_FILE_NAME, knowledge)
    return (
        f"knowledge ok: {len(knowledge.treatments)} treatments x {len(TOPICS)} topics, "
        f"{len(knowledge.comparisons)} comparisons, {len(knowledge.concerns)} concerns; "
        f"clinic settings ok: {settings.name}; {_sources(knowledge, directory, seeds_dir)}"
    )


def _sources(knowledge: Knowledge, directory: Path, seeds_dir: Path) -> str:
    """Whether every cited source document exists, said plainly when it cannot be checked."""
    if not seeds_dir.is_dir():
        return f"sources not checked: the source documents are not beside the project ({seeds_dir})"
    missing = missing_seed_files(knowledge, seeds_dir)
    if missing:
        path = directory / KNOWLEDGE_FILE_NAME
        lines = path.read_text(encoding="utf-8").splitlines()
        line = next((n for n, text in enumerate(lines, 1) if missing[0] in text), 1)
        raise KnowledgeError(
            str(path), line, f"sources.{missing[0]}", f"no such file in {seeds_dir}"
        )
    return f"sources ok: {len(knowledge.sources)} documents in {seeds_dir}"


def main() -> int:
    try:
        print(check(knowledge_dir()))
    except KnowledgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
