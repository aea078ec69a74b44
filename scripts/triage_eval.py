"""Score the complication triage of the trained model on labelled triage files, by layer.

Every message goes through the real NLU pipeline (``Agent.parse_message``), so all three
layers run as they do for patients (``clinic/complication_screen.py``). For each file:
recall on red flags, false alarms on ordinary questions, emergencies under-called, and which
layer caught each message. Used by ``tests/nlu/test_triage.py`` (the gate) and by
``make triage-report`` (e.g. ``FILE=path/to/fresh_batch.yml`` to score a new batch before
its errors are read).
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rasa.core.agent import Agent

from clinic.contract import REPORT_COMPLICATION, TRIAGE_KEY
from clinic.labelled_triage import LabelledMessage, labelled_files, load_labelled_file
from clinic.paths import MODELS_DIR


@dataclass(frozen=True)
class Outcome:
    message: LabelledMessage
    flagged: bool
    layer: str | None
    sign: str | None
    emergency: bool


@dataclass
class Score:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def red_flags(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.message.red_flag]

    @property
    def ordinary(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.message.red_flag]

    @property
    def misses(self) -> list[Outcome]:
        return [o for o in self.red_flags if not o.flagged]

    @property
    def false_alarms(self) -> list[Outcome]:
        return [o for o in self.ordinary if o.flagged]

    @property
    def recall(self) -> float:
        return 1 - len(self.misses) / len(self.red_flags) if self.red_flags else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / len(self.ordinary) if self.ordinary else 0.0

    @property
    def under_called(self) -> list[Outcome]:
        """Emergencies that were caught but not told to call the emergency number."""
        return [o for o in self.red_flags if o.flagged and o.message.emergency and not o.emergency]

    def by_layer(self, outcomes: list[Outcome]) -> Counter:
        return Counter(o.layer for o in outcomes if o.flagged)


def triage_messages(agent: Agent, messages: list[LabelledMessage]) -> list[Outcome]:
    async def parse_all() -> list[dict]:
        return [await agent.parse_message(message.text) for message in messages]

    outcomes = []
    for message, parsed in zip(messages, asyncio.run(parse_all()), strict=True):
        triage = parsed.get(TRIAGE_KEY) or {}
        flagged = (parsed.get("intent") or {}).get("name") == REPORT_COMPLICATION
        outcomes.append(
            Outcome(
                message=message,
                flagged=flagged,
                layer=triage.get("layer") if flagged else None,
                sign=triage.get("sign") if flagged else None,
                emergency=bool(triage.get("emergency")) if flagged else False,
            )
        )
    return outcomes


def score_files(model: Path, files: list[Path]) -> list[Score]:
    agent = Agent.load(str(model))
    return [Score(path.name, triage_messages(agent, load_labelled_file(path))) for path in files]


def total(scores: list[Score]) -> Score:
    return Score("all files", [o for score in scores for o in score.outcomes])


def report(scores: list[Score], verbose: bool = False) -> str:
    lines = []
    for score in [*scores, total(scores)]:
        caught = score.by_layer(score.red_flags)
        alarms = score.by_layer(score.ordinary)
        lines.append(
            f"{score.name}: recall {len(score.red_flags) - len(score.misses)}/"
            f"{len(score.red_flags)} = {score.recall:.3f}; false alarms "
            f"{len(score.false_alarms)}/{len(score.ordinary)} = {score.false_alarm_rate:.3f}; "
            f"emergencies under-called {len(score.under_called)}"
        )
        lines.append(
            "  caught by layer: "
            + ", ".join(f"{layer} {count}" for layer, count in sorted(caught.items()))
            + "; false alarms by layer: "
            + (", ".join(f"{layer} {count}" for layer, count in sorted(alarms.items())) or "none")
        )
        if verbose and score.name != "all files":
            lines += [f"  MISS [{o.message.sign}] {o.message.text}" for o in score.misses]
            lines += [f"  FALSE ALARM [{o.layer}] {o.message.text}" for o in score.false_alarms]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="default: data/triage/*.yml")
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "clinic.tar.gz")
    parser.add_argument("--verbose", action="store_true", help="list misses and false alarms")
    args = parser.parse_args()
    print(report(score_files(args.model, args.files or labelled_files()), args.verbose))


if __name__ == "__main__":
    main()
