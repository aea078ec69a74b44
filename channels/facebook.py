"""Facebook Messenger with ``X-Hub-Signature-256`` checks, length limits and options.

Rasa 3.6's connector checks only the legacy SHA-1 ``X-Hub-Signature`` (with whatever hash
the header names) and answers 200 to a bad one; Meta signs with HMAC-SHA256 in
``X-Hub-Signature-256``. This connector requires that header and answers 403 otherwise.
Replies are split under Messenger's 2,000 characters, buttons become quick replies (or
numbered options when Messenger's quick-reply limits do not fit), and the reply-contract
payload is not sent to Messenger.

credentials.yml (``make run`` writes it when the environment variables are set)::

    channels.facebook.ClinicFacebookInput:
      verify: ${FACEBOOK_VERIFY}
      secret: ${FACEBOOK_SECRET}
      page-access-token: ${FACEBOOK_PAGE_ACCESS_TOKEN}
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from fbmessenger import MessengerClient
from fbmessenger.elements import Text as FBText
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.facebook import FacebookInput, Messenger, MessengerBot
from rasa.core.tracker_store import TrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.formatting import (
    CHANNEL_LIMITS,
    DropsReplyContract,
    message_parts,
    numbered_options,
    resolve_numbered_option,
    split_message,
)

logger = logging.getLogger(__name__)

MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


def signature_is_valid(app_secret: str, body: bytes, header: str | None) -> bool:
    """``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


class ClinicMessengerBot(DropsReplyContract, MessengerBot):
    def __init__(self, messenger_client: MessengerClient) -> None:
        super().__init__(messenger_client)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in message_parts(text, CHANNEL_LIMITS["facebook"]):
            self.send(recipient_id, FBText(text=part))

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        fits = len(buttons) <= MAX_QUICK_REPLIES and all(
            len(b["title"]) <= MAX_QUICK_REPLY_TITLE for b in buttons
        )
        if fits:
            await self.send_quick_replies(recipient_id, text, buttons)
        else:
            for part in split_message(numbered_options(text, buttons), CHANNEL_LIMITS["facebook"]):
                self.send(recipient_id, FBText(text=part))


class ClinicMessenger(Messenger):
    def __init__(
        self,
        page_access_token: str,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        tracker_store: TrackerStore,
        graph_url: str | None = None,
    ) -> None:
        super().__init__(page_access_token, on_new_message)
        self.tracker_store = tracker_store
        if graph_url:  # a local fake in tests
            self.client.graph_url = graph_url.rstrip("/")

    async def _handle_user_message(
        self, text: str, sender_id: str, metadata: dict[str, Any] | None
    ) -> None:
        out_channel = ClinicMessengerBot(self.client)
        message = UserMessage(
            await resolve_numbered_option(self.tracker_store, sender_id, text),
            out_channel,
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
        )
        await out_channel.send_action(sender_id, sender_action="typing_on")
        try:
            await self.on_new_message(message)
        except Exception:
            logger.exception("Exception when handling a Messenger message.")
        finally:
            await out_channel.send_action(sender_id, sender_action="typing_off")


class ClinicFacebookInput(FacebookInput):
    """Messenger webhook at ``/webhooks/facebook/webhook``; see the module docstring."""

    def __init__(self, fb_verify: str, fb_secret: str, fb_access_token: str) -> None:
        super().__init__(fb_verify, fb_secret, fb_access_token)
        self.graph_url = os.environ.get("FACEBOOK_GRAPH_URL")

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        fb_webhook = Blueprint("clinic_fb_webhook", __name__)

        @fb_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @fb_webhook.route("/webhook", methods=["GET"])
        async def token_verification(request: Request) -> HTTPResponse:
            if self.fb_verify and request.args.get("hub.verify_token") == self.fb_verify:
                return response.text(request.args.get("hub.challenge") or "")
            return response.text("invalid verify token", status=403)

        @fb_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            header = request.headers.get("X-Hub-Signature-256")
            if not signature_is_valid(self.fb_secret, request.body, header):
                logger.warning("Rejected a Messenger webhook call without a valid signature.")
                return response.text("invalid signature", status=403)
            messenger = ClinicMessenger(
                self.fb_access_token,
                on_new_message,
                request.app.ctx.agent.tracker_store,
                self.graph_url,
            )
            await messenger.handle(request.json, self.get_metadata(request))
            return response.text("success")

        return fb_webhook
