"""``cmd 2>&1 | python -m scripts.quiet_output``: hide the known-harmless warnings of install
and training, pass everything else through unchanged, line by line as it comes.

Each hidden warning is listed in :data:`HARMLESS` with why it does not apply to this project
(``--list`` prints them). A warning spanning several lines (Python prints the source line
under it; Rasa adds a "More info" line) is hidden whole, and only its own lines. Anything not
listed, every error included, is shown; the exit code is the command's (the Makefile uses
``set -o pipefail``). ``VERBOSE=1 make ...`` does not use this filter at all.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Terminal colour codes (Rasa colours its warnings): ignored when matching.
_COLOUR_CODE = re.compile(r"\x1b\[[0-9;]*m")
# The further lines of a warning, in order: Python prints the line of source that warned
# under it, indented by two spaces; Rasa adds a "More info" line to some of its own.
SOURCE_LINE = r"^  \S"
MORE_INFO = r"^  More info at https://rasa\.com/"


@dataclass(frozen=True)
class Harmless:
    """A warning that does not apply here: the first line's pattern, and why it is hidden."""

    pattern: re.Pattern[str]
    reason: str
    # The lines that follow it when it spans several, in order (each hidden only in turn).
    continuation: tuple[re.Pattern[str], ...] = ()


def _harmless(pattern: str, reason: str, continuation: tuple[str, ...] = ()) -> Harmless:
    return Harmless(re.compile(pattern), reason, tuple(re.compile(c) for c in continuation))


HARMLESS: tuple[Harmless, ...] = (
    _harmless(
        r"^WARNING: Location 'file:[^']*' is ignored: it is neither a file nor a directory\.$",
        "this machine's pip configuration lists a local package folder that does not exist; "
        "pip skips it and installs from the other indexes (once per package, ~230 lines)",
    ),
    _harmless(
        r"DeprecationWarning: pkg_resources is deprecated as an API",
        "raised inside Rasa 3.6 (rasa/shared/utils/validation.py), not by our code",
        continuation=(SOURCE_LINE,),
    ),
    _harmless(
        r"DeprecationWarning: Deprecated call to `pkg_resources\.declare_namespace\(",
        "setuptools on how the installed mpl_toolkits and ruamel packages declare namespaces",
        continuation=(
            r"^Implementing implicit namespace packages \(as specified in PEP 420\)",
            SOURCE_LINE,
        ),
    ),
    _harmless(
        r"DeprecationWarning: jax\.xla_computation is deprecated",
        "TensorFlow's own import of jax; Rasa 3.6 pins this TensorFlow",
        continuation=(SOURCE_LINE,),
    ),
    _harmless(
        r"PyparsingDeprecationWarning: '\w+' deprecated - use '\w+'",
        "matplotlib and packaging still use pyparsing's old names; they work",
        continuation=(SOURCE_LINE,),
    ),
    _harmless(
        r"site-packages/(?:typer|spacy)/\S+: DeprecationWarning: .*Click 9\.0",
        "typer and spaCy import Click names that Click 9 will move; the pinned Click has them",
        continuation=(SOURCE_LINE,),
    ),
    _harmless(
        r"UserWarning: The utterance 'utter_iamabot' is not used in any story or rule\.",
        "ActionBotChallenge (actions/fallback_actions.py) sends it; `rasa data validate` "
        "looks only at stories and rules",
    ),
    _harmless(
        r"UserWarning: You have defined training data consisting of entity examples, but your "
        r"NLU configuration does not include an entity extractor",
        "the project's own KnowledgeEntityRecognizer (clinic_nlu/recognizer.py) extracts the "
        "entities from the knowledge file; Rasa only looks for its own extractors",
        continuation=(MORE_INFO,),
    ),
    _harmless(
        r"UserWarning: You have defined synonyms in your training data, but your NLU "
        r"configuration does not include an 'EntitySynonymMapper'",
        "the same recogniser maps every name and alias to its id itself (the 'synonyms' are "
        "the annotated ids of the training examples)",
        continuation=(MORE_INFO,),
    ),
)


def _visible(line: str) -> str:
    return _COLOUR_CODE.sub("", line).rstrip("\r\n")


def quiet_lines(lines: Iterable[str], counts: list[int] | None = None) -> Iterator[str]:
    """``lines`` without the :data:`HARMLESS` warnings (each line with its newline, as read).

    ``counts``, when given, gets one entry per hidden warning: how many lines it had."""
    expected: list[re.Pattern[str]] = []  # the rest of the warning being hidden
    for line in lines:
        visible = _visible(line)
        if not visible and line.strip():
            continue  # colour codes alone (the reset after a hidden warning): nothing to see
        if expected and expected[0].search(visible):
            expected.pop(0)
            if counts is not None:
                counts[-1] += 1
            continue
        harmless = next((h for h in HARMLESS if h.pattern.search(visible)), None)
        if harmless is None:
            expected = []
            yield line
            continue
        expected = list(harmless.continuation)
        if counts is not None:
            counts.append(1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--list"]:
        for harmless in HARMLESS:
            print(f"{harmless.pattern.pattern}\n    hidden because {harmless.reason}")
        return 0
    if args:
        print("usage: COMMAND 2>&1 | python -m scripts.quiet_output [--list]", file=sys.stderr)
        return 2
    counts: list[int] = []
    lines = (raw.decode("utf-8", "replace") for raw in iter(sys.stdin.buffer.readline, b""))
    try:
        for line in quiet_lines(lines, counts):
            sys.stdout.write(line)
            sys.stdout.flush()  # show progress as it happens, not when the buffer fills
        if counts:
            lines_hidden = f"{sum(counts)} line{'s' if sum(counts) != 1 else ''}"
            print(
                f"    ({lines_hidden} of known-harmless warnings hidden: VERBOSE=1 shows "
                "them, scripts/quiet_output.py says why)",
                flush=True,
            )
    except BrokenPipeError:
        return 0  # the reader went away (`| head`): nothing left to show
    return 0


if __name__ == "__main__":
    sys.exit(main())
