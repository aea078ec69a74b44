"""Adapting replies to messaging channels: numbered options, length limits, the contract.

SMS and WhatsApp (through Twilio) cannot show buttons, so buttons become numbered options
("Reply with a number") and an answer of "2" picks option 2, read back from the conversation's
last reply in the tracker store (so it works on any Rasa server, and after a restart). Every
channel caps a message's length; long answers are split at sentence boundaries under that
cap. The reply contract (``{"reply": {...}}``) is metadata for the widget and analytics, never
texted to a patient.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.contract import REPLY_KEY

# Characters per message.
CHANNEL_LIMITS: dict[str, int] = {
    "sms": 1600,
    "whatsapp": 4096,
    "telegram": 4096,
    "facebook": 2000,
}

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_OPTION_ANSWER = re.compile(r"^\s*(?:option\s*)?#?(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def split_message(text: str, limit: int) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` characters, at sentence ends if possible.

    Paragraph breaks are kept inside a part; a single sentence longer than the limit is cut
    at the last space before it (or hard, for a word longer than the limit).
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(text):
        for piece in _cut(sentence, limit):
            candidate = f"{current} {piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current)
                current = piece
    if current:
        parts.append(current)
    return parts


def message_parts(text: str, limit: int) -> list[str]:
    """The messages to send for ``text``: each paragraph on its own (as Rasa's connectors
    send them), split under ``limit``."""
    return [
        part for paragraph in text.strip().split("\n\n") for part in split_message(paragraph, limit)
    ]


def is_reply_contract(json_message: Any) -> bool:
    """Whether a custom payload is the reply contract rather than a channel message."""
    return isinstance(json_message, dict) and REPLY_KEY in json_message


class DropsReplyContract:
    """Mixin for a Rasa output channel: the reply contract is not sent to the patient;
    any other custom payload goes through the channel as usual."""

    async def send_custom_json(self, recipient_id: str, json_message: Any, **kwargs: Any) -> None:
        if is_reply_contract(json_message):
            return
        await super().send_custom_json(recipient_id, json_message, **kwargs)  # type: ignore[misc]


def _cut(sentence: str, limit: int) -> list[str]:
    pieces = []
    while len(sentence) > limit:
        cut = sentence.rfind(" ", 0, limit + 1)
        cut = cut if cut > 0 else limit
        pieces.append(sentence[:cut].rstrip())
        sentence = sentence[cut:].lstrip()
    return [*pieces, sentence] if sentence else pieces


def numbered_options(text: str, buttons: list[dict]) -> str:
    """The message text followed by the buttons as a numbered list."""
    lines = [text.strip(), ""] if text.strip() else []
    lines += [f"{index}. {button['title']}" for index, button in enumerate(buttons, start=1)]
    lines += ["", "Reply with a number."]
    return "\n".join(lines)


def chosen_option(text: str, option_count: int) -> int | None:
    """The 0-based option a reply such as "2", "2." or "option 2" picks, if it picks one."""
    match = _OPTION_ANSWER.match(text or "")
    if not match:
        return None
    number = int(match.group(1))
    return number - 1 if 1 <= number <= option_count else None


def last_offered_buttons(tracker: DialogueStateTracker | None) -> list[dict]:
    """The buttons of the conversation's last reply, if the patient has not written since."""
    if tracker is None:
        return []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return []
        if isinstance(event, BotUttered) and (event.data or {}).get("buttons"):
            return list(event.data["buttons"])
    return []


async def resolve_numbered_option(
    tracker_store: TrackerStore, conversation_id: str, text: str
) -> str:
    """The payload of the option a reply such as "2" picks among the buttons the conversation
    last offered as numbers, else ``text`` unchanged.

    The buttons are read from the conversation itself (the tracker store), not from this
    process's memory, so the answer "2" works whichever Rasa server takes it, and after a
    restart.
    """
    if _OPTION_ANSWER.match(text or "") is None:
        return text  # not a number: no need to read the conversation
    buttons = last_offered_buttons(await tracker_store.retrieve(conversation_id))
    index = chosen_option(text, len(buttons))
    return text if index is None else buttons[index]["payload"]
