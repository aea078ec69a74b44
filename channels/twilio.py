"""Twilio (SMS and WhatsApp) with signed webhooks, numbered options and length limits.

Rasa 3.6's Twilio connector does not check ``X-Twilio-Signature``, so anyone could post
messages as any phone number; this one answers 403 to unsigned or wrongly signed requests.
Its output also turns buttons into numbered options, maps a reply such as "2" back to the
button's payload, splits long answers under the channel's limit, and keeps the reply-contract
payload (metadata for the widget and analytics) out of patients' messages.

credentials.yml (``make run`` writes it when the environment variables are set)::

    channels.twilio.ClinicTwilioInput:
      account_sid: ${TWILIO_ACCOUNT_SID}
      auth_token: ${TWILIO_AUTH_TOKEN}
      twilio_number: ${TWILIO_NUMBER}
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput, TwilioOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from channels.formatting import (
    CHANNEL_LIMITS,
    DropsReplyContract,
    message_parts,
    numbered_options,
    resolve_numbered_option,
    split_message,
)

logger = logging.getLogger(__name__)

WHATSAPP_PREFIX = "whatsapp:"


def message_limit(recipient_id: str) -> int:
    return CHANNEL_LIMITS["whatsapp" if recipient_id.startswith(WHATSAPP_PREFIX) else "sms"]


class ClinicTwilioOutput(DropsReplyContract, TwilioOutput):
    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        twilio_number: str | None,
        api_base_url: str | None = None,
    ) -> None:
        super().__init__(account_sid, auth_token, twilio_number)
        if api_base_url:  # a Twilio-compatible gateway, or a local fake in tests
            self.api.base_url = api_base_url.rstrip("/")

    async def _send_parts(self, recipient_id: str, parts: list[str]) -> None:
        for part in parts:
            await self._send_message(
                {"to": recipient_id, "from_": self.twilio_number, "body": part}
            )

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_parts(recipient_id, message_parts(text, message_limit(recipient_id)))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        # One message, so the question and its numbered options arrive together.
        numbered = numbered_options(text, buttons)
        await self._send_parts(recipient_id, split_message(numbered, message_limit(recipient_id)))


class ClinicTwilioInput(TwilioInput):
    """Twilio webhook at ``/webhooks/twilio/webhook``; see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials or not credentials.get("auth_token"):
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("account_sid"),
            credentials.get("auth_token"),
            credentials.get("twilio_number"),
            debug_mode=False,
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validator = RequestValidator(self.auth_token)
        # The URL Twilio signed: the public one, when a proxy rewrites what Rasa sees.
        self.public_url = os.environ.get("TWILIO_WEBHOOK_URL")
        self.api_base_url = os.environ.get("TWILIO_API_BASE_URL")

    def is_signed(self, request: Request) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return False
        params = {key: request.form.get(key) for key in request.form}
        return self.validator.validate(self.public_url or request.url, params, signature)

    def get_output_channel(self) -> OutputChannel:
        return ClinicTwilioOutput(
            self.account_sid, self.auth_token, self.twilio_number, self.api_base_url
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        twilio_webhook = Blueprint("clinic_twilio_webhook", __name__)

        @twilio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @twilio_webhook.route("/webhook", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            if not self.is_signed(request):
                logger.warning("Rejected a Twilio webhook call without a valid signature.")
                return response.text("invalid signature", status=403)
            sender = request.form.get("From")
            text = request.form.get("Body")
            if not sender or text is None:
                return response.text("", status=204)
            text = await resolve_numbered_option(
                request.app.ctx.agent.tracker_store, sender, text.replace("¡", "@")
            )
            await on_new_message(
                UserMessage(
                    text,
                    self.get_output_channel(),
                    sender,
                    input_channel=self.name(),
                    metadata=self.get_metadata(request),
                )
            )
            return response.text("", status=204)

        return twilio_webhook
