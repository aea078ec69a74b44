"""The treatment knowledge file: the single source of truth for treatments, aliases and answers.

``knowledge/treatments.yml`` is edited by the clinic. It is validated here when the action
server starts (and by ``make validate``), so a mistake stops the server with
``file:line: field: problem`` instead of surfacing at a patient's first question.

While a server runs, :func:`get_knowledge` returns the file as it is now: an edit is read
again within a second, validated first, and an invalid edit is logged (file, line, field)
while the last good version keeps serving. Files validated against the knowledge (the
clinic settings: a price per treatment) are reloaded together with it, so the two always
agree.

Run ``python -m clinic.check`` to check the knowledge and clinic settings files.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from clinic.contract import TOPICS
from clinic.paths import KNOWLEDGE_FILE_NAME, knowledge_dir
from clinic.yaml_source import KnowledgeError, Node, display_path, load_yaml

logger = logging.getLogger(__name__)

_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def alias_key(text: str) -> str:
    """The form aliases are compared in: lower case, letters and digits only.

    "P.R.P.", "micro needling" and "platelet-rich-plasma" become "prp", "microneedling"
    and "plateletrichplasma", so spacing and punctuation never decide a match.
    """
    return _NON_ALNUM.sub("", text.lower())


@dataclass(frozen=True)
class Answer:
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Treatment:
    id: str
    name: str
    aliases: tuple[str, ...]
    answers: dict[str, Answer]
    notice: Answer | None = None
    # For a treatment that is two others done together (microneedling with PRP): their ids.
    # Both named in one message, not compared, mean this treatment.
    combines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    treatments: tuple[str, ...]
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Concern:
    id: str
    name: str
    aliases: tuple[str, ...]
    treatments: tuple[str, ...]
    text: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class OtherProcedure:
    """A procedure patients ask about that the clinic does not offer (botox, surgery...)."""

    id: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Knowledge:
    path: Path
    sources: dict[str, str]  # seed file name -> title (for the team)
    display_titles: dict[str, str]  # seed file name -> the title patients see
    treatments: dict[str, Treatment]
    comparisons: tuple[Comparison, ...]
    concerns: dict[str, Concern]
    not_offered: dict[str, OtherProcedure]
    _comparison_index: dict[frozenset[str], Comparison] = field(
        default_factory=dict, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for comparison in self.comparisons:
            self._comparison_index[frozenset(comparison.treatments)] = comparison

    def comparison_for(self, treatment_ids: Iterable[str]) -> Comparison | None:
        """The explicit comparison written for exactly these treatments, if there is one."""
        return self._comparison_index.get(frozenset(treatment_ids))

    def combinations(self) -> dict[str, tuple[str, ...]]:
        """Combined treatment id -> the ids it combines."""
        return {t.id: t.combines for t in self.treatments.values() if t.combines}

    def model_inputs(self) -> str:
        """What of the knowledge the trained model depends on (the recogniser's names and
        combinations), as canonical JSON: answers, notices, prices and sources are read at
        run time, so editing them changes nothing here and needs no retraining."""
        return json.dumps(
            {"aliases": sorted(self.alias_entries()), "combinations": self.combinations()},
            sort_keys=True,
            indent=1,
        )

    def alias_entries(self) -> list[tuple[str, str, str]]:
        """``(entity, id, alias)`` for every name the recogniser should know, names included."""
        entries: list[tuple[str, str, str]] = []
        groups: Sequence[tuple[str, Iterable]] = (
            ("treatment", self.treatments.values()),
            ("concern", self.concerns.values()),
            ("other_procedure", self.not_offered.values()),
        )
        for entity, items in groups:
            for item in items:
                for alias in (item.name, item.id.replace("_", " "), *item.aliases):
                    entries.append((entity, item.id, alias))
        return entries


# A message naming the parts of a combination compares them rather than asks about the
# combination when it says so: "microneedling or PRP?", "microneedling vs PRP".
COMPARISON_CUES = re.compile(
    r"\b(?:vs|versus|or|compare\w*|difference|differ\w*|better|than|between|instead|"
    r"rather|alternative)\b",
    re.IGNORECASE,
)


def combination_of(
    found: Sequence[str], text: str, combinations: dict[str, tuple[str, ...]]
) -> str | None:
    """The combined treatment meant when all its parts are named and not compared."""
    if COMPARISON_CUES.search(text):
        return None
    for combined, parts in combinations.items():
        if combined not in found and set(parts) <= set(found):
            return combined
    return None


def _answer(
    node: Node, known_sources: dict[str, str], other_fields: frozenset = frozenset()
) -> Answer:
    """``text`` + ``sources``; ``other_fields`` are the caller's own keys on the same mapping."""
    node.reject_unknown({"text", "sources", *other_fields})
    text = node.child("text").text()
    sources_node = node.child("sources")
    sources = sources_node.text_list(allow_empty=True)
    for index, source in enumerate(sources):
        if source not in known_sources:
            raise KnowledgeError(
                node.file,
                sources_node.line,
                f"{sources_node.field}[item {index + 1}]",
                f"'{source}' is not listed under 'sources:' at the top of the file",
            )
    if not sources and "consultation" not in text.lower():
        # No seed supports it, so it must defer to the clinic instead of stating facts.
        raise sources_node.error(
            "an answer with no sources must say the clinic confirms it at consultation"
        )
    return Answer(text=text, sources=sources)


