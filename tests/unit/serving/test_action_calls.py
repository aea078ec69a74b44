"""Action calls that never leave the patient with silence (serving.action_calls), run
against real Rasa trackers and a real action endpoint that drops connections or is down."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from clinic.contract import REPLY_KEY
from clinic.settings import get_settings
from serving import action_calls

DOMAIN = Domain.from_yaml("version: '3.1'\nactions:\n  - action_answer_topic\n")
SERVER_ERRORS = (aiohttp.ClientConnectionError, ConnectionResetError)


def tracker_after(text: str, intent: str, triage: dict | None = None) -> DialogueStateTracker:
    parse_data = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if triage is not None:
        parse_data["triage"] = triage
    tracker = DialogueStateTracker("patient", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(text, parse_data["intent"], [], parse_data))
    return tracker


def reply_of(events: list) -> dict:
    (bot,) = [event for event in events if isinstance(event, BotUttered)]
    return {"text": bot.text, **bot.data["custom"][REPLY_KEY]}


@pytest.fixture(autouse=True)
def installed():
    action_calls.install()
    yield
    action_calls.uninstall()


class FlakyActionServer:
    """A real HTTP action server whose first ``drops`` calls have the connection closed."""

    def __init__(self, drops: int, delay: float = 0.0, status: int = 200) -> None:
        self.drops, self.delay, self.status, self.calls = drops, delay, status, 0

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        if self.calls <= self.drops:
            request.transport.close()  # the "Cannot write to closing transport" of issue 10
            return web.Response()
        await asyncio.sleep(self.delay)
        if self.status == 400:
            return web.json_response(
                {"action_name": "action_answer_topic", "error": "no"}, status=400
            )
        if self.status != 200:
            return web.json_response({"error": "boom"}, status=self.status)
        return web.json_response(
            {"events": [], "responses": [{"text": "PRP uses your own platelets."}]}
        )


async def run_against(server: FlakyActionServer | None, tracker: DialogueStateTracker) -> list:
    app = web.Application()
    if server is not None:
        app.router.add_post("/webhook", server.webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    if server is None:  # nothing listens: connection refused
        await runner.cleanup()
    try:
        action = RemoteAction(
            "action_answer_topic", EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        )
        return await action.run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator({}), tracker, DOMAIN
        )
    finally:
        if server is not None:
            await runner.cleanup()


def test_a_dropped_connection_is_retried_once_and_the_answer_arrives():
    server = FlakyActionServer(drops=1)
    events = asyncio.run(run_against(server, tracker_after("what is prp", "ask_overview")))
    assert server.calls == 2
    assert [e.text for e in events if isinstance(e, BotUttered)] == ["PRP uses your own platelets."]


def test_two_dropped_connections_give_the_clinic_phone_not_silence():
    server = FlakyActionServer(drops=5)
    reply = reply_of(asyncio.run(run_against(server, tracker_after("what is prp", "ask_overview"))))
    assert server.calls == 2  # one retry, not more
    assert reply["type"] == "handoff" and reply["reason"] == "service_unavailable"
    assert get_settings().phone in reply["text"]


def test_an_unreachable_action_server_still_gives_urgent_advice():
    triage = {"layer": "rules", "sign": "allergic_reaction", "emergency": True, "evidence": "x"}
    tracker = tracker_after(
        "my lips are swelling and I cant breathe", "report_complication", triage
    )
    started = time.monotonic()
    reply = reply_of(asyncio.run(run_against(None, tracker)))
    assert time.monotonic() - started < 5
    assert reply["type"] == "urgent" and reply["emergency"] is True
    assert f"call {get_settings().emergency_number} now" in reply["text"].lower()
    # The same tap-to-call numbers as the action server's urgent reply, emergency first.
    assert reply["call"][0] == {"label": "Call 999", "number": "999", "kind": "emergency"}


def test_a_hanging_action_server_is_given_up_within_the_budget(monkeypatch):
    monkeypatch.setenv(action_calls.TIMEOUT_ENV, "1")
    server = FlakyActionServer(drops=0, delay=10)
    started = time.monotonic()
    reply = reply_of(asyncio.run(run_against(server, tracker_after("what is prp", "ask_overview"))))
    assert time.monotonic() - started < 3
    assert reply["reason"] == "service_unavailable"


def test_a_server_error_is_answered_and_not_retried():
    server = FlakyActionServer(drops=0, status=500)
    reply = reply_of(asyncio.run(run_against(server, tracker_after("what is prp", "ask_overview"))))
    assert server.calls == 1
    assert reply["reason"] == "service_unavailable"


def test_a_rejection_passes_through_for_the_form_to_handle():
    server = FlakyActionServer(drops=0, status=400)
    with pytest.raises(ActionExecutionRejection):
        asyncio.run(run_against(server, tracker_after("what is prp", "ask_overview")))


def test_one_turn_gets_the_unavailable_reply_once():
    tracker = tracker_after("Priya", "inform")
    first = asyncio.run(run_against(None, tracker))
    for event in first:
        tracker.update(event)
    assert asyncio.run(run_against(None, tracker)) == []
