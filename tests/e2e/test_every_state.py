"""Every intent from every dialogue state, against the real servers: one reply per turn.

Generated, not hand-picked: each intent of the domain is sent as its button payload
(``/intent``) and as two typical texts (the first two training examples), after each of the
states below, in a fresh conversation each time. For every turn: exactly one reply payload;
at least one text; no text twice; no more texts than the reply type needs; and, for the
whole walk, no ``Circuit breaker`` in the Rasa log. The report (states x intents checked,
and every broken turn) is written to ``results/every_state.txt``.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from actions.booking_actions import FORM_QUESTIONS
from clinic.contract import REPLY_KEY
from clinic.paths import PROJECT_ROOT
from scripts.servers import RunningAssistant, running_assistant

REPORT = PROJECT_ROOT / "results" / "every_state.txt"
# The messages that lead to each state, from a fresh conversation.
STATES: dict[str, list[str]] = {
    "fresh": [],
    "after an answer": ["what is prp"],
    "after a clarification": ["how much does it cost?"],
    "after a fallback": ["blorp fizzle wug"],
    "booking form: name asked": ["I'd like to book a consultation"],
    "booking form: contact asked": ["I'd like to book a consultation", "Sam"],
    "booking form: treatment asked": ["I'd like to book a consultation", "Sam", "07700 900123"],
    "booking form: time asked": [
        "I'd like to book a consultation about prp", "Sam", "07700 900123",
    ],
    "booking form: consent asked": [
        "I'd like to book a consultation about prp", "Sam", "07700 900123", "weekday mornings",
    ],
    "after the form ended": [
        "I'd like to book a consultation about prp", "Sam", "07700 900123", "weekday mornings",
        "/affirm",
    ],
    "after the form was stopped": ["I'd like to book a consultation", "stop"],
    "after an urgent reply": ["I had prp yesterday and now I have a fever"],
}  # fmt: skip
# The most texts a reply of each type needs in one turn (e.g. urgent: the advice and the
# call-back question; booking: what was understood and the next question).
MAX_TEXTS = {
    "answer": 2,
    "clarify": 1,
    "booking": 2,
    "handoff": 2,
    "urgent": 2,
    "clinic_info": 1,
    "out_of_scope": 1,
    "fallback": 2,
    "smalltalk": 1,
}
TEXTS_PER_INTENT = 2
WALKERS = 4  # conversations walked at once


@dataclass(frozen=True)
class Turn:
    state: str
    intent: str
    message: str
    texts: tuple[str, ...]
    replies: tuple[dict, ...]

    def problems(self) -> list[str]:
        found = []
        if len(self.replies) != 1:
            found.append(f"{len(self.replies)} reply payloads")
        if not self.texts:
            found.append("no text")
        repeated = [text for text, count in Counter(self.texts).items() if count > 1]
        if repeated:
            found.append(f"text sent {Counter(self.texts)[repeated[0]]} times: {repeated[0]!r}")
        if len(self.replies) == 1:
            reply = self.replies[0]
            kind = reply.get("type")
            limit = MAX_TEXTS.get(kind, 1)
            if kind == "answer":  # side by side: one message per treatment, then one more
                limit = max(limit, len(reply.get("treatments") or []) + 1)
            if self.texts[-1:] and self.texts[-1] in FORM_QUESTIONS.values() and kind not in (
                "booking", "handoff",
            ):  # fmt: skip
                limit += 1  # answered inside the form, which then asks its question again
            if len(self.texts) > limit:
                found.append(f"{len(self.texts)} texts for a {kind} reply")
        return found


@cache  # reading data/nlu takes seconds, and the walk asks once per state
def probes() -> dict[str, list[str]]:
    """Each intent of the domain: its payload and its first training examples."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    examples: dict[str, list[str]] = defaultdict(list)
    for example in load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples:
        examples[example.get("intent")].append(example.get("text"))
    return {
        intent: [f"/{intent}", *examples[intent][:TEXTS_PER_INTENT]] for intent in domain["intents"]
    }


def _turn(assistant: RunningAssistant, state: str, intent: str, message: str) -> Turn:
    sender = uuid.uuid4().hex
    for earlier in STATES[state]:
        assistant.send(earlier, sender)
    messages = assistant.send(message, sender)
    return Turn(
        state,
        intent,
        message,
        tuple(m["text"] for m in messages if m.get("text")),
        tuple(m["custom"][REPLY_KEY] for m in messages if REPLY_KEY in (m.get("custom") or {})),
    )


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    with running_assistant(trained_model, tmp_path_factory.mktemp("walk")) as running:
        yield running


@pytest.fixture(scope="module")
def walk(assistant) -> list[Turn]:
    probes_in_order = [
        (state, intent, message)
        for state in STATES
        for intent, messages in probes().items()
        for message in messages
    ]
    # Each probe is its own conversation: a few at once keep both cores busy (the servers
    # answer while the next request is being written), in the same order in the report.
    with ThreadPoolExecutor(max_workers=WALKERS) as walkers:
        turns = list(walkers.map(lambda probe: _turn(assistant, *probe), probes_in_order))
    broken = [(turn, turn.problems()) for turn in turns if turn.problems()]
    lines = [
        f"{len(STATES)} states x {len(probes())} intents x {TEXTS_PER_INTENT + 1} messages "
        f"= {len(turns)} turns checked; {len(broken)} broken",
        "",
        "states: " + "; ".join(STATES),
        "intents: " + ", ".join(probes()),
        "",
        *(
            f"BROKEN [{t.state}] {t.intent} {t.message!r}: {'; '.join(p)} -> {list(t.texts)}"
            for t, p in broken
        ),
    ]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    return turns


def test_the_walk_covers_every_state_and_intent(walk: list[Turn]) -> None:
    covered = {(turn.state, turn.intent) for turn in walk}
    assert covered == {(state, intent) for state in STATES for intent in probes()}


def test_every_turn_gets_exactly_one_polite_reply(walk: list[Turn]) -> None:
    broken = [
        f"[{t.state}] {t.message!r}: {'; '.join(t.problems())} -> {list(t.texts)}"
        for t in walk
        if t.problems()
    ]
    assert not broken, f"{len(broken)} of {len(walk)} turns broken:\n" + "\n".join(broken[:40])


def test_no_circuit_breaker_in_the_rasa_log(walk: list[Turn], assistant) -> None:
    log = (assistant.work_dir / "rasa-server.log").read_text()
    assert "Circuit breaker" not in log
