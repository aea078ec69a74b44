"""The socket.io channel: the reply contract in one event, and sessions that get their replies."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOOutput
from socketio import AsyncServer

from channels.socketio import ClinicSocketIOInput, ClinicSocketIOOutput

SESSION = "session-1"
REPLY = {"type": "answer", "topic": "overview", "treatments": ["prp"], "sources": ["a.txt"]}
CREDENTIALS = {
    "user_message_evt": "user_uttered",
    "bot_message_evt": "bot_uttered",
    "session_persistence": True,
}


class RecordingServer:
    """Stands in for ``socketio.AsyncServer``: the same signatures, records what is done."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, Any, str | None]] = []
        self.rooms_entered: list[tuple[str, str]] = []

    async def enter_room(self, sid, room, namespace=None) -> None:
        self.rooms_entered.append((sid, room))

    async def emit(
        self,
        event,
        data=None,
        to=None,
        room=None,
        skip_sid=None,
        namespace=None,
        callback=None,
        ignore_queue=False,
    ) -> None:
        self.emitted.append((event, data, room or to))


def action_message() -> dict[str, Any]:
    """One message as the actions utter it (see ``actions.common.send_reply``)."""
    return {
        "text": "Which treatment do you mean?",
        "buttons": [{"title": "PRP", "payload": '/inform_treatment{"treatment":"prp"}'}],
        "custom": {"reply": REPLY},
    }


@pytest.mark.parametrize("method", ["emit", "enter_room"])
def test_recording_server_has_the_real_signatures(method) -> None:
    recording, real = getattr(RecordingServer, method), getattr(AsyncServer, method)
    assert (
        inspect.signature(recording).parameters.keys() == inspect.signature(real).parameters.keys()
    )
    assert inspect.iscoroutinefunction(recording) == inspect.iscoroutinefunction(real)


def test_rasas_own_output_cannot_send_the_reply_contract() -> None:
    """Why the channel exists: remove it once Rasa fixes ``send_custom_json``."""
    output = SocketIOOutput(RecordingServer(), "bot_uttered")
    with pytest.raises(TypeError, match="reply"):
        asyncio.run(output.send_custom_json(SESSION, {"reply": REPLY}))


def test_reply_contract_arrives_as_custom_in_one_event() -> None:
    server = RecordingServer()
    output = ClinicSocketIOOutput(server, "bot_uttered")
    asyncio.run(output.send_response(SESSION, action_message()))
    assert server.emitted == [
        (
            "bot_uttered",
            {
                "text": "Which treatment do you mean?",
                "quick_replies": [
                    {
                        "content_type": "text",
                        "title": "PRP",
                        "payload": '/inform_treatment{"treatment":"prp"}',
                    }
                ],
            },
            SESSION,
        ),
        ("bot_uttered", {"custom": {"reply": REPLY}}, SESSION),
    ]


def test_user_messages_are_answered_through_the_clinic_output() -> None:
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    channel = ClinicSocketIOInput.from_credentials(CREDENTIALS)
    channel.blueprint(on_new_message)
    handle_user_message = channel.sio.handlers["/"]["user_uttered"]
    asyncio.run(handle_user_message("socket-1", {"message": "what is prp", "session_id": SESSION}))

    [message] = received
    assert (message.text, message.sender_id, message.input_channel) == (
        "what is prp", SESSION, "socketio",
    )  # fmt: skip
    assert isinstance(message.output_channel, ClinicSocketIOOutput)
    assert isinstance(channel.get_output_channel(), ClinicSocketIOOutput)


def test_no_output_channel_before_the_socket_server_exists() -> None:
    with pytest.warns(UserWarning, match="cannot be recreated"):
        assert ClinicSocketIOInput.from_credentials(CREDENTIALS).get_output_channel() is None


def test_session_request_joins_the_session_room_then_confirms() -> None:
    channel = ClinicSocketIOInput.from_credentials(CREDENTIALS)
    channel.blueprint(lambda message: None)
    assert channel.sio.handlers["/"]["session_request"] == channel.confirm_session
    channel.sio = RecordingServer()
    asyncio.run(channel.confirm_session("socket-1", {"session_id": SESSION}))
    assert channel.sio.rooms_entered == [("socket-1", SESSION)]
    assert channel.sio.emitted == [("session_confirm", SESSION, "socket-1")]


def test_session_request_without_an_id_gets_a_new_one() -> None:
    channel = ClinicSocketIOInput.from_credentials(CREDENTIALS)
    channel.sio = RecordingServer()
    asyncio.run(channel.confirm_session("socket-1", None))
    [(event, session_id, room)] = channel.sio.emitted
    assert (event, room) == ("session_confirm", "socket-1")
    assert channel.sio.rooms_entered == [("socket-1", session_id)] and len(session_id) == 32