def _identifier(node: Node) -> str:
    value = node.text()
    if not _ID_PATTERN.match(value):
        raise node.error(f"'{value}' must be lower_snake_case (letters, digits, underscores)")
    return value


def _treatment(node: Node, known_sources: dict[str, str]) -> Treatment:
    node.reject_unknown({"id", "name", "aliases", "notice", "answers", "combines"})
    answers_node = node.child("answers")
    answers_node.reject_unknown(set(TOPICS))
    answers = {}
    for topic in TOPICS:
        answers[topic] = _answer(answers_node.child(topic), known_sources)
    notice_node = node.child("notice", required=False)
    combines_node = node.child("combines", required=False)
    return Treatment(
        id=_identifier(node.child("id")),
        name=node.child("name").text(),
        aliases=node.child("aliases").text_list(),
        answers=answers,
        notice=_answer(notice_node, known_sources) if notice_node is not None else None,
        combines=combines_node.text_list() if combines_node is not None else (),
    )


# Words about how a document was made, for the team: never in a title patients see.
_NOT_FOR_PATIENTS = re.compile(r"paraphras", re.IGNORECASE)


def _sources(node: Node) -> tuple[dict[str, str], dict[str, str]]:
    """Each seed file's ``title`` and ``display_title`` (the one patients see under answers;
    the title when there is none). A title that says the document was paraphrased needs a
    display title that does not."""
    titles, display_titles = {}, {}
    for name, source_node in node.items():
        source_node.reject_unknown({"title", "display_title"})
        title_node = source_node.child("title")
        display_node = source_node.child("display_title", required=False)
        titles[name] = title_node.text()
        display_titles[name] = titles[name] if display_node is None else display_node.text()
        if _NOT_FOR_PATIENTS.search(display_titles[name]):
            if display_node is None:
                raise title_node.error(
                    "says how the document was made: add a display_title for patients"
                )
            raise display_node.error("is shown to patients: leave out how the document was made")
    return titles, display_titles


def _check_references(node: Node, ids: Sequence[str], treatments: dict[str, Treatment]) -> None:
    for index, treatment_id in enumerate(ids):
        if treatment_id not in treatments:
            raise KnowledgeError(
                node.file,
                node.line,
                f"{node.field}[item {index + 1}]",
                f"unknown treatment '{treatment_id}' (known: {', '.join(treatments)})",
            )


