"""Rasa input channels on a real Sanic server, in a background thread, for channel tests.

The channels are registered as ``rasa run`` registers them (``rasa.core.channels.channel.
register``, under ``/webhooks/``), with a :class:`RecordingAgent` in the agent's place: the
channel under test is real, its HTTP and socket.io traffic is real, and the test sees each
``UserMessage`` the channel made. The whole assistant is in the e2e tests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage, register
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from sanic import Sanic

REPLY = {"type": "answer", "topic": "overview", "treatments": ["prp"], "sources": []}


class RecordingAgent:
    """In the agent's place: keeps each message and answers it as Rasa's agent does, through
    the message's output channel, to the conversation's sender id: a text naming the message,
    then the reply contract. ``fail_after_text`` makes the turn fail after the text;
    ``fail_before_reply`` before anything is sent."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """As new, for the next test on the same server."""
        self.received: list[UserMessage] = []
        # Channels read a conversation's last offered buttons from here (numbered options).
        self.tracker_store = InMemoryTrackerStore(Domain.empty())
        self.fail_before_reply = False
        self.fail_after_text = False

    async def handle_message(self, message: UserMessage) -> None:
        self.received.append(message)
        if self.fail_before_reply:
            raise RuntimeError("the turn failed")
        output = message.output_channel
        await output.send_response(message.sender_id, {"text": f"you said: {message.text}"})
        if self.fail_after_text:
            raise RuntimeError("the turn failed half-way")
        await output.send_response(message.sender_id, {"custom": {"reply": REPLY}})

    def senders(self) -> list[str]:
        return [message.sender_id for message in self.received]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ChannelServer:
    url: str
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run ``coroutine`` on the server's event loop (e.g. an output channel's send)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextmanager
def serving_channels(channels: list[InputChannel], agent: Any) -> Iterator[ChannelServer]:
    """Serve ``channels`` on a free port until the block ends."""
    # As sanic-testing does: one process runs many apps (Sanic's start-up rewrites of its
    # own methods, and its app registry, assume one app per process otherwise).
    Sanic.test_mode = True
    app = Sanic(f"channel_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = agent
    register(channels, app, route="/webhooks/")
    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    outcome: dict[str, Any] = {}

    async def start() -> Any:
        # Listening once this returns; the app's listeners are run as `rasa run` runs them.
        server = await app.create_server(
            host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
        )
        await server.startup()
        await server.before_start()
        await server.after_start()
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            outcome["server"] = loop.run_until_complete(start())
        except BaseException as error:  # reported in the test's thread
            outcome["error"] = error
            return
        finally:
            started.set()
        loop.run_forever()

    async def stop() -> None:
        server = outcome["server"]
        await server.before_stop()
        closing = server.close()
        for connection in list(server.connections):  # clients' keep-alive connections
            connection.close_if_idle()
        if closing is not None:
            await closing
        await server.after_stop()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    thread = threading.Thread(target=run, name="channel-server", daemon=True)
    thread.start()
    if not started.wait(timeout=30):
        raise RuntimeError("the channel server did not start within 30 s")
    if "error" in outcome:
        raise outcome["error"]
    try:
        yield ChannelServer(f"http://127.0.0.1:{port}", loop)
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
