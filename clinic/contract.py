"""The reply contract and the names every layer shares: reply types, topic ids, intents.

Every bot turn carries ``{"reply": {...}}`` as a custom payload. The widget, the messaging
channels, analytics and the tests read it instead of parsing text. On the REST channel it
arrives as ``{"custom": {"reply": {...}}}``. Fields (see README):

- ``type``: one of :data:`REPLY_TYPES`;
- for ``answer``: ``topic`` (one of :data:`TOPICS`), ``treatments`` (ids), ``concern``
  (concern answers only), ``sources`` (seed file names) and ``confidence`` (the intent
  confidence);
- for ``urgent`` advice (the action server's, and the Rasa server's own when the action
  server is down or the message is too long): ``call``, the numbers the advice says to call
  now, in its order, as ``[{"label": "Call 999", "number": "999", "kind": "emergency"},
  {"label": "Call the clinic", "number": "+44 20 7946 0000", "kind": "clinic"}]`` (``kind``:
  ``emergency``, ``clinic``, ``out_of_hours`` or ``non_emergency``; see
  ``clinic.urgent_advice.urgent_calls``). The widget shows them as tap-to-call buttons. The
  call-back steps that follow (``step`` set) carry no ``call``.
"""

from __future__ import annotations

REPLY_KEY = "reply"
REPLY_TYPES = (
    "answer",
    "clarify",
    "booking",
    "handoff",
    "urgent",
    "clinic_info",
    "out_of_scope",
    "fallback",
    "smalltalk",
)

# Topic ids are part of the reply contract; the labels are what patients see on buttons.
TOPICS: dict[str, str] = {
    "overview": "What it is",
    "how_it_works": "How it works",
    "benefits": "Benefits",
    "recovery_time": "Recovery time",
    "sessions": "Number of sessions",
    "side_effects": "Side effects",
    "cost": "Cost",
    "results_onset": "When results show",
    "results_duration": "How long results last",
    "candidacy": "Who it suits",
    "preparation": "How to prepare",
    "aftercare": "Aftercare",
    "pain": "Does it hurt?",
    "procedure_duration": "Appointment length",
    "comparison": "Compare treatments",
    "concern": "Treatments for a concern",
}


# Decided by the NLU pipeline's checks, not by the intent classifier alone
# (clinic_nlu/red_flag_check.py, clinic_nlu/medication_check.py), and read by the actions.
REPORT_COMPLICATION = "report_complication"
OUT_OF_SCOPE = "out_of_scope"
TRIAGE_KEY = "triage"  # on a report_complication message: clinic.complication_screen.Triage
MEDICATION_KEY = "medication"  # on an out_of_scope message: a medicine question was declined

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

# A patient message named after the REST request's X-Request-ID gets this id prefix
# (channels.rest); serving.replay answers a retried request from the stored turn by it.
REQUEST_ID_PREFIX = "req-"

# `make run`, the tests and the benchmarks send this sender "hello" to know that the model is
# loaded; the report leaves its conversation out (stored as ``rest:readiness-check``).
READINESS_SENDER = "readiness-check"
