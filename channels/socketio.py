"""Rasa's socket.io channel for the website widget: server-issued sessions, replies that
arrive, and connections from the clinic's own site only.

Sessions are the server's, not the client's. Rasa 3.6 continues whatever ``session_id`` a
client asks for, and answers each ``user_uttered`` event in the session its payload names,
so anyone could read or write another patient's conversation by knowing its id. Here:

- ``session_request`` with ``{"session_id": ..., "token": ...}`` continues that session only
  if the token is the server's HMAC-SHA256 of the session id (key ``$CLINIC_WIDGET_SECRET``,
  required: the channel refuses to start without one of at least 32 characters). Otherwise
  the socket gets a new random session. Either way the server sends ``session_token``
  (``{"session_id": ..., "token": ...}``, for the client to keep) and then, as Rasa does,
  ``session_confirm`` with the session id. With ``session_persistence: false`` every request
  gets a new session.
- ``user_uttered`` is answered in the session confirmed for that socket; the ``session_id``
  in its payload is ignored, and so is client metadata. A message from a socket with no
  session yet first gets one (so it is not lost).
- The conversation (Rasa sender id) of session ``abc`` is ``web:abc``, apart from every other
  channel's; the socket.io room of the session has the same name.
- Connections are accepted only from the site's origins (``$CLINIC_SITE_ORIGINS``, see
  ``clinic.site_origins``), from the server's own origin, or without an ``Origin`` header
  (not a browser). The check is in socket.io's ``connect`` event: the CORS headers of the
  polling transport stay with Rasa's ``--cors``, which would otherwise be sent twice.

Two bugs of Rasa 3.6's channel (with the python-socketio 5.18 we pin) are also fixed: custom
payloads (our ``{"reply": {...}}``) went to ``sio.emit`` as keyword arguments and raised
``TypeError``; they go out here as the REST channel returns them, ``{"custom": {...}}``, in
one ``bot_uttered`` event. And ``enter_room`` was not awaited, so a session's replies were
lost.

The socket-to-session map is in memory, per Rasa server; the tokens are not, so a session
continues on any Rasa server with the same secret (after a restart, or behind a proxy).

Enable it in the credentials file, with the same keys as Rasa's ``socketio`` channel::

    channels.socketio.ClinicSocketIOInput:
      user_message_evt: user_uttered
      bot_message_evt: bot_uttered
      session_persistence: true
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.exceptions import RasaException
from sanic import Blueprint
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from clinic.site_origins import SITE_ORIGINS_ENV, site_origins

logger = logging.getLogger(__name__)

WIDGET_SECRET_ENV = "CLINIC_WIDGET_SECRET"
MIN_SECRET_LENGTH = 32
SESSION_TOKEN_EVENT = "session_token"
CONVERSATION_PREFIX = "web:"
# Session ids are ours (32 hex digits); anything much longer is not one.
MAX_SESSION_ID_LENGTH = 128


def widget_secret(environ: Mapping[str, str]) -> str:
    """``$CLINIC_WIDGET_SECRET``, or a ``RasaException`` saying how to set one."""
    secret = (environ.get(WIDGET_SECRET_ENV) or "").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        problem = "is not set" if not secret else f"is shorter than {MIN_SECRET_LENGTH} characters"
        raise RasaException(
            f"The website chat channel (socket.io) needs ${WIDGET_SECRET_ENV}, the key that "
            f"signs widget sessions, and it {problem}. Set it to a long random value, the "
            "same on every Rasa server and across restarts, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    return secret


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # JSON may carry lone surrogates


class SessionTokens:
    """Tokens binding a widget session id to this server: HMAC-SHA256 of the id, in hex."""

    def __init__(self, secret: str) -> None:
        self._key = _utf8(secret)

    def issue(self, session_id: str) -> str:
        return hmac.new(self._key, _utf8(session_id), hashlib.sha256).hexdigest()

    def is_valid(self, session_id: object, token: object) -> bool:
        if not isinstance(session_id, str) or not isinstance(token, str):
            return False
        if not 0 < len(session_id) <= MAX_SESSION_ID_LENGTH:
            return False
        return hmac.compare_digest(_utf8(self.issue(session_id)), _utf8(token))


def conversation_of(session_id: str) -> str:
    """The Rasa conversation (sender id) and socket.io room of a widget session."""
    return f"{CONVERSATION_PREFIX}{session_id}"


class ClinicSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, with custom payloads sent as ``{"custom": ...}``."""

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