def parse_knowledge(path: Path) -> Knowledge:
    """Load and validate a knowledge file; raises :class:`KnowledgeError` on any problem."""
    root = load_yaml(path)
    root.reject_unknown(
        {"version", "sources", "treatments", "comparisons", "concerns", "not_offered"}
    )
    if root.child("version").value != 1:
        raise root.child("version").error("unsupported version (this assistant reads version 1)")

    sources, display_titles = _sources(root.child("sources"))

    treatment_nodes = list(root.child("treatments").elements())
    treatments: dict[str, Treatment] = {}
    for node in treatment_nodes:
        treatment = _treatment(node, sources)
        if treatment.id in treatments:
            raise node.child("id").error(f"duplicate treatment id '{treatment.id}'")
        treatments[treatment.id] = treatment
    for node in treatment_nodes:
        if node.has("combines"):
            combines_node = node.child("combines")
            ids = combines_node.text_list()
            _check_references(combines_node, ids, treatments)
            if len(set(ids)) < 2 or node.child("id").value in ids:
                raise combines_node.error("must name at least two other treatments")

    comparisons = []
    first_line: dict[frozenset[str], int] = {}
    for node in root.child("comparisons").elements() if root.has("comparisons") else ():
        ids_node = node.child("treatments")
        ids = ids_node.text_list()
        _check_references(ids_node, ids, treatments)
        if len(set(ids)) < 2:
            raise ids_node.error("a comparison needs at least two different treatments")
        if frozenset(ids) in first_line:
            raise ids_node.error(
                f"these treatments are already compared at line {first_line[frozenset(ids)]}"
            )
        first_line[frozenset(ids)] = ids_node.line
        answer = _answer(node, sources, frozenset({"treatments"}))
        comparisons.append(Comparison(tuple(ids), answer.text, answer.sources))

    concerns: dict[str, Concern] = {}
    for node in root.child("concerns").elements():
        concern_id = _identifier(node.child("id"))
        if concern_id in concerns:
            raise node.child("id").error(f"duplicate concern id '{concern_id}'")
        ids_node = node.child("treatments")
        ids = ids_node.text_list()
        _check_references(ids_node, ids, treatments)
        answer = _answer(node, sources, frozenset({"id", "name", "aliases", "treatments"}))
        concerns[concern_id] = Concern(
            id=concern_id,
            name=node.child("name").text(),
            aliases=node.child("aliases").text_list(),
            treatments=tuple(ids),
            text=answer.text,
            sources=answer.sources,
        )

    not_offered: dict[str, OtherProcedure] = {}
    for node in root.child("not_offered").elements() if root.has("not_offered") else ():
        node.reject_unknown({"id", "name", "aliases"})
        procedure = OtherProcedure(
            id=_identifier(node.child("id")),
            name=node.child("name").text(),
            aliases=node.child("aliases").text_list(),
        )
        not_offered[procedure.id] = procedure

    knowledge = Knowledge(
        path=path,
        sources=sources,
        display_titles=display_titles,
        treatments=treatments,
        comparisons=tuple(comparisons),
        concerns=concerns,
        not_offered=not_offered,
    )
    _check_alias_collisions(root)
    return knowledge


def _check_alias_collisions(root: Node) -> None:
    """One name meaning two things would make the recogniser guess; refuse it."""
    entity_by_section = {
        "treatments": "treatment",
        "concerns": "concern",
        "not_offered": "other_procedure",
    }
    seen: dict[str, tuple[str, str, str, int]] = {}  # key -> entity, id, spelling, line
    for section, entity in entity_by_section.items():
        if not root.has(section):
            continue
        for item in root.child(section).elements():
            item_id = item.child("id").value
            names = [item.child("id"), item.child("name"), *item.child("aliases").elements()]
            for node in names:
                spelling = str(node.value).replace("_", " ")
                key = alias_key(spelling)
                if not key:
                    raise node.error(f"'{node.value}' has no letters or digits")
                previous = seen.setdefault(key, (entity, item_id, spelling, node.line))
                if previous[:2] != (entity, item_id):
                    raise node.error(
                        f"'{spelling}' names both {entity} '{item_id}' and {previous[0]} "
                        f"'{previous[1]}' (as '{previous[2]}' at line {previous[3]})"
                    )


