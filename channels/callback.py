"""The callback channel, for a system that posts messages and takes the replies at its own URL.

Rasa 3.6's ``callback`` channel takes a message from anyone who can reach the server, in any
conversation. This one is off unless both ``$CALLBACK_URL`` (where the replies are posted)
and ``$CALLBACK_SECRET`` are set (``scripts/credentials.py`` then switches it on), and at
``POST /webhooks/callback/webhook``:

- answers 401 with ``{"error": "..."}`` unless the request's ``X-Callback-Secret`` header is
  the secret (compared in constant time);
- takes the same body as the REST channel, with the same 400 answers (``channels.rest``);
- keeps the conversations apart: sender ``alice`` is conversation ``callback:alice``; the
  replies posted to the callback URL carry ``"recipient_id": "alice"``, as before;
- names the message after ``X-Request-ID``, as the REST channel does (a message the proxy
  delivers twice is answered once);
- answers ``success`` once the replies are posted, or 503 with ``{"error": "..."}`` when the
  turn failed, so the caller knows to send the message again.

credentials (``scripts/credentials.py`` writes them when both variables are set)::

    channels.callback.ClinicCallbackInput:
      url: ${CALLBACK_URL}
      secret: ${CALLBACK_SECRET}
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.callback import CallbackInput, CallbackOutput
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.rest import (
    NO_ANSWER,
    AddressesTheClient,
    InvalidMessageError,
    conversation_id,
    error_response,
    message_id,
    parse_incoming,
)

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Callback-Secret"


def secret_matches(secret: str, given: str | None) -> bool:
    """Whether the header value ``given`` is ``secret``, in time independent of the values."""
    if not secret or given is None:
        return False
    # Bytes: compare_digest refuses str with non-ASCII characters.
    return hmac.compare_digest(
        secret.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


class ClinicCallbackOutput(AddressesTheClient, CallbackOutput):
    channel_name = "callback"


class ClinicCallbackInput(CallbackInput):
    """``POST /webhooks/callback/webhook``; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return "callback"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        settings = dict(credentials or {})
        secret = settings.pop("secret", None)
        if not settings.get("url") or not secret or not isinstance(secret, str):
            raise RasaException(
                "The callback channel needs both `url` (where replies are posted, "
                "$CALLBACK_URL) and `secret` (what callers send in the X-Callback-Secret "
                "header, $CALLBACK_SECRET) in its credentials."
            )
        return cls(EndpointConfig.from_dict(settings), secret)

    def __init__(self, endpoint: EndpointConfig, secret: str) -> None:
        super().__init__(endpoint)
        self.secret = secret

    def get_output_channel(self) -> ClinicCallbackOutput:
        return ClinicCallbackOutput(self.callback_endpoint)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        callback_webhook = Blueprint("clinic_callback_webhook", __name__)

        @callback_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @callback_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not secret_matches(self.secret, request.headers.get(SECRET_HEADER)):
                logger.warning("Refused a callback request without the right %s.", SECRET_HEADER)
                return error_response(401, f"missing or wrong {SECRET_HEADER} header")
            try:
                incoming = parse_incoming(request.body)
            except InvalidMessageError as error:
                return error_response(400, str(error))
            message = UserMessage(
                incoming.text,
                self.get_output_channel(),
                conversation_id(self.name(), incoming.sender),
                input_channel=self.name(),
                message_id=message_id(request),
                metadata=None,
            )
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("A callback message could not be handled.")
                return error_response(503, NO_ANSWER)
            return response.text("success")

        return callback_webhook
