"""A spaCy pipeline component that finds treatment, concern and procedure names in a Doc.

No pretrained spaCy model can be downloaded behind a clinic's firewall, so the pipeline is a
blank English tokenizer plus this component, built entirely from the knowledge file's aliases
and the project's NLU training data:

* aliases are compared on their ``alias_key`` (lower case, letters and digits only), over
  spans of one or more tokens, so case, spacing and punctuation never matter:
  "P.R.P.", "micro needling", "derma pen", "platelet-rich-plasma";
* plurals and possessives match their alias ("dermapens", "PRP's");
* misspellings within a small edit distance match too ("mesotheraphy", "exozomes"): the
  fuzzy matching spaCy 3.5 added, done here for spaCy 3.4 with a deletion index
  (SymSpell), checked by Levenshtein distance;
* words seen in the training data outside entity annotations ("needing", "therapy") are
  never fuzzy-matched, so ordinary English does not turn into a treatment.
"""

# No `from __future__ import annotations`: spaCy validates factory signatures at runtime.

import re
from collections.abc import Iterable
from itertools import combinations
from pathlib import Path

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from clinic.knowledge import alias_key, combination_of

FACTORY_NAME = "clinic_alias_matcher"
if not Span.has_extension("alias_confidence"):
    Span.set_extension("alias_confidence", default=1.0)
# Longest alias in tokens is about 5 ("platelet - rich - plasma" is 5 tokens); leave room.
MAX_SPAN_TOKENS = 8
# Shorter keys ("prp", "meso", "needing") only match exactly: at 7 letters and below one typo
# too often turns an ordinary word into a name.
MIN_FUZZY_LENGTH = 8


_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
_ES_PLURAL_STEMS = ("s", "x", "z", "ch", "sh")
# Only treatment names are matched despite typos: patients misspell product names
# ("mesotheraphy", "exozomes"), while concern words sit one letter from everyday words
# ("thinning" / "thinking").
FUZZY_ENTITIES = frozenset({"treatment"})


def max_edit_distance(key: str) -> int:
    """How many typos a key of this length may carry and still match."""
    if len(key) < MIN_FUZZY_LENGTH:
        return 0
    return 1 if len(key) < 10 else 2


def levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (char_a != char_b),
                )
            )
        previous = current
    return previous[-1]


def _deletions(key: str, distance: int) -> set[str]:
    variants = {key}
    for count in range(1, distance + 1):
        for positions in combinations(range(len(key)), count):
            variants.add("".join(c for i, c in enumerate(key) if i not in positions))
    return variants


@Language.factory(FACTORY_NAME)
def create_alias_matcher(nlp: Language, name: str) -> "AliasMatcher":
    return AliasMatcher(name)


