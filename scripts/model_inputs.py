"""``python -m scripts.model_inputs OUT``: write what of the knowledge file the model depends
on (its names and combinations, ``Knowledge.model_inputs``) to OUT, only when it changed.

The Makefile's model depends on OUT, not on ``knowledge/treatments.yml``: an edited answer,
notice, price or source keeps OUT's time stamp, so ``make run`` does not retrain; a new alias
changes OUT and retrains. Prints what changed, for the retraining banner.
"""

from __future__ import annotations

import sys
from pathlib import Path

from clinic.knowledge import get_knowledge
from clinic.yaml_source import KnowledgeError


def write_if_changed(out: Path, text: str) -> bool:
    """Whether ``out`` had to be (re)written to hold ``text``."""
    if out.is_file() and out.read_text() == text:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m scripts.model_inputs OUT", file=sys.stderr)
        return 2
    try:
        text = get_knowledge().model_inputs()
    except KnowledgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if write_if_changed(Path(args[0]), text):
        print("The treatment names or combinations changed: the model will be retrained.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
