"""Messages over the length cap are answered without being parsed; text no encoder can write
is made readable first.

Tokenising and featurising a 10,000-character message takes seconds on the one event loop a
Rasa server has, and every other patient waits. :func:`install` wraps
``Agent.handle_message``, the entry every channel uses: a message longer than
:func:`clinic.direct_replies.max_message_chars` (2,000 by default) gets
:func:`clinic.direct_replies.too_long_reply` (which still screens it for red flags) and is not
added to the conversation. Request bodies are limited separately by Sanic's
``REQUEST_MAX_SIZE`` (``serving.rasa_server``).

Before that, :func:`make_readable`: JSON's ``"\\ud800"`` escapes (and UTF-8-encoded surrogates,
which Python's JSON reader lets through) give strings with lone surrogates, which spaCy and the
tracker store cannot encode. In the text they become U+FFFD, so the rest is still read and
answered; in the sender id they are spelt out (``\\ud800``), so two such ids stay two
conversations. Without this, Rasa's SQL tracker store takes the ``UnicodeEncodeError`` (a
``ValueError``) for a missing database schema and exits the whole server.

And :func:`as_plain_text`: a patient who types one of Rasa's built-in intents as a payload
(``/restart``, ``/back``, ``/session_start``, with or without arguments) would get no reply at
all (Rasa's built-in rules run a silent action). No button of this assistant sends them, so
they are read as the words they are and answered like any other message.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage

from clinic import clock
from clinic.contract import REPLY_KEY
from clinic.direct_replies import max_message_chars, too_long_reply
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

_ORIGINAL_ATTRIBUTE = "_clinic_original_handle_message"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Rasa's built-in intents that run an action with no reply (rasa.shared.core.constants).
_SILENT_BUILT_IN = re.compile(r"^\s*/(restart|back|session_start)(?![\w-])", re.IGNORECASE)
REPLACEMENT_CHARACTER = "\ufffd"


def install() -> None:
    """Wrap ``Agent.handle_message`` (idempotent)."""
    if hasattr(Agent, _ORIGINAL_ATTRIBUTE):
        return
    original = Agent.handle_message
    setattr(Agent, _ORIGINAL_ATTRIBUTE, original)
    cap = max_message_chars()  # read once: the environment does not change under a server

    async def handle_message(self: Agent, message: UserMessage) -> Any:
        make_readable(message)
        as_plain_text(message)
        if message.text is not None and len(message.text) > cap:
            await answer_too_long(message)
            return None
        return await original(self, message)

    Agent.handle_message = handle_message  # type: ignore[method-assign]


def uninstall() -> None:
    original = getattr(Agent, _ORIGINAL_ATTRIBUTE, None)
    if original is not None:
        Agent.handle_message = original  # type: ignore[method-assign]
        delattr(Agent, _ORIGINAL_ATTRIBUTE)


def make_readable(message: UserMessage) -> None:
    """Lone surrogates out of ``message``'s text (U+FFFD) and sender id (spelt out), in place."""
    if message.text and _LONE_SURROGATE.search(message.text):
        message.text = _LONE_SURROGATE.sub(REPLACEMENT_CHARACTER, message.text)
        logger.info("A message with lone surrogates was made readable.")
    if _LONE_SURROGATE.search(message.sender_id):
        message.sender_id = message.sender_id.encode("utf-8", "backslashreplace").decode("utf-8")


def as_plain_text(message: UserMessage) -> None:
    """``/restart`` and the other silent built-in intents, typed, become words (in place)."""
    if message.text and _SILENT_BUILT_IN.match(message.text):
        message.text = _SILENT_BUILT_IN.sub(lambda m: m.group(1).replace("_", " "), message.text, 1)


async def answer_too_long(message: UserMessage) -> None:
    reply = too_long_reply(message.text or "", get_settings(), clock.now())
    logger.info("A message of %d characters was over the cap; answered unparsed.",
                len(message.text or ""))  # fmt: skip
    await message.output_channel.send_response(
        message.sender_id,
        {"text": reply.text, "custom": {REPLY_KEY: {"type": reply.reply_type, **reply.fields}}},
    )
