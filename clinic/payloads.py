"""Button payloads in words: ``/ask_cost{"treatment":"prp"}`` -> ``Cost · PRP (...)``.

A patient who clicks a button sends its payload (``/intent`` or ``/intent{json}``), and that
is what the conversation records. Staff reading a ticket should see what the button said,
never a payload or JSON. Tickets made before the transcript was kept hold only these raw
texts, so the inbox turns them into words here: topic labels from the reply contract
(:data:`clinic.contract.TOPICS`, :data:`clinic.contract.CLINIC_INTENT_LABELS`), treatment and
concern names from the knowledge file.
"""

from __future__ import annotations

import json
import re
from typing import Any

from clinic.contract import (
    CLINIC_INTENT_LABELS,
    COMPARE_TREATMENTS,
    INFORM_TREATMENT,
    REPORT_COMPLICATION,
    TOPIC_BY_INTENT,
    TOPICS,
)
from clinic.knowledge import Knowledge, get_knowledge

# "/intent" then optionally "{...}" (Rasa's payload syntax); intent names are identifiers.
_PAYLOAD = re.compile(r"^/(?P<intent>[A-Za-z_][\w-]*)(?P<entities>[{\[].*)?$", re.S)
# Entity values shown to staff: ids and plain words only (anything else could be JSON).
_WORDS = re.compile(r"^[\w][\w .'-]*$")
SEPARATOR = " · "

# Intents a button can carry besides the topics and the clinic's own (CLINIC_INTENT_LABELS).
OTHER_INTENT_LABELS: dict[str, str] = {
    "affirm": "Yes",
    "deny": "No",
    "stop": "Stop",
    "greet": "Hello",
    "goodbye": "Goodbye",
    "thank": "Thank you",
    "bot_challenge": "Am I talking to a bot?",
    "give_phone": "My phone number",
    "out_of_scope": "Something else",
    REPORT_COMPLICATION: "Report a problem",
    INFORM_TREATMENT: "Treatment",
}


def is_payload(text: str) -> bool:
    """Whether ``text`` is a button payload rather than something the patient typed."""
    return bool(_PAYLOAD.match(text.strip()))


def _humanised(identifier: str) -> str:
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def intent_label(intent: str) -> str:
    """What a button for ``intent`` says: a topic label, a clinic label, or the name in words."""
    if intent in TOPIC_BY_INTENT:
        return TOPICS[TOPIC_BY_INTENT[intent]]
    if intent in CLINIC_INTENT_LABELS:
        return CLINIC_INTENT_LABELS[intent]
    return OTHER_INTENT_LABELS.get(intent) or _humanised(intent)


def _entity_names(entity: str, value: Any, knowledge: Knowledge) -> list[str]:
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values:
        text = str(item)
        if isinstance(item, (dict, list)) or item is None or not _WORDS.match(text):
            continue  # nothing a person would read; never show JSON
        if entity == "treatment" and text in knowledge.treatments:
            names.append(knowledge.treatments[text].name)
        elif entity == "concern" and text in knowledge.concerns:
            names.append(knowledge.concerns[text].name)
        elif entity == "treatment" and text in knowledge.not_offered:
            names.append(knowledge.not_offered[text].name)
        else:
            names.append(_humanised(text))
    return names


def payload_words(text: str, knowledge: Knowledge | None = None) -> str:
    """``text`` itself, or for a payload what its button would say: the topic or action,
    then the treatments or concern it names (``Cost · PRP (platelet-rich plasma)``,
    ``Compare treatments · PRP (...) vs Exosomes``). Malformed entities are left out."""
    match = _PAYLOAD.match(text.strip())
    if match is None:
        return text
    knowledge = knowledge or get_knowledge()
    intent = match.group("intent")
    entities: dict[str, Any] = {}
    if match.group("entities"):
        try:
            parsed = json.loads(match.group("entities"))
        except ValueError:
            parsed = {}
        entities = parsed if isinstance(parsed, dict) else {}
    joiner = " vs " if intent == COMPARE_TREATMENTS else ", "
    named = [
        joiner.join(names)
        for entity, value in entities.items()
        if (names := _entity_names(str(entity), value, knowledge))
    ]
    if intent == INFORM_TREATMENT and named:
        return SEPARATOR.join(named)  # the button said just the treatment's name
    return SEPARATOR.join([intent_label(intent), *named])


def treatment_name(treatment_id: str, knowledge: Knowledge | None = None) -> str:
    """The knowledge file's name for a treatment id (or a procedure not offered); an id it
    does not know (renamed since the ticket was made) in words, never as the raw id."""
    knowledge = knowledge or get_knowledge()
    if treatment_id in knowledge.treatments:
        return knowledge.treatments[treatment_id].name
    if treatment_id in knowledge.not_offered:
        return knowledge.not_offered[treatment_id].name
    return _humanised(treatment_id)