def missing_seed_files(knowledge: Knowledge, seeds_dir: Path) -> list[str]:
    """Cited seed files that are not in ``seeds_dir`` (the source documents)."""
    return sorted(name for name in knowledge.sources if not (seeds_dir / name).is_file())


# -- the files as they are now ------------------------------------------------------------------

# How often a running process looks at the files' time stamps and sizes (a stat per file).
RELOAD_CHECK_SECONDS = 1.0

Parsed = TypeVar("Parsed")
_Stamp = tuple[int, int] | None  # (mtime in ns, size); None when the file is missing


@dataclass(frozen=True)
class DependentFile(Generic[Parsed]):
    """A clinic file validated against the knowledge (the settings need a price per
    treatment): reloaded together with the knowledge, so the two always agree."""

    file_name: str
    parse: Callable[[Path, Knowledge], Parsed]


@dataclass(frozen=True)
class _Snapshot:
    """One consistent version: the knowledge and every dependent file parsed against it."""

    knowledge: Knowledge
    dependents: dict[DependentFile[Any], Any]
    stamps: dict[str, _Stamp]  # file name -> its stamp when it was parsed


def _stamp(path: Path) -> _Stamp:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_mtime_ns, status.st_size)


class LiveKnowledge:
    """The knowledge file of one directory, and the files validated against it, as they are
    on disk now.

    Checked at most every :data:`RELOAD_CHECK_SECONDS`; a changed file is parsed and
    validated before it replaces the version in use, so an invalid edit is logged once (its
    ``file:line: field: problem``) and the last good version keeps serving. The first version
    must be valid: the constructor raises :class:`KnowledgeError` otherwise. Thread-safe: a
    version is swapped in whole, and readers never wait for a reload.
    """

    def __init__(self, directory: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.directory = directory
        self._clock = clock
        self._lock = threading.Lock()
        path = directory / KNOWLEDGE_FILE_NAME
        stamp = _stamp(path)
        knowledge = parse_knowledge(path)
        self._snapshot = _Snapshot(knowledge, {}, {KNOWLEDGE_FILE_NAME: stamp})
        # The server starts with the names its model was trained for (`make run` retrains
        # first); a reload whose names differ needs a retraining to be recognised.
        self._model_inputs = knowledge.model_inputs()
        self._failed_stamps: dict[str, _Stamp] | None = None
        self._checked_at = clock()

    def knowledge(self) -> Knowledge:
        self._refresh_if_due()
        return self._snapshot.knowledge

    def dependent(self, dependent: DependentFile[Parsed]) -> Parsed:
        """``dependent`` parsed against the knowledge in use; its first version must be valid."""
        self._refresh_if_due()
        snapshot = self._snapshot
        if dependent in snapshot.dependents:
            return snapshot.dependents[dependent]
        with self._lock:
            snapshot = self._snapshot
            if dependent not in snapshot.dependents:
                path = self.directory / dependent.file_name
                stamp = _stamp(path)
                value = dependent.parse(path, snapshot.knowledge)
                self._snapshot = _Snapshot(
                    snapshot.knowledge,
                    {**snapshot.dependents, dependent: value},
                    {**snapshot.stamps, dependent.file_name: stamp},
                )
            return self._snapshot.dependents[dependent]

    def with_dependent(self, dependent: DependentFile[Parsed]) -> tuple[Knowledge, Parsed]:
        """The knowledge and ``dependent`` from one version, for code that looks a treatment
        of one up in the other (two separate calls could straddle a reload)."""
        self.dependent(dependent)  # checks the files; registers it on first use
        snapshot = self._snapshot  # one read: a reload swaps the whole snapshot
        return snapshot.knowledge, snapshot.dependents[dependent]

    def _refresh_if_due(self) -> None:
        now = self._clock()
        if now - self._checked_at < RELOAD_CHECK_SECONDS:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is checking: serve the current version meanwhile
        try:
            self._checked_at = now
            self._refresh()
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        snapshot = self._snapshot
        stamps = {name: _stamp(self.directory / name) for name in snapshot.stamps}
        if stamps == snapshot.stamps:
            return
        changed = [self._shown(name) for name in stamps if stamps[name] != snapshot.stamps[name]]
        try:
            candidate = self._parse(snapshot, stamps)
        except KnowledgeError as error:
            self._report_failure(stamps, f"{error}")
            return
        except Exception as error:  # a bad edit must never stop the server
            self._report_failure(stamps, f"{type(error).__name__}: {error}")
            return
        self._failed_stamps = None
        self._snapshot = candidate
        logger.info("reloaded %s", " and ".join(changed))
        if candidate.knowledge.model_inputs() != self._model_inputs:
            logger.warning(
                "%s: the treatment names, aliases or combinations differ from those the model "
                "was trained with: retrain it (`make train`, or restart with `make run`) for "
                "the new names to be recognised. The answers already use the new version.",
                self._shown(KNOWLEDGE_FILE_NAME),
            )

    def _parse(self, snapshot: _Snapshot, stamps: dict[str, _Stamp]) -> _Snapshot:
        knowledge = snapshot.knowledge
        if stamps[KNOWLEDGE_FILE_NAME] != snapshot.stamps[KNOWLEDGE_FILE_NAME]:
            knowledge = parse_knowledge(self.directory / KNOWLEDGE_FILE_NAME)
        dependents: dict[DependentFile[Any], Any] = {}
        for dependent, value in snapshot.dependents.items():
            name = dependent.file_name
            if knowledge is not snapshot.knowledge or stamps[name] != snapshot.stamps[name]:
                value = dependent.parse(self.directory / name, knowledge)
            dependents[dependent] = value
        return _Snapshot(knowledge, dependents, stamps)

    def _report_failure(self, stamps: dict[str, _Stamp], problem: str) -> None:
        if stamps == self._failed_stamps:
            return  # this version was reported already
        if stamps != {name: _stamp(self.directory / name) for name in stamps}:
            return  # read while being saved: the next check reads the finished file
        self._failed_stamps = stamps
        files = " and ".join(self._shown(name) for name in stamps)
        logger.error(
            "%s -- the edit was not applied: still serving the last good version of %s",
            problem,
            files,
        )

    def _shown(self, file_name: str) -> str:
        return display_path(self.directory / file_name)


_live: dict[Path, LiveKnowledge] = {}
_live_lock = threading.Lock()


def live_knowledge(directory: Path | None = None) -> LiveKnowledge:
    """The live files of ``directory`` (default: ``$CLINIC_KNOWLEDGE_DIR`` or ``knowledge/``)."""
    directory = directory or knowledge_dir()
    live = _live.get(directory)
    if live is None:
        with _live_lock:
            live = _live.get(directory)
            if live is None:
                live = LiveKnowledge(directory)  # raises on an invalid first version
                _live[directory] = live
    return live


def get_knowledge(directory: Path | None = None) -> Knowledge:
    """The validated knowledge as the file is now (an invalid edit keeps the last good one)."""
    return live_knowledge(directory).knowledge()


def forget_loaded_files() -> None:
    """Forget every loaded version: the next call reads the files afresh, and takes the model's
    names from that version. For tests, and for code written when these were caches."""
    with _live_lock:
        _live.clear()


# ``get_knowledge`` / ``get_settings`` were ``functools.cache``d: keep ``cache_clear`` working.
get_knowledge.cache_clear = forget_loaded_files  # type: ignore[attr-defined]
