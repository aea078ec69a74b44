"""Rasa's socket.io channel, fixed to deliver every reply to socket clients.

Two bugs of Rasa 3.6's ``socketio`` channel (with the python-socketio 5.18 we pin) stop the
widget from getting its answers; this channel fixes both and changes nothing else:

- ``SocketIOOutput.send_custom_json`` calls ``sio.emit(evt, **json_message)``: the custom
  payload's keys become keyword arguments of ``emit``, so our ``{"reply": {...}}`` raises
  ``TypeError`` and the reply contract never reaches the client. Here custom payloads go out
  as the REST channel returns them, ``{"custom": {...}}``, in one ``bot_uttered`` event.
- The ``session_request`` handler calls ``sio.enter_room`` without awaiting it (a coroutine
  in the python-socketio we pin, not in the releases Rasa 3.6 was written against), so with
  ``session_persistence`` the client never joins its session's room, and every reply, sent
  to that room, is lost.

Enable it in the credentials file, with the same keys as Rasa's ``socketio`` channel::

    channels.socketio.ClinicSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint


class ClinicSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, with custom payloads sent as ``{"custom": ...}``."""

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel, answering through :class:`ClinicSocketIOOutput`.

    It keeps the name ``socketio``, so trackers record the same input channel as before.
    """

    def get_output_channel(self) -> OutputChannel | None:
        """The output channel for messages sent from outside a conversation turn."""
        output = super().get_output_channel()
        if output is None:  # no socket server yet (see the base class's warning)
            return None
        return ClinicSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # The base class builds a plain SocketIOOutput inside its message handler, with no
        # hook to change it; swapping it on each incoming message keeps all of the base
        # class's session, metadata and JWT handling.
        async def answer_with_clinic_output(message: UserMessage) -> None:
            message.output_channel = ClinicSocketIOOutput(self.sio, self.bot_message_evt)
            await on_new_message(message)

        socketio_blueprint = super().blueprint(answer_with_clinic_output)
        # Replaces the base class's handler of the same event.
        self.sio.on("session_request", handler=self.confirm_session, namespace=self.namespace)
        return socketio_blueprint

    async def confirm_session(self, sid: str, data: dict[str, Any] | None) -> None:
        """Rasa's ``session_request`` handler, with the room joined (awaited)."""
        session_id = (data or {}).get("session_id") or uuid.uuid4().hex
        if self.session_persistence:
            await self.sio.enter_room(sid, session_id, namespace=self.namespace)
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
