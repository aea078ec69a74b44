"""Intent names shared by the NLU data, the domain and the actions."""

from __future__ import annotations

from typing import Any

from actions.knowledge import TOPICS

COMPARE_TREATMENTS = "compare_treatments"
ASK_CONCERN = "ask_concern"
INFORM_TREATMENT = "inform_treatment"

# "ask_recovery_time" asks the topic "recovery_time", and so on for every plain topic.
TOPIC_BY_INTENT: dict[str, str] = {
    **{f"ask_{topic}": topic for topic in TOPICS if topic not in ("comparison", "concern")},
    COMPARE_TREATMENTS: "comparison",
    ASK_CONCERN: "concern",
}
INTENT_BY_TOPIC: dict[str, str] = {topic: intent for intent, topic in TOPIC_BY_INTENT.items()}

# What the fallback may suggest besides treatment topics, with the labels patients see.
CLINIC_INTENT_LABELS: dict[str, str] = {
    "ask_opening_hours": "Opening hours",
    "ask_location": "Where we are",
    "ask_contact": "Phone and email",
    "request_booking": "Book a consultation",
    "request_human": "Talk to a person",
}


def intent_name(message: dict[str, Any]) -> str | None:
    """The intent of a parsed message (``tracker.latest_message``), if it has one."""
    return (message.get("intent") or {}).get("name")
