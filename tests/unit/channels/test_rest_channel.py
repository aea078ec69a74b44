"""The REST channel on a real Sanic server: checked input, its own conversations, the reply
shape clients know, streams, and failed turns."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator

import pytest
import requests
from twilio.request_validator import RequestValidator

from channels.rest import MAX_SENDER_LENGTH, ClinicRestInput
from channels.twilio import ClinicTwilioInput
from tests.support.channel_server import REPLY, ChannelServer, RecordingAgent, serving_channels
from tests.support.fake_http import FakeEndpoint, RecordedRequest, fake_endpoint
from tests.support.message_bodies import BAD_BODIES, GOOD_BODY

WEBHOOK = "/webhooks/rest/webhook"
TWILIO_TOKEN = "test-twilio-auth-token"
TWILIO_NUMBER = "+15550000000"
TWILIO_URL = "https://clinic.example.com/webhooks/twilio/webhook"


@pytest.fixture(scope="module")
def module_agent() -> RecordingAgent:
    return RecordingAgent()


@pytest.fixture
def agent(module_agent) -> RecordingAgent:
    module_agent.reset()
    return module_agent


@pytest.fixture(scope="module")
def server(module_agent) -> Iterator[ChannelServer]:
    with serving_channels([ClinicRestInput()], module_agent) as running:
        yield running


def post(server: ChannelServer, body: dict | bytes, path: str = WEBHOOK) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        server.url + path, data=data, headers={"Content-Type": "application/json"}, timeout=10
    )


def test_reply_shape_is_rasas_with_the_clients_sender_as_recipient(server, agent) -> None:
    response = post(server, {"sender": "alice", "message": "what is prp"})
    assert response.status_code == 200
    assert response.json() == [
        {"recipient_id": "alice", "text": "you said: what is prp"},
        {"recipient_id": "alice", "custom": {"reply": REPLY}},
    ]
    [message] = agent.received
    assert (message.sender_id, message.input_channel, message.text) == (
        "rest:alice", "rest", "what is prp",
    )  # fmt: skip


def test_clients_input_channel_and_metadata_are_ignored(server, agent) -> None:
    body = {
        **GOOD_BODY,
        "input_channel": "twilio",
        "metadata": {"phone": "+447700900123", "channel": "twilio"},
    }
    assert post(server, body).status_code == 200
    [message] = agent.received
    assert (message.input_channel, message.metadata) == ("rest", None)


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_input_gets_400_with_a_json_error(server, agent, body) -> None:
    response = post(server, body)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"error"} and response.json()["error"]
    assert agent.received == []


@pytest.mark.parametrize(
    "field, value, error",
    [
        ("message", None, '"message" is required'),
        ("message", 1, '"message" must be a string'),
        ("sender", None, '"sender" is required'),
        ("sender", 1, '"sender" must be a string'),
        ("sender", "a" * 129, '"sender" must be 1 to 128 characters'),
    ],
)
def test_errors_say_what_is_wrong(server, field, value, error) -> None:
    response = post(server, {**GOOD_BODY, field: value})
    assert response.json()["error"].startswith(error)


def test_longest_sender_and_an_empty_message_are_taken(server, agent) -> None:
    sender = "s" * MAX_SENDER_LENGTH
    response = post(server, {"sender": sender, "message": ""})
    assert response.status_code == 200
    assert {m["recipient_id"] for m in response.json()} == {sender}
    assert agent.senders() == [f"rest:{sender}"]


def test_senders_are_kept_apart_and_only_prefixed_once(server, agent) -> None:
    for sender in ("alice", "bob", "rest:alice", "web:0123abcd"):
        assert post(server, {"sender": sender, "message": "hi"}).json()[0]["recipient_id"] == sender
    assert agent.senders() == ["rest:alice", "rest:bob", "rest:rest:alice", "rest:web:0123abcd"]


def test_health(server) -> None:
    response = requests.get(f"{server.url}/webhooks/rest/", timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


# --- streams --------------------------------------------------------------------------------


def stream_lines(server: ChannelServer, body: dict) -> tuple[int, list[dict]]:
    response = post(server, body, f"{WEBHOOK}?stream=true")
    return response.status_code, [json.loads(line) for line in response.text.splitlines()]


def test_stream_sends_each_reply_as_a_json_line(server, agent) -> None:
    status, lines = stream_lines(server, {**GOOD_BODY, "input_channel": "facebook"})
    assert status == 200
    assert lines == [
        {"recipient_id": "alice", "text": "you said: what is prp"},
        {"recipient_id": "alice", "custom": {"reply": REPLY}},
    ]
    [message] = agent.received
    assert (message.sender_id, message.input_channel) == ("rest:alice", "rest")


def test_stream_checks_the_input_too(server, agent) -> None:
    response = post(server, b"[]", f"{WEBHOOK}?stream=true")
    assert (response.status_code, set(response.json())) == (400, {"error"})
    assert agent.received == []


def test_stream_of_a_failed_turn_ends_with_an_error(server, agent) -> None:
    agent.fail_before_reply = True
    status, lines = stream_lines(server, GOOD_BODY)
    assert status == 200
    assert [set(line) for line in lines] == [{"error"}]


def test_stream_of_a_turn_failing_half_way_keeps_what_was_said(server, agent) -> None:
    agent.fail_after_text = True
    _, lines = stream_lines(server, GOOD_BODY)
    assert lines == [{"recipient_id": "alice", "text": "you said: what is prp"}]


# --- failed turns ---------------------------------------------------------------------------


def test_turn_failing_before_any_reply_gets_503_and_no_message_text_in_the_log(
    server, agent, caplog
) -> None:
    agent.fail_before_reply = True
    secret_text = f"my name is {uuid.uuid4().hex}"
    with caplog.at_level(logging.DEBUG):
        response = post(server, {"sender": "alice", "message": secret_text})
    assert response.status_code == 503
    assert set(response.json()) == {"error"}
    assert "could not be handled" in caplog.text
    assert secret_text not in caplog.text


def test_turn_failing_half_way_returns_what_was_said(server, agent) -> None:
    agent.fail_after_text = True
    response = post(server, GOOD_BODY)
    assert (response.status_code, response.json()) == (
        200, [{"recipient_id": "alice", "text": "you said: what is prp"}],
    )  # fmt: skip


# --- conversations apart from Twilio's -------------------------------------------------------


def _fake_twilio_api(request: RecordedRequest) -> tuple[int, dict]:
    return 201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued"}


@pytest.fixture
def twilio_api(monkeypatch) -> Iterator[FakeEndpoint]:
    with fake_endpoint(_fake_twilio_api) as endpoint:
        monkeypatch.setenv("TWILIO_API_BASE_URL", endpoint.url)
        monkeypatch.setenv("TWILIO_WEBHOOK_URL", TWILIO_URL)
        yield endpoint


def test_a_rest_sender_equal_to_a_phone_number_does_not_reach_the_sms_conversation(
    agent, twilio_api
) -> None:
    phone = "+447700900123"
    twilio = ClinicTwilioInput.from_credentials(
        {"account_sid": "AC" + "0" * 32, "auth_token": TWILIO_TOKEN, "twilio_number": TWILIO_NUMBER}
    )
    with serving_channels([ClinicRestInput(), twilio], agent) as server:
        sms = {"From": phone, "To": TWILIO_NUMBER, "Body": "what is prp"}
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, sms)
        signed = requests.post(
            f"{server.url}/webhooks/twilio/webhook",
            data=sms,
            headers={"X-Twilio-Signature": signature},
            timeout=10,
        )
        assert signed.status_code == 204
        body = {"sender": phone, "message": "what is prp", "input_channel": "twilio"}
        assert post(server, body).status_code == 200
    assert [(m.sender_id, m.input_channel) for m in agent.received] == [
        (phone, "twilio"),
        (f"rest:{phone}", "rest"),
    ]
    # Only the SMS conversation's replies went to the phone.
    texted = twilio_api.wait_for(lambda requests: len(requests) >= 1)
    assert [r.form()["To"] for r in texted] == [[phone]]


# --- request ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_message_is_named_after_the_request_id(server, agent, stream) -> None:
    """So serving.replay answers a message the proxy delivered twice only once."""
    request_id = uuid.uuid4().hex
    response = requests.post(
        f"{server.url}{WEBHOOK}{'?stream=true' if stream else ''}",
        json=GOOD_BODY,
        headers={"X-Request-ID": request_id},
        timeout=10,
    )
    assert response.ok
    assert [message.message_id for message in agent.received] == [f"req-{request_id}"]


@pytest.mark.parametrize("request_id", [None, "", "a b", "x" * 129, "id\u00e9"])
def test_without_a_well_formed_request_id_the_message_gets_a_random_one(
    server, agent, request_id
) -> None:
    headers = {"X-Request-ID": request_id} if request_id is not None else {}
    assert requests.post(server.url + WEBHOOK, json=GOOD_BODY, headers=headers, timeout=10).ok
    [message] = agent.received
    assert re.fullmatch(r"[0-9a-f]{32}", message.message_id)
