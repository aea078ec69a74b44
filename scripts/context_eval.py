"""Compare medspaCy's ConText with the hand-written cue logic of the red-flag detector.

An evaluation, not a test: it reads the labelled triage files (data/triage/*.yml) and, for
each message, decides "flagged or not" in three ways:

* ``hand``: the detector as it is, ``clinic.red_flags.detect(text)``;
* ``ConText``: the same sign patterns (``SIGNS``, found in each sentence of
  ``sentences(normalise(text))``, a sign's ``unless`` words honoured in the match's clause as
  the detector does, or anywhere in the sentence with ``--unless-scope sentence``), each match
  made an entity of a spaCy Doc (``spacy.blank("en")`` tokenizer, one Doc per
  sentence, marked as one sentence) and run through ``medspacy.context.ConText`` with its
  default rules; flagged when any entity is not negated, hypothetical, historical or family;
* ``ConText, family ignored``: as above, but an entity with only ``is_family`` still counts
  (a message about a family member's current symptoms must be flagged).

``patterns only`` (any match counts) is printed too, as the ceiling on recall and the floor on
false alarms that any context logic starts from. No spaCy model is loaded.

medspaCy is not part of the project's stack; ``make context-eval`` runs this in its own
virtualenv (``build/medspacy-venv``, pinned by ``scripts/context_eval_requirements.txt``).

Options: ``--examples N`` disagreements shown per direction, ``--json FILE`` per-message results,
``--unless-scope clause|sentence``. Only ``normalise``, ``sentences``, ``SIGNS``, ``detect`` and
(for the per-match notes in the examples) ``_counts``, and ``_clause_bounds`` (to scope a sign's
``unless`` words) of ``clinic.red_flags`` are used; the
module is imported as it is at run time and its SHA-256 is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import inspect
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TRIAGE_DIR = Path(__file__).resolve().parents[1] / "data" / "triage"
CONTEXT_ATTRIBUTES = ("is_negated", "is_hypothetical", "is_historical", "is_family")
INSTALL_HINT = (
    "medspaCy is needed for this evaluation and is not in the project's virtualenv (on purpose).\n"
    "Run it with `make context-eval`, which makes its own virtualenv in build/medspacy-venv."
)


# --- labelled data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    file: str
    text: str
    red_flag: bool  # True: from the file's `red_flags` list, False: from `ordinary`
    sign: str | None  # the labelled sign, red flags only


def load_examples(directory: Path) -> list[Example]:
    import yaml  # PyYAML, in both virtualenvs

    examples = []
    for path in sorted(directory.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, red_flag in (("red_flags", True), ("ordinary", False)):
            for item in data.get(key) or []:
                if isinstance(item, str):
                    text, sign = item, None
                else:
                    text, sign = str(item["text"]), item.get("sign")
                examples.append(Example(path.name, text, red_flag, sign if red_flag else None))
    return examples


# --- ConText ---------------------------------------------------------------------------------


@dataclass
class Target:
    sentence: int
    sign: str
    emergency: bool
    phrase: str  # the entity's text (the match, expanded to whole tokens)
    attributes: dict[str, bool]
    modifiers: list[str]  # "CATEGORY: words" for each ConText modifier of the entity
    hand_counts: bool | None = None  # red_flags._counts for the same match, when available

    def counts(self, ignore_family: bool = False) -> bool:
        ignored = {"is_family"} if ignore_family else set()
        return not any(self.attributes[name] for name in CONTEXT_ATTRIBUTES if name not in ignored)


@dataclass
class Result:
    example: Example
    hand: bool
    hand_sign: str | None
    targets: list[Target] = field(default_factory=list)
    unaligned: int = 0  # matches that no token span could hold (should stay 0)
    suppressed: list[str] = field(default_factory=list)  # "sign: phrase" dropped by `unless`
    hand_seconds: float = 0.0
    context_seconds: float = 0.0

    @property
    def patterns(self) -> bool:
        return bool(self.targets)

    @property
    def context(self) -> bool:
        return any(target.counts() for target in self.targets)

    @property
    def context_no_family(self) -> bool:
        return any(target.counts(ignore_family=True) for target in self.targets)


def import_medspacy() -> tuple[Any, Any]:
    """medspacy and spacy, or a clear message and exit status 2."""
    try:
        import medspacy
        import spacy
    except ImportError as error:
        print(f"{INSTALL_HINT}\n(import failed in {sys.executable}: {error})", file=sys.stderr)
        raise SystemExit(2) from error
    except Exception as error:  # e.g. numpy 2 under spaCy 3.4's compiled thinc
        print(
            f"medspacy/spacy failed to import in {sys.executable}: {type(error).__name__}: "
            f"{error}\nspaCy 3.4.x needs numpy<2 (the project pins numpy==1.23.5).\n"
            f"{INSTALL_HINT}",
            file=sys.stderr,
        )
        raise SystemExit(2) from error
    return medspacy, spacy


def build_context_nlp(medspacy: Any, spacy: Any) -> Any:
    """A blank English pipeline holding only medspaCy's ConText with its default rules.

    medspacy 1.x takes the component list as ``medspacy_enable``; an ``enable`` keyword is
    passed on to spacy.load and, with the default blank model, silently ignored (the whole
    default pipeline, with PyRuSH and the target matcher, is loaded). Anything other than a
    lone ConText is rebuilt from ``spacy.blank("en")``.
    """
    keyword = (
        "medspacy_enable"
        if "medspacy_enable" in inspect.signature(medspacy.load).parameters
        else "enable"
    )
    try:
        nlp = medspacy.load(**{keyword: ["medspacy_context"]})
    except Exception:  # an API this script does not know: build it by hand below
        nlp = None
    if nlp is None or nlp.pipe_names != ["medspacy_context"]:
        nlp = spacy.blank("en")
        nlp.add_pipe("medspacy_context")
    return nlp


def _layers(spans: Iterable[tuple[Any, Any]]) -> list[list[tuple[Any, Any]]]:
    """Split (span, payload) pairs into groups of non-overlapping spans (doc.ents allows no
    overlap); almost always a single group."""
    layers: list[list[tuple[Any, Any]]] = []
    for span, payload in spans:
        for layer in layers:
            if all(span.end <= other.start or span.start >= other.end for other, _ in layer):
                layer.append((span, payload))
                break
        else:
            layers.append([(span, payload)])
    return layers


class ConTextReader:
    def __init__(self, red_flags: Any, nlp: Any, unless_scope: str = "clause") -> None:
        self.red_flags = red_flags
        self.unless_scope = unless_scope
        self.nlp = nlp
        self.context = nlp.get_pipe("medspacy_context")
        counts = getattr(red_flags, "_counts", None)
        self.hand_counts: Callable[..., bool] | None = counts if callable(counts) else None

    def _doc(self, sentence: str) -> Any:
        doc = self.nlp.make_doc(sentence)
        for token in doc:  # each of the detector's sentences is one ConText sentence
            token.is_sent_start = token.i == 0
        return doc

    def _excluded(self, sign: Any, sentence: str, match: re.Match[str]) -> bool:
        if not sign.unless:
            return False
        if self.unless_scope == "sentence":
            scope = sentence
        else:
            start, end = self.red_flags._clause_bounds(sentence, match.start())
            scope = sentence[start:end]
        return bool(sign.unless.search(scope))

    def read(self, text: str) -> tuple[list[Target], int, list[str]]:
        rf = self.red_flags
        parts = rf.sentences(rf.normalise(text))
        targets: list[Target] = []
        unaligned = 0
        suppressed: list[str] = []
        for index, sentence in enumerate(parts):
            follow_up = parts[index + 1] if index + 1 < len(parts) else ""
            matches = []
            for sign in rf.SIGNS:
                for match in sign.pattern.finditer(sentence):
                    if self._excluded(sign, sentence, match):
                        suppressed.append(f"{sign.sign}: {match.group()}")
                    else:
                        matches.append((sign, match))
            if not matches:
                continue
            probe = self._doc(sentence)
            located = []
            for sign, match in matches:
                span = probe.char_span(*match.span(), alignment_mode="expand")
                if span is None or len(span) == 0:
                    unaligned += 1
                    continue
                located.append((span, (sign, match)))
            for layer in _layers(located):
                doc = self._doc(sentence)
                ents = [
                    doc.char_span(span.start_char, span.end_char, label=sign.sign)
                    for span, (sign, _) in layer
                ]
                doc.ents = sorted(ents, key=lambda ent: ent.start)
                self.context(doc)
                by_start = {ent.start_char: ent for ent in doc.ents}
                for span, (sign, match) in layer:
                    ent = by_start[span.start_char]
                    hand = None
                    if self.hand_counts is not None:
                        try:
                            hand = bool(self.hand_counts(sign, sentence, match, follow_up))
                        except Exception:  # a private helper whose signature has changed
                            hand = None
                    targets.append(
                        Target(
                            sentence=index,
                            sign=sign.sign,
                            emergency=sign.emergency,
                            phrase=ent.text,
                            attributes={
                                name: bool(getattr(ent._, name)) for name in CONTEXT_ATTRIBUTES
                            },
                            modifiers=[
                                f"{modifier.category}: {doc[slice(*modifier.modifier_span)].text}"
                                for modifier in ent._.modifiers
                            ],
                            hand_counts=hand,
                        )
                    )
        return targets, unaligned, suppressed


# --- scoring ---------------------------------------------------------------------------------

METHODS: dict[str, Callable[[Result], bool]] = {
    "hand (detect)": lambda result: result.hand,
    "ConText": lambda result: result.context,
    "ConText, family ignored": lambda result: result.context_no_family,
    "patterns only (no context)": lambda result: result.patterns,
}


def evaluate(examples: list[Example], red_flags: Any, reader: ConTextReader) -> list[Result]:
    results = []
    for example in examples:
        start = time.perf_counter()
        flag = red_flags.detect(example.text)
        middle = time.perf_counter()
        targets, unaligned, suppressed = reader.read(example.text)
        end = time.perf_counter()
        results.append(
            Result(
                example,
                hand=flag is not None,
                hand_sign=flag.sign if flag is not None else None,
                targets=targets,
                unaligned=unaligned,
                suppressed=suppressed,
                hand_seconds=middle - start,
                context_seconds=end - middle,
            )
        )
    return results


def _ratio(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.3f}" if whole else "-"


def table(results: list[Result], known_signs: set[str]) -> str:
    groups = [("all files", results)] + [
        (name, [r for r in results if r.example.file == name])
        for name in sorted({r.example.file for r in results})
    ]
    lines = [
        "| set | method | recall (red_flags) | recall, signs the detector has | "
        "false alarms (ordinary) |",
        "|---|---|---|---|---|",
    ]
    for name, group in groups:
        red = [r for r in group if r.example.red_flag]
        known = [r for r in red if r.example.sign in known_signs]
        ordinary = [r for r in group if not r.example.red_flag]
        for method, flagged in METHODS.items():
            lines.append(
                f"| {name} | {method} | {_ratio(sum(map(flagged, red)), len(red))} | "
                f"{_ratio(sum(map(flagged, known)), len(known))} | "
                f"{_ratio(sum(map(flagged, ordinary)), len(ordinary))} |"
            )
    return "\n".join(lines)


def timing(results: list[Result], load_seconds: float) -> str:
    def describe(values: list[float]) -> str:
        ms = sorted(value * 1000 for value in values)
        p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
        mean, median = statistics.mean(ms), statistics.median(ms)
        return f"mean {mean:.3f} ms, median {median:.3f} ms, p95 {p95:.3f} ms"

    return (
        f"ConText pipeline built in {load_seconds:.2f} s (once).\n"
        f"Per message, ConText (patterns + Docs + ConText): "
        f"{describe([r.context_seconds for r in results])}\n"
        f"Per message, hand detect(): {describe([r.hand_seconds for r in results])}\n"
        f"({len(results)} messages)"
    )


def attribute_counts(results: list[Result]) -> str:
    """How often each ConText attribute was set, on entities of red-flag vs ordinary messages."""
    lines = [
        "| ConText attribute | entities in red_flags | entities in ordinary |",
        "|---|---|---|",
    ]
    red = [t for r in results if r.example.red_flag for t in r.targets]
    ordinary = [t for r in results if not r.example.red_flag for t in r.targets]
    for name in (*CONTEXT_ATTRIBUTES, None):
        label = name or "none of them (entity counts)"
        in_red = sum(t.attributes[name] if name else t.counts() for t in red)
        in_ordinary = sum(t.attributes[name] if name else t.counts() for t in ordinary)
        lines.append(f"| {label} | {in_red}/{len(red)} | {in_ordinary}/{len(ordinary)} |")
    return "\n".join(lines)


def _describe_target(target: Target) -> str:
    set_attributes = [name[3:] for name in CONTEXT_ATTRIBUTES if target.attributes[name]]
    hand = {True: "counts", False: "does not count", None: "?"}[target.hand_counts]
    modifiers = "; ".join(target.modifiers) or "no modifier"
    return (
        f"    - [{target.sign}] '{target.phrase}' (sentence {target.sentence + 1}): ConText "
        f"{', '.join(set_attributes) or 'plain'} ({modifiers}); hand _counts: {hand}"
    )


def disagreements(results: list[Result], per_direction: int) -> str:
    out = []
    for context_name in ("ConText", "ConText, family ignored"):
        flagged = METHODS[context_name]
        for hand_flags in (True, False):
            cases = [r for r in results if r.hand == hand_flags and flagged(r) != hand_flags]
            right = sum(r.example.red_flag == flagged(r) for r in cases)
            title = (
                f"hand flags, {context_name} does not"
                if hand_flags
                else f"{context_name} flags, hand does not"
            )
            out.append(
                f"\n### {title}: {len(cases)} messages ({context_name} right on {right}, "
                f"hand right on {len(cases) - right})"
            )
            # Show the ones that matter first: where the label sides with either method.
            cases.sort(key=lambda r: (r.example.red_flag != hand_flags, r.example.file))
            for result in cases[:per_direction]:
                label = "RED FLAG" if result.example.red_flag else "ordinary"
                sign = f" ({result.example.sign})" if result.example.sign else ""
                out.append(f"- {label}{sign}, {result.example.file}: {result.example.text!r}")
                out.extend(_describe_target(target) for target in result.targets)
                out.extend(f"    - dropped by `unless`: {item}" for item in result.suppressed)
    return "\n".join(out)


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=TRIAGE_DIR, help="folder of *.yml files")
    parser.add_argument("--examples", type=int, default=6, help="disagreements per direction")
    parser.add_argument("--json", type=Path, help="write per-message results here")
    parser.add_argument(
        "--unless-scope",
        choices=("clause", "sentence"),
        default="clause",
        help="where a sign's `unless` words cancel a match (the detector: clause)",
    )
    args = parser.parse_args(argv)

    medspacy, spacy = import_medspacy()
    red_flags = importlib.import_module("clinic.red_flags")  # as it is now, not a copy

    start = time.perf_counter()
    nlp = build_context_nlp(medspacy, spacy)
    load_seconds = time.perf_counter() - start
    reader = ConTextReader(red_flags, nlp, args.unless_scope)
    reader.read("warm-up message with a fever")  # first-call costs out of the timings

    examples = load_examples(args.data)
    if not examples:
        print(f"no labelled messages under {args.data}", file=sys.stderr)
        return 1
    results = evaluate(examples, red_flags, reader)
    known_signs = {sign.sign for sign in red_flags.SIGNS}

    print(
        f"medspacy {medspacy.__version__}, spacy {spacy.__version__}, pipeline "
        f"{nlp.pipe_names}, Python {sys.version.split()[0]}"
    )
    module = Path(red_flags.__file__).resolve()
    digest = hashlib.sha256(module.read_bytes()).hexdigest()[:12]
    print(f"red_flags module: {module} (sha256 {digest}); `unless` scope: {args.unless_scope}")
    red = sum(r.example.red_flag for r in results)
    print(f"{len(results)} messages: {red} red flags, {len(results) - red} ordinary\n")
    print(table(results, known_signs))
    print()
    print(timing(results, load_seconds))
    print()
    print(attribute_counts(results))
    unaligned = sum(r.unaligned for r in results)
    if unaligned:
        print(f"warning: {unaligned} sign matches could not be made into entities")
    print(disagreements(results, args.examples))

    if args.json:
        rows = [
            {
                **asdict(r.example),
                "hand": r.hand,
                "hand_sign": r.hand_sign,
                "context": r.context,
                "context_no_family": r.context_no_family,
                "patterns": r.patterns,
                "targets": [asdict(t) for t in r.targets],
                "suppressed_by_unless": r.suppressed,
                "context_ms": r.context_seconds * 1000,
                "hand_ms": r.hand_seconds * 1000,
            }
            for r in results
        ]
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(f"\nper-message results: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
