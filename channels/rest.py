"""The REST channel, with checked input and conversations of its own.

Rasa 3.6's ``rest`` channel trusts the client with more than a message: its ``input_channel``
and ``metadata`` go into the tracker as sent, and its ``sender`` is the conversation id, so a
REST client could write into a Twilio conversation (whose id is a phone number) or a widget
session and be taken for that channel. It also answers 500 to a body that is not a JSON
object, and logs the message text when a turn fails. This channel, at the same URL
(``POST /webhooks/rest/webhook``):

- takes ``{"sender": "<1-128 characters>", "message": "<text>"}`` and nothing else: the input
  channel is always ``rest`` and client metadata is dropped;
- keeps the conversation apart: sender ``alice`` is conversation ``rest:alice``. Replies are
  addressed to the client's own sender (``"recipient_id": "alice"``), as before;
- answers 400 with ``{"error": "..."}`` to a body that is not JSON, JSON that is not an object,
  a missing or non-string ``message``, and a missing, non-string, empty or over-long
  ``sender`` (Rasa would put every sender-less client in one shared conversation,
  ``default``);
- answers 503 with ``{"error": "..."}`` when the turn failed before any reply, so the client
  knows to send it again (Rasa answered 200 with an empty list);
- keeps Rasa's ``?stream=true``: one JSON message per line as they are sent, and a stream
  that always ends (``{"error": "..."}`` as its only line when the turn failed before any
  reply; Rasa's stream never ended then);
- names the message after the request's ``X-Request-ID`` (``req-<id>``, for an id of 1 to 128
  letters, digits, ``.``, ``_`` or ``-``), which the proxy keeps when it passes a request to a
  second Rasa server, so ``serving.replay`` answers a message delivered twice only once.

credentials.yml::

    channels.rest.ClinicRestInput:

:func:`parse_incoming`, :func:`conversation_id` and :class:`AddressesTheClient` are shared
with the callback channel (``channels.callback``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import QueueOutputChannel, RestInput
from rasa.utils.endpoints import bool_arg
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse, ResponseStream

from clinic.contract import REQUEST_ID_PREFIX

logger = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 128
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
EXPECTED_BODY = '{"sender": "...", "message": "..."}'
NO_ANSWER = "the assistant could not answer this message; please send it again"


class InvalidMessageError(ValueError):
    """The request body is not a message this channel takes; the text says why."""


@dataclass(frozen=True)
class IncomingMessage:
    sender: str
    text: str


def parse_incoming(body: bytes) -> IncomingMessage:
    """The sender and text of a ``{"sender": ..., "message": ...}`` body; raises
    ``InvalidMessageError`` saying what is wrong."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:  # RecursionError: absurdly nested JSON
        raise InvalidMessageError(f"the body must be JSON: {EXPECTED_BODY}") from error
    if not isinstance(payload, dict):
        raise InvalidMessageError(f"the body must be a JSON object: {EXPECTED_BODY}")
    text, sender = payload.get("message"), payload.get("sender")
    if text is None:
        raise InvalidMessageError('"message" is required')
    if not isinstance(text, str):
        raise InvalidMessageError('"message" must be a string')
    if sender is None:
        raise InvalidMessageError(
            '"sender" is required: an id of the conversation, chosen by the client'
        )
    if not isinstance(sender, str):
        raise InvalidMessageError('"sender" must be a string')
    if not 1 <= len(sender) <= MAX_SENDER_LENGTH:
        raise InvalidMessageError(f'"sender" must be 1 to {MAX_SENDER_LENGTH} characters')
    return IncomingMessage(sender, text)


def message_id(request: Request) -> str | None:
    """``req-<X-Request-ID>`` for a well-formed request id; None (Rasa makes a random id)
    otherwise."""
    request_id = request.headers.get(REQUEST_ID_HEADER)
    if request_id and _REQUEST_ID.match(request_id):
        return f"{REQUEST_ID_PREFIX}{request_id}"
    return None


def conversation_id(channel: str, sender: str) -> str:
    """The conversation (Rasa sender id) of a client's ``sender`` on ``channel``."""
    return f"{channel}:{sender}"


def client_sender(channel: str, conversation: str) -> str:
    """The client's own ``sender`` for one of ``channel``'s conversation ids."""
    return conversation.removeprefix(f"{channel}:")


def error_response(status: int, error: str) -> HTTPResponse:
    return response.json({"error": error}, status=status)


class AddressesTheClient:
    """Mixin for a collecting output channel: replies carry the client's ``sender`` as
    ``recipient_id``, not the namespaced conversation id."""

    channel_name = "rest"

    async def _persist_message(self, message: dict[str, Any]) -> None:
        recipient = message.get("recipient_id")
        if isinstance(recipient, str):
            message = {**message, "recipient_id": client_sender(self.channel_name, recipient)}
        await super()._persist_message(message)  # type: ignore[misc]


class RestCollector(AddressesTheClient, CollectingOutputChannel):
    pass


class RestQueue(AddressesTheClient, QueueOutputChannel):
    pass


# Ends a streamed turn; never a message, which are dicts.
_TURN_DONE = object()


class ClinicRestInput(RestInput):
    """``POST /webhooks/rest/webhook``; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def user_message(
        self, incoming: IncomingMessage, output: Any, request_message_id: str | None
    ) -> UserMessage:
        return UserMessage(
            incoming.text,
            output,
            conversation_id(self.name(), incoming.sender),
            input_channel=self.name(),
            message_id=request_message_id,
            metadata=None,
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        rest_webhook = Blueprint("clinic_rest_webhook", __name__)

        @rest_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @rest_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse | ResponseStream:
            try:
                incoming = parse_incoming(request.body)
            except InvalidMessageError as error:
                return error_response(400, str(error))
            if bool_arg(request, "stream", default=False):
                return response.stream(
                    self.streamed_turn(on_new_message, incoming, message_id(request)),
                    content_type="text/event-stream",
                )
            collector = RestCollector()
            try:
                await on_new_message(self.user_message(incoming, collector, message_id(request)))
            except (asyncio.CancelledError, Exception):
                # No message text in the log (it is personal data), unlike Rasa's channel.
                logger.exception("A REST message could not be handled.")
                if not collector.messages:
                    return error_response(503, NO_ANSWER)
            return response.json(collector.messages)

        return rest_webhook

    def streamed_turn(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        incoming: IncomingMessage,
        request_message_id: str | None,
    ) -> Callable[[Any], Awaitable[None]]:
        """Writes each reply as one JSON line while the turn runs. The stream always ends
        (Rasa's never did when the turn failed), with ``{"error": ...}`` as its only line
        when the turn failed before any reply."""

        async def stream(stream_response: Any) -> None:
            queue: asyncio.Queue = asyncio.Queue()

            async def run_turn() -> bool:
                try:
                    output = RestQueue(queue)
                    await on_new_message(self.user_message(incoming, output, request_message_id))
                    return True
                except Exception:
                    logger.exception("A streamed REST message could not be handled.")
                    return False
                finally:
                    await queue.put(_TURN_DONE)

            turn = asyncio.ensure_future(run_turn())
            sent = 0
            while (message := await queue.get()) is not _TURN_DONE:
                await stream_response.write(json.dumps(message) + "\n")
                sent += 1
            if not await turn and not sent:
                await stream_response.write(json.dumps({"error": NO_ANSWER}) + "\n")

        return stream
