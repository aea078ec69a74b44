"""Complication triage through the trained model: all three layers, on every labelled file.

The gate of issue 8 on the whole pipeline (the rules alone are gated in tests/unit/clinic):
recall >= 0.98 on red flags and false alarms <= 5% on ordinary questions, on all labelled
files together; no emergency under-called; and the held-out NLU messages (ordinary questions
about treatments, hours and booking) are not sent to the urgent reply.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from clinic.labelled_triage import labelled_files
from scripts.triage_eval import Score, report, score_files, total

HOLDOUT = Path(__file__).resolve().parent / "holdout.yml"
MIN_RECALL = 0.98
MAX_FALSE_ALARM_RATE = 0.05
# Ordinary held-out questions that may go to the urgent reply: they describe a symptom.
MAX_HOLDOUT_ALARMS = 0.02


@pytest.fixture(scope="module")
def scores(trained_model: Path) -> list[Score]:
    return score_files(trained_model, labelled_files())


def test_recall_and_false_alarms_on_all_labelled_files(scores: list[Score]) -> None:
    everything = total(scores)
    assert everything.recall >= MIN_RECALL, report(scores, verbose=True)
    assert everything.false_alarm_rate <= MAX_FALSE_ALARM_RATE, report(scores, verbose=True)


def test_no_emergency_is_under_called(scores: list[Score]) -> None:
    under = [o.message.text for o in total(scores).under_called]
    assert not under, "\n".join(under)


def test_every_catch_names_its_layer(scores: list[Score]) -> None:
    flagged = [o for o in total(scores).outcomes if o.flagged]
    assert flagged and all(o.layer in ("rules", "classifier", "symptom_screen") for o in flagged)


def test_ordinary_held_out_questions_are_not_triaged(trained_model: Path) -> None:
    from rasa.core.agent import Agent

    from clinic.labelled_triage import LabelledMessage
    from scripts.triage_eval import triage_messages

    examples = [
        e
        for e in load_data(str(HOLDOUT)).intent_examples
        if e.get("intent") != "report_complication"
    ]
    messages = [LabelledMessage(e.get("text"), False, None, False, "holdout") for e in examples]
    outcomes = triage_messages(Agent.load(str(trained_model)), messages)
    alarms = [o.message.text for o in outcomes if o.flagged]
    assert len(alarms) / len(outcomes) <= MAX_HOLDOUT_ALARMS, "\n".join(alarms)
