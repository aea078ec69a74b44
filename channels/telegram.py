"""Telegram with length limits, and without the reply-contract payload in chats.

Telegram shows buttons (Rasa sends them as a keyboard), so only long answers need care:
they are split at sentence boundaries under Telegram's 4,096 characters. Telegram does not
sign webhook calls the way Meta and Twilio do; Rasa's ``verify`` (the bot's username) stays.

credentials.yml (``make run`` writes it when the environment variables are set)::

    channels.telegram.ClinicTelegramInput:
      access_token: ${TELEGRAM_TOKEN}
      verify: ${TELEGRAM_BOT_NAME}
      webhook_url: ${TELEGRAM_WEBHOOK_URL}
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram.utils.exceptions import TelegramAPIError
from rasa.core.channels.telegram import TelegramInput, TelegramOutput
from rasa.shared.exceptions import RasaException

from channels.formatting import CHANNEL_LIMITS, DropsReplyContract, message_parts


class ClinicTelegramOutput(DropsReplyContract, TelegramOutput):
    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in message_parts(text, CHANNEL_LIMITS["telegram"]):
            await self.send_message(recipient_id, part)


class ClinicTelegramInput(TelegramInput):
    def get_output_channel(self) -> TelegramOutput:
        channel = ClinicTelegramOutput(self.access_token)
        try:
            asyncio.run(channel.set_webhook(url=self.webhook_url))
        except TelegramAPIError as error:
            raise RasaException(f"Failed to set the Telegram webhook: {error}") from error
        return channel