class ClinicSocketIOInput(SocketIOInput):
    """Rasa's socket.io input channel with server-issued sessions; see the module docstring.

    It keeps the name ``socketio``, so trackers record the same input channel as before.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tokens = SessionTokens(widget_secret(os.environ))
        try:
            self.allowed_origins = site_origins(os.environ)
        except ValueError as error:
            raise RasaException(str(error)) from error
        self.conversations: dict[str, str] = {}  # socket id -> conversation id

    def get_output_channel(self) -> OutputChannel | None:
        """The output channel for messages sent from outside a conversation turn."""
        output = super().get_output_channel()
        if output is None:  # no socket server yet (see the base class's warning)
            return None
        return ClinicSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # The base class makes the socket server and its handlers; the ones that trust the
        # client are replaced (sio.on with a handler replaces the event's handler).
        socketio_blueprint = super().blueprint(on_new_message)
        handlers = self.sio.handlers[self.namespace or "/"]
        check_jwt = handlers["connect"]

        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if not self.origin_is_allowed(origin, environ.get("HTTP_HOST")):
                # A site's origin, not personal data; %r keeps an odd header on one line.
                logger.warning(
                    "Refused a socket.io connection from %r: not in $%s.", origin, SITE_ORIGINS_ENV
                )
                raise SocketRefused("origin not allowed")
            return await check_jwt(sid, environ, auth)

        async def handle_user_message(sid: str, data: Any = None, *_: Any) -> None:
            await self.answer(sid, data, on_new_message)

        self.sio.on("connect", handler=connect, namespace=self.namespace)
        self.sio.on("session_request", handler=self.confirm_session, namespace=self.namespace)
        self.sio.on(self.user_message_evt, handler=handle_user_message, namespace=self.namespace)
        self.sio.on("disconnect", handler=self.forget_socket, namespace=self.namespace)
        return socketio_blueprint

    def origin_is_allowed(self, origin: str | None, host: str | None) -> bool:
        if not origin:
            return True  # not a browser; CORS protects browsers only
        if origin in self.allowed_origins:
            return True
        try:
            return bool(host) and urlsplit(origin).netloc.lower() == host.lower()
        except ValueError:
            return False

    async def confirm_session(self, sid: str, data: Any = None, *_: Any) -> None:
        """``session_request``: continue the session its token proves, else start a new one."""
        requested = data.get("session_id") if isinstance(data, dict) else None
        token = data.get("token") if isinstance(data, dict) else None
        if self.session_persistence and self.tokens.is_valid(requested, token):
            session_id = requested
        else:
            session_id = uuid.uuid4().hex
        await self.start_session(sid, session_id)

    async def start_session(self, sid: str, session_id: str) -> str:
        """Bind the socket to the session, then send the client its token and the id."""
        conversation = conversation_of(session_id)
        previous = self.conversations.get(sid)
        # Before any await, so a message right behind the request finds its session.
        self.conversations[sid] = conversation
        if previous and previous != conversation:
            await self.sio.leave_room(sid, previous, namespace=self.namespace)
        await self.sio.enter_room(sid, conversation, namespace=self.namespace)
        token = {"session_id": session_id, "token": self.tokens.issue(session_id)}
        await self.sio.emit(SESSION_TOKEN_EVENT, token, room=sid, namespace=self.namespace)
        await self.sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
        return conversation

    async def answer(
        self, sid: str, data: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """``user_uttered``: the message, in the socket's own conversation."""
        text = data.get("message") if isinstance(data, dict) else None
        if not isinstance(text, str):
            logger.warning("Ignored a %s event without a message text.", self.user_message_evt)
            return
        conversation = self.conversations.get(sid)
        if conversation is None:
            conversation = await self.start_session(sid, uuid.uuid4().hex)
        await on_new_message(
            UserMessage(
                text,
                ClinicSocketIOOutput(self.sio, self.bot_message_evt),
                conversation,
                input_channel=self.name(),
                metadata=None,
            )
        )

    async def forget_socket(self, sid: str, reason: Any = None) -> None:
        self.conversations.pop(sid, None)
