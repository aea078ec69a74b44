"""Replies for questions outside what the assistant answers."""

from __future__ import annotations

from collections.abc import Sequence

from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.answering import treatment_list
from actions.clinic_settings import get_settings
from actions.knowledge import get_knowledge
from actions.reply import send_reply


def what_i_can_help_with() -> str:
    return (
        f"I can answer questions about our treatments ({treatment_list(get_knowledge())}): "
        "what they involve, recovery, sessions, side effects, results and cost, and about "
        "the clinic's hours, location and bookings."
    )


def not_offered_reply(
    dispatcher: CollectingDispatcher, procedure_ids: Sequence[str]
) -> list[EventType]:
    """ "We don't offer botox here", plus what we can help with."""
    knowledge, settings = get_knowledge(), get_settings()
    names = " or ".join(knowledge.not_offered[p].name for p in procedure_ids)
    send_reply(
        dispatcher,
        "out_of_scope",
        [
            f"{settings.name} doesn't offer {names}, so I can't advise on it. "
            + what_i_can_help_with()
        ],
        not_offered=list(procedure_ids),
    )
    return []


def out_of_scope_reply(dispatcher: CollectingDispatcher) -> list[EventType]:
    send_reply(
        dispatcher,
        "out_of_scope",
        [
            "Sorry, that's outside what I can help with. I can't give general medical "
            "advice or medication doses: please ask your doctor or pharmacist for those. "
            + what_i_can_help_with()
        ],
    )
    return []
