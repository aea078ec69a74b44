"""A message delivered twice is answered once: the second delivery gets the first's replies.

With several Rasa servers, nginx passes a request whose server died to the next server. If
the first server had already saved the turn (Rasa saves the tracker at the end of a turn,
just before it answers), the turn would run twice: two bookings, a question answered twice in
the conversation. The REST channel names each message after the request id the proxy (or a
retrying client) sends in ``X-Request-ID`` (``channels.rest``): :func:`install` wraps
``MessageProcessor.handle_message`` (which runs inside the conversation's lock) so that a
message whose id is already in the conversation is not processed again; its recorded replies
are sent instead.

Only ids the channel set (prefix :data:`REQUEST_ID_PREFIX`) are looked up, so messages without
one cost nothing extra. On the SQL tracker store the lookup is one indexed query.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic.contract import REQUEST_ID_PREFIX

logger = logging.getLogger(__name__)

_ORIGINAL_ATTRIBUTE = "_clinic_original_handle_message"


def install() -> None:
    """Wrap ``MessageProcessor.handle_message`` (idempotent)."""
    if hasattr(MessageProcessor, _ORIGINAL_ATTRIBUTE):
        return
    original = MessageProcessor.handle_message
    setattr(MessageProcessor, _ORIGINAL_ATTRIBUTE, original)

    async def handle_message(self: MessageProcessor, message: UserMessage) -> Any:
        replies = await earlier_replies(self.tracker_store, message)
        if replies is None:
            return await original(self, message)
        logger.info("A message delivered twice was answered from its first delivery.")
        for reply in replies:
            await message.output_channel.send_response(message.sender_id, reply)
        if isinstance(message.output_channel, CollectingOutputChannel):
            return message.output_channel.messages
        return None

    MessageProcessor.handle_message = handle_message  # type: ignore[method-assign]


def uninstall() -> None:
    original = getattr(MessageProcessor, _ORIGINAL_ATTRIBUTE, None)
    if original is not None:
        MessageProcessor.handle_message = original  # type: ignore[method-assign]
        delattr(MessageProcessor, _ORIGINAL_ATTRIBUTE)


async def earlier_replies(store: TrackerStore, message: UserMessage) -> list[dict] | None:
    """The replies the conversation recorded for ``message``'s id, or None if it is new."""
    message_id = message.message_id or ""
    if not message_id.startswith(REQUEST_ID_PREFIX):
        return None
    if isinstance(store, SQLTrackerStore) and not _stored(store, message.sender_id, message_id):
        return None
    tracker = await store.retrieve(message.sender_id)
    return None if tracker is None else replies_to(tracker, message_id)


def replies_to(tracker: DialogueStateTracker, message_id: str) -> list[dict] | None:
    """The bot messages that answered the user message ``message_id``, or None if the
    conversation has no such message."""
    replies: list[dict] | None = None
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif isinstance(event, BotUttered) and replies is not None:
            replies.append({"text": event.text, **{k: v for k, v in event.data.items() if v}})
    return replies


def _stored(store: SQLTrackerStore, sender_id: str, message_id: str) -> bool:
    """One indexed query: is a user event with this id in the conversation?"""
    events = store.SQLEvent
    with store.session_scope() as session:
        query = (
            session.query(events.id)
            .filter(events.sender_id == sender_id, events.type_name == UserUttered.type_name)
            .filter(events.data.contains(f'"{message_id}"'))
            .limit(1)
        )
        return session.execute(query.statement).first() is not None