class AliasMatcher:
    """Sets ``doc.ents`` to alias matches; each Span has the entity as label, id as kb_id."""

    def __init__(self, name: str = FACTORY_NAME) -> None:
        self.name = name
        self.aliases: dict[str, tuple[str, str]] = {}  # alias key -> (entity, id)
        self.known_words: set[str] = set()
        self.alias_words: set[str] = set()  # the words aliases are made of ("micro", "pen")
        self._deletion_index: dict[str, set[str]] = {}
        self._longest_alias = 0
        self.combinations: dict[str, tuple[str, ...]] = {}  # combined id -> part ids

    # -- building ---------------------------------------------------------------------------
    def add_aliases(self, entries: Iterable[tuple[str, str, str]]) -> None:
        """Add ``(entity, id, alias)`` triples, e.g. ``("treatment", "prp", "PRP facial")``."""
        for entity, item_id, alias in entries:
            key = alias_key(alias)
            if key:
                self.aliases[key] = (entity, item_id)
                self.alias_words.update(w for w in _WORD_SPLIT.split(alias.lower()) if w)
        self._rebuild_index()

    def add_combinations(self, combinations: dict[str, tuple[str, ...]]) -> None:
        """Treatments that are others done together (the knowledge file's ``combines``)."""
        self.combinations.update({k: tuple(v) for k, v in combinations.items()})

    def add_known_words(self, words: Iterable[str]) -> None:
        """Ordinary words from the training data: never fuzzy-matched to an alias."""
        self.known_words.update(alias_key(word) for word in words)
        self.known_words.discard("")
        self.known_words.difference_update(self.aliases)

    def _rebuild_index(self) -> None:
        # Keys much longer than any alias cannot be a misspelt alias; the bound also keeps
        # the deletion variants of a 5,000-letter "word" from being computed.
        self._longest_alias = max((len(key) for key in self.aliases), default=0)
        self._deletion_index = {}
        for key, (entity, _) in self.aliases.items():
            if entity not in FUZZY_ENTITIES:
                continue
            for variant in _deletions(key, max_edit_distance(key)):
                self._deletion_index.setdefault(variant, set()).add(key)

    # -- matching ---------------------------------------------------------------------------
    def exact_lookup(self, key: str) -> tuple[str, str, float] | None:
        """``(entity, id, 1.0)`` for a span key equal to an alias or to its plural."""
        if key in self.aliases:
            return (*self.aliases[key], 1.0)
        if key.endswith("s") and key[:-1] in self.aliases and len(key) > 3:
            return (*self.aliases[key[:-1]], 1.0)
        # "-es" plurals only after s, x, z, ch, sh: "scares" is not a plural of "scar".
        stem = key[:-2]
        if key.endswith("es") and stem.endswith(_ES_PLURAL_STEMS) and stem in self.aliases:
            return (*self.aliases[stem], 1.0)
        return None

    def fuzzy_lookup(self, key: str) -> tuple[str, str, float] | None:
        """``(entity, id, confidence)`` for a key within a few typos of an alias."""
        if not MIN_FUZZY_LENGTH <= len(key) <= self._longest_alias + 2 or key in self.known_words:
            return None
        best: tuple[int, str] | None = None
        for variant in _deletions(key, 2 if len(key) >= 9 else 1):
            for alias in self._deletion_index.get(variant, ()):
                distance = levenshtein(key, alias)
                if distance <= max_edit_distance(alias) and (best is None or distance < best[0]):
                    best = (distance, alias)
        if best is None:
            return None
        distance, alias = best
        return (*self.aliases[alias], round(1.0 - distance / len(alias), 3))

    def __call__(self, doc: Doc) -> Doc:
        exact = self._match(doc, fuzzy=False)
        covered = {i for span in exact for i in range(span.start, span.end)}
        fuzzy = [
            span
            for span in self._match(doc, fuzzy=True)
            if not any(i in covered for i in range(span.start, span.end))
        ]
        doc.ents = self._combined(doc, filter_spans(exact + fuzzy))
        return doc

    def _combined(self, doc: Doc, spans: list[Span]) -> list[Span]:
        """ "How does microneedling work with PRP?": the parts of a combination, named
        together and not compared, become one entity for the combined treatment."""
        treatments = [s for s in spans if s.label_ == "treatment"]
        combined = combination_of([s.kb_id_ for s in treatments], doc.text, self.combinations)
        if combined is None:
            return spans
        parts = [s for s in treatments if s.kb_id_ in self.combinations[combined]]
        start, end = min(s.start for s in parts), max(s.end for s in parts)
        merged = Span(doc, start, end, label="treatment", kb_id=combined)
        merged._.alias_confidence = min(s._.alias_confidence for s in parts)
        others = [s for s in spans if s.end <= start or s.start >= end]
        return sorted([*others, merged], key=lambda s: s.start)

    def _match(self, doc: Doc, fuzzy: bool) -> list[Span]:
        spans: list[Span] = []
        # A span's key is its tokens' keys joined (what alias_key of its text gives, computed
        # once per token). It starts and ends on a word: punctuation, emoji and runs of spaces
        # add nothing to a key, and a span that began on them would claim them as the name.
        keys = [alias_key(token.text) for token in doc]
        start = 0
        while start < len(doc):
            found = None
            if keys[start]:
                longest = min(MAX_SPAN_TOKENS, len(doc) - start)
                # Fuzzy matching stays within three tokens: typos in longer phrases are rare
                # and long spans would invite false matches.
                for end in range(start + (min(longest, 3) if fuzzy else longest), start, -1):
                    if not keys[end - 1]:
                        continue
                    if (
                        fuzzy
                        and end - start > 1
                        and not self._may_be_misspelt_name(keys[start:end])
                    ):
                        continue
                    key = "".join(keys[start:end])
                    match = self.fuzzy_lookup(key) if fuzzy else self.exact_lookup(key)
                    if match is not None:
                        found = (end, match)
                        break
            if found is None:
                start += 1
                continue
            end, (entity, item_id, confidence) = found
            span = Span(doc, start, end, label=entity, kb_id=item_id)
            span._.alias_confidence = confidence
            spans.append(span)
            start = end
        return spans

    def _may_be_misspelt_name(self, words: list[str]) -> bool:
        """A phrase with an ordinary word in it ("derma pen or prp") is not one name
        (``words``: its tokens' alias keys)."""
        return not any(word in self.known_words and word not in self.alias_words for word in words)

    # -- serialisation (so the trained pipeline lives inside the Rasa model) -----------------
    def to_disk(self, path: Path, exclude: Iterable[str] = ()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(
            path / "aliases.json",
            {
                "aliases": {key: list(value) for key, value in sorted(self.aliases.items())},
                "known_words": sorted(self.known_words),
                "alias_words": sorted(self.alias_words),
                "combinations": {k: list(v) for k, v in sorted(self.combinations.items())},
            },
        )

    def from_disk(self, path: Path, exclude: Iterable[str] = ()) -> "AliasMatcher":
        data = srsly.read_json(Path(path) / "aliases.json")
        self.aliases = {key: (value[0], value[1]) for key, value in data["aliases"].items()}
        self.known_words = set(data["known_words"])
        self.alias_words = set(data["alias_words"])
        self.combinations = {k: tuple(v) for k, v in data.get("combinations", {}).items()}
        self._rebuild_index()
        return self


def entity_dicts(doc: Doc) -> list[dict]:
    """Rasa-style entity dicts (character offsets, canonical id as value) for ``doc.ents``."""
    return [
        {
            "entity": span.label_,
            "value": span.kb_id_,
            "start": span.start_char,
            "end": span.end_char,
            "confidence_entity": span._.alias_confidence,
        }
        for span in doc.ents
    ]
