"""The callback channel on a real Sanic server: the shared secret, the REST channel's input
checks, its own conversations, and the credentials that switch it on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import requests
from rasa.shared.exceptions import RasaException

from channels.callback import SECRET_HEADER, ClinicCallbackInput
from scripts.credentials import ChannelConfigError, build_credentials
from tests.support.channel_server import REPLY, ChannelServer, RecordingAgent, serving_channels
from tests.support.fake_http import FakeEndpoint, RecordedRequest, fake_endpoint
from tests.support.message_bodies import BAD_BODIES, GOOD_BODY

WEBHOOK = "/webhooks/callback/webhook"
SECRET = "test-callback-secret-" + "x" * 20
CONNECTOR = "channels.callback.ClinicCallbackInput"


def _receiver_reply(request: RecordedRequest) -> tuple[int, dict]:
    return 200, {}


@pytest.fixture(scope="module")
def receiver() -> Iterator[FakeEndpoint]:
    """The caller's system, which takes the replies."""
    with fake_endpoint(_receiver_reply) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def module_agent() -> RecordingAgent:
    return RecordingAgent()


@pytest.fixture
def agent(module_agent, receiver) -> RecordingAgent:
    module_agent.reset()
    with receiver.lock:
        receiver.requests.clear()
    return module_agent


@pytest.fixture(scope="module")
def server(module_agent, receiver) -> Iterator[ChannelServer]:
    channel = ClinicCallbackInput.from_credentials({"url": f"{receiver.url}/bot", "secret": SECRET})
    with serving_channels([channel], module_agent) as running:
        yield running


def post(
    server: ChannelServer, body: dict | bytes, secret: str | None = SECRET
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(server.url + WEBHOOK, data=data, headers=headers, timeout=10)


def test_message_with_the_secret_is_answered_at_the_callback_url(server, agent, receiver) -> None:
    response = post(server, {**GOOD_BODY, "input_channel": "twilio", "metadata": {"a": 1}})
    assert (response.status_code, response.text) == (200, "success")
    [message] = agent.received
    assert (message.sender_id, message.input_channel, message.metadata) == (
        "callback:alice", "callback", None,
    )  # fmt: skip
    posted = receiver.wait_for(lambda requests: len(requests) >= 2)
    assert [(r.path, r.json()) for r in posted] == [
        ("/bot", {"recipient_id": "alice", "text": "you said: what is prp"}),
        ("/bot", {"recipient_id": "alice", "custom": {"reply": REPLY}}),
    ]


@pytest.mark.parametrize(
    "secret",
    [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper(), "sécret"],
    ids=["missing", "empty", "wrong", "prefix", "longer", "other-case", "non-ascii"],
)
def test_request_without_the_secret_gets_401(server, agent, receiver, secret) -> None:
    response = post(server, GOOD_BODY, secret)
    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert agent.received == [] and receiver.requests == []


def test_the_secret_is_checked_before_the_body(server) -> None:
    assert post(server, b"not json", secret=None).status_code == 401


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_input_with_the_secret_gets_400_with_a_json_error(server, agent, body) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert set(response.json()) == {"error"} and response.json()["error"]
    assert agent.received == []


def test_the_message_is_named_after_the_request_id(server, agent) -> None:
    response = requests.post(
        server.url + WEBHOOK,
        json=GOOD_BODY,
        headers={SECRET_HEADER: SECRET, "X-Request-ID": "abc-123"},
        timeout=10,
    )
    assert response.ok
    assert [message.message_id for message in agent.received] == ["req-abc-123"]


def test_failed_turn_gets_503(server, agent) -> None:
    agent.fail_before_reply = True
    response = post(server, GOOD_BODY)
    assert (response.status_code, set(response.json())) == (503, {"error"})


@pytest.mark.parametrize(
    "credentials",
    [None, {}, {"url": "http://127.0.0.1:9/bot"}, {"secret": SECRET}, {"url": "x", "secret": ""}],
)
def test_the_channel_needs_a_url_and_a_secret(credentials) -> None:
    with pytest.raises(RasaException, match=r"CALLBACK_URL.*CALLBACK_SECRET"):
        ClinicCallbackInput.from_credentials(credentials)


# --- switched on by scripts/credentials.py -----------------------------------------------


def test_callback_is_off_unless_configured() -> None:
    credentials, enabled = build_credentials({})
    assert "callback" not in enabled
    assert not any("callback" in channel for channel in credentials)


def test_callback_is_on_with_both_variables() -> None:
    env = {"CALLBACK_URL": "http://127.0.0.1:5034/bot", "CALLBACK_SECRET": uuid.uuid4().hex}
    credentials, enabled = build_credentials(env)
    assert enabled == ["callback"]
    assert credentials[CONNECTOR] == {"url": "${CALLBACK_URL}", "secret": "${CALLBACK_SECRET}"}
    assert "callback" not in credentials  # Rasa's own, unchecked channel


@pytest.mark.parametrize(
    "env, missing",
    [
        ({"CALLBACK_URL": "http://127.0.0.1:5034/bot"}, "CALLBACK_SECRET"),
        ({"CALLBACK_SECRET": "s3cret"}, "CALLBACK_URL"),
    ],
)
def test_callback_partly_configured_is_an_error(env, missing) -> None:
    with pytest.raises(ChannelConfigError, match=f"callback is partly configured: set {missing}"):
        build_credentials(env)
