"""Composing patient answers from the knowledge and the clinic settings.

Plain functions over :class:`Knowledge` and :class:`ClinicSettings` (no Rasa types), so the
wording rules live in one place: every answer about a treatment carries that treatment's
notice (e.g. exosomes are donor-derived), cost answers add the clinic's own prices, and
every answer lists the seed files that support it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clinic.knowledge import Knowledge, Treatment
from clinic.settings import ClinicSettings


@dataclass(frozen=True)
class ComposedAnswer:
    texts: tuple[str, ...]  # one chat message each
    treatments: tuple[str, ...]
    sources: tuple[str, ...]
    concern: str | None = None


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """``values`` without repeats, in their first order."""
    return tuple(dict.fromkeys(values))


def price_sentence(settings: ClinicSettings, treatment: Treatment) -> str:
    price = settings.prices[treatment.id]
    return (
        f"At {settings.name}, {treatment.name} is {settings.format_money(price.per_session)} "
        f"per session, or {settings.format_money(price.per_course)} for a course of "
        f"{price.course_sessions} sessions."
    )


def _notices(treatments: Sequence[Treatment]) -> tuple[list[str], list[str]]:
    texts, sources = [], []
    for treatment in treatments:
        if treatment.notice is not None and treatment.notice.text not in texts:
            texts.append(treatment.notice.text)
            sources.extend(treatment.notice.sources)
    return texts, sources


def defers_to_consultation(texts: Sequence[str]) -> bool:
    """Whether an answer leaves something to the consultation (then booking is offered)."""
    return any("consultation" in text.lower() for text in texts)


def topic_answer(
    knowledge: Knowledge,
    settings: ClinicSettings,
    topic: str,
    treatment_ids: Sequence[str],
) -> ComposedAnswer:
    """The answer on ``topic`` for each treatment (one message per treatment)."""
    treatments = [knowledge.treatments[treatment_id] for treatment_id in treatment_ids]
    texts, sources = [], []
    for treatment in treatments:
        answer = treatment.answers[topic]
        # The price first; the knowledge file's cost answer then says it is confirmed at the
        # consultation (once).
        parts = (
            [price_sentence(settings, treatment), answer.text] if topic == "cost" else [answer.text]
        )
        notice_texts, notice_sources = _notices([treatment])
        parts.extend(notice_texts)
        text = " ".join(parts)
        texts.append(f"{treatment.name}: {text}" if len(treatments) > 1 else text)
        sources.extend([*answer.sources, *notice_sources])
    return ComposedAnswer(tuple(texts), tuple(treatment_ids), unique(sources))


def comparison_answer(knowledge: Knowledge, treatment_ids: Sequence[str]) -> ComposedAnswer:
    """Two or more treatments side by side.

    Pairs the sources compare directly have their own text in the knowledge file; any other
    combination puts each treatment's own comparison summary next to the others'.
    """
    treatments = [knowledge.treatments[treatment_id] for treatment_id in treatment_ids]
    explicit = knowledge.comparison_for(treatment_ids)
    if explicit is not None:
        texts, sources = [explicit.text], list(explicit.sources)
    else:
        names = ", ".join(t.name for t in treatments[:-1]) + f" and {treatments[-1].name}"
        texts = [f"Here is how {names} compare:"]
        sources = []
        for treatment in treatments:
            summary = treatment.answers["comparison"]
            texts.append(f"{treatment.name}: {summary.text}")
            sources.extend(summary.sources)
    notice_texts, notice_sources = _notices(treatments)
    # Notices and the closing line in one message: no more messages than treatments + 1.
    texts.append(
        " ".join([*notice_texts, "Which one suits you best is decided with you at a consultation."])
    )
    return ComposedAnswer(tuple(texts), tuple(treatment_ids), unique([*sources, *notice_sources]))


def concern_answer(knowledge: Knowledge, concern_id: str) -> ComposedAnswer:
    """Which treatments address a concern, recommended ones first."""
    concern = knowledge.concerns[concern_id]
    return ComposedAnswer(
        texts=(concern.text,),
        treatments=concern.treatments,
        sources=unique(concern.sources),
        concern=concern.id,
    )


def treatment_list(knowledge: Knowledge) -> str:
    """ "Mesotherapy, PRP, ... and Exosomes", for replies that say what we can help with."""
    names = [treatment.name for treatment in knowledge.treatments.values()]
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]


def what_i_can_help_with(knowledge: Knowledge) -> str:
    return (
        f"I can answer questions about our treatments ({treatment_list(knowledge)}): "
        "what they involve, recovery, sessions, side effects, results and cost, and about "
        "the clinic's hours, location and bookings."
    )


def not_offered_text(
    knowledge: Knowledge, settings: ClinicSettings, procedure_ids: Sequence[str]
) -> str:
    """ "We don't offer botox here", plus what we can help with."""
    names = " or ".join(knowledge.not_offered[p].name for p in procedure_ids)
    return (
        f"{settings.name} doesn't offer {names}, so I can't advise on it. "
        + what_i_can_help_with(knowledge)
    )


def out_of_scope_text(knowledge: Knowledge) -> str:
    return (
        "Sorry, that's outside what I can help with. I can't give general medical "
        "advice or medication doses: please ask your doctor or pharmacist for those. "
        + what_i_can_help_with(knowledge)
    )
