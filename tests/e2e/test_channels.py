"""Messaging channels with the real Rasa server: callback, Twilio and Facebook webhooks, and
conversations kept apart between channels.

Outgoing calls go to local fake endpoints (never the internet): Twilio's API base URL and
the Graph API URL are pointed at them through the connectors' environment settings.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from ruamel.yaml import YAML
from twilio.request_validator import RequestValidator

from scripts.credentials import build_credentials
from scripts.servers import RunningAssistant, running_assistant
from tests.support.fake_http import FakeEndpoint, RecordedRequest, fake_endpoint
from tests.support.replies import reply_of

TWILIO_TOKEN = "test-twilio-auth-token"
FACEBOOK_SECRET = "test-facebook-app-secret"
CALLBACK_SECRET = "test-callback-secret"
CHANNEL_ENV = {
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "TWILIO_NUMBER": "+15550000000",
    "FACEBOOK_VERIFY": "test-verify-token",
    "FACEBOOK_SECRET": FACEBOOK_SECRET,
    "FACEBOOK_PAGE_ACCESS_TOKEN": "test-page-token",
}


def _fake_api_reply(request: RecordedRequest) -> tuple[int, dict]:
    if request.path.endswith("/Messages.json"):  # Twilio: create a message
        form = request.form()
        return 201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "body": form["Body"][0]}
    return 200, {"recipient_id": "1", "message_id": "m1"}  # Graph API and callback


@pytest.fixture(scope="module")
def outbox() -> Iterator[FakeEndpoint]:
    with fake_endpoint(_fake_api_reply) as endpoint:
        yield endpoint


def _value(value, env: dict[str, str]):
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return env[value[2:-1]]
    return value


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory, outbox) -> Iterator[RunningAssistant]:
    work = tmp_path_factory.mktemp("channels")
    env = {
        **CHANNEL_ENV,
        "CALLBACK_URL": f"{outbox.url}/callback",
        "CALLBACK_SECRET": CALLBACK_SECRET,
        "TWILIO_API_BASE_URL": outbox.url,
        "FACEBOOK_GRAPH_URL": f"{outbox.url}/graph",
        "TWILIO_WEBHOOK_URL": "https://clinic.example.com/webhooks/twilio/webhook",
    }
    credentials, enabled = build_credentials(env)
    assert enabled == ["twilio", "facebook", "callback"]
    # The values themselves, not "${NAME}": once Rasa's YAML reader is imported in this test
    # process (other test modules load training data), it registers an implicit resolver for
    # "${...}", and the dumper then quotes such strings, which Rasa would not substitute.
    credentials = {
        channel: {k: _value(v, env) for k, v in (settings or {}).items()}
        if isinstance(settings, dict) else settings
        for channel, settings in credentials.items()
    }  # fmt: skip
    path = work / "credentials.yml"
    with path.open("w") as stream:
        YAML().dump(credentials, stream)
    with running_assistant(trained_model, work, credentials=path, env=env) as running:
        yield running


# --- callback ----------------------------------------------------------------------------


def _callback_post(assistant, body: dict, secret: str | None) -> requests.Response:
    headers = {"X-Callback-Secret": secret} if secret is not None else {}
    return requests.post(
        f"{assistant.rasa_url}/webhooks/callback/webhook", json=body, headers=headers, timeout=30
    )


def test_callback_channel_posts_replies_to_the_receiver(assistant, outbox) -> None:
    sender = uuid.uuid4().hex
    response = _callback_post(
        assistant, {"sender": sender, "message": "what is prp"}, CALLBACK_SECRET
    )
    assert response.ok
    posted = outbox.wait_for(
        lambda rs: any(
            r.path == "/callback" and "custom" in r.json() and r.json()["recipient_id"] == sender
            for r in rs
        )
    )
    mine = [
        r.json() for r in posted if r.path == "/callback" and r.json()["recipient_id"] == sender
    ]
    assert any(m.get("text") for m in mine)
    reply = next(m["custom"]["reply"] for m in mine if "custom" in m)
    assert (reply["type"], reply["treatments"]) == ("answer", ["prp"])
    assert [sender_id for sender_id, _ in _user_events(assistant, sender)] == [f"callback:{sender}"]


@pytest.mark.parametrize("secret", [None, "", "wrong"], ids=["missing", "empty", "wrong"])
def test_callback_channel_refuses_requests_without_the_secret(assistant, outbox, secret) -> None:
    sender = uuid.uuid4().hex
    response = _callback_post(assistant, {"sender": sender, "message": "what is prp"}, secret)
    assert response.status_code == 401
    assert _user_events(assistant, sender) == []


def test_callback_channel_refuses_bad_requests(assistant) -> None:
    response = _callback_post(assistant, {"message": "what is prp"}, CALLBACK_SECRET)
    assert (response.status_code, set(response.json())) == (400, {"error"})


# --- conversations kept apart ------------------------------------------------------------


def _user_events(assistant, sender: str) -> list[tuple[str, dict]]:
    """(conversation id, event) of every user message whose conversation ends in ``sender``."""
    with sqlite3.connect(assistant.work_dir / "conversations.db") as db:
        rows = db.execute(
            "SELECT sender_id, data FROM events WHERE sender_id LIKE ? AND type_name = 'user' "
            "ORDER BY id",
            (f"%{sender}",),
        ).fetchall()
    return [(sender_id, json.loads(data)) for sender_id, data in rows]


def test_a_rest_sender_equal_to_a_phone_number_does_not_reach_its_sms_conversation(
    assistant, outbox
) -> None:
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    params = {"From": number, "To": "+15550000000", "Body": "how much does it cost?"}
    assert _twilio_post(assistant, params, _signed(params)).status_code == 204
    (question,) = _sms_to(outbox, number, 1)
    # A REST client naming the same number (and the Twilio channel) talks in its own
    # conversation: its "PRP" is a new question, not the answer to the SMS question.
    response = requests.post(
        f"{assistant.rasa_url}/webhooks/rest/webhook",
        json={"sender": number, "message": "PRP", "input_channel": "twilio"},
        timeout=30,
    )
    assert response.ok and {m["recipient_id"] for m in response.json()} == {number}
    assert reply_of(response.json())["topic"] != "cost"
    assert len(_sms_to(outbox, number, 1)) == 1  # nothing texted to the phone
    assert [
        (sender_id, event["input_channel"]) for sender_id, event in _user_events(assistant, number)
    ] == [(number, "twilio"), (f"rest:{number}", "rest")]
    # and the SMS conversation still has its question pending
    prp_option = next(line for line in question.splitlines() if "PRP (" in line).split(".")[0]
    params = {"From": number, "To": "+15550000000", "Body": prp_option}
    assert _twilio_post(assistant, params, _signed(params)).status_code == 204
    assert any("GBP" in part for part in _sms_to(outbox, number, 2)[1:])


# --- Twilio ------------------------------------------------------------------------------

TWILIO_URL = "https://clinic.example.com/webhooks/twilio/webhook"


def _twilio_post(assistant, params: dict, signature: str | None) -> requests.Response:
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    return requests.post(
        f"{assistant.rasa_url}/webhooks/twilio/webhook", data=params, headers=headers, timeout=30
    )


def _signed(params: dict) -> str:
    return RequestValidator(TWILIO_TOKEN).compute_signature(TWILIO_URL, params)


def _sms_to(outbox: FakeEndpoint, number: str, count: int) -> list[str]:
    posted = outbox.wait_for(
        lambda rs: (
            len([r for r in rs if r.path.endswith("Messages.json") and r.form()["To"] == [number]])
            >= count
        )
    )
    return [
        r.form()["Body"][0]
        for r in posted
        if r.path.endswith("Messages.json") and r.form()["To"] == [number]
    ]


def test_twilio_sms_numbered_options_and_reply_by_number(assistant, outbox) -> None:
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    params = {"From": number, "To": "+15550000000", "Body": "how much does it cost?"}
    assert _twilio_post(assistant, params, _signed(params)).status_code == 204
    (question,) = _sms_to(outbox, number, 1)
    assert "1. Mesotherapy" in question and "Reply with a number." in question
    assert '"reply"' not in question  # the reply contract is not texted to the patient
    prp_option = next(line for line in question.splitlines() if "PRP (" in line).split(".")[0]

    params = {"From": number, "To": "+15550000000", "Body": prp_option}
    assert _twilio_post(assistant, params, _signed(params)).status_code == 204
    answer = _sms_to(outbox, number, 2)[1:]
    assert any("GBP" in part for part in answer)
    assert all(len(part) <= 1600 for part in answer)


@pytest.mark.parametrize(
    "signature", [None, "", "bm90IGEgc2lnbmF0dXJl"], ids=["missing", "empty", "wrong"]
)
def test_twilio_rejects_unsigned_or_wrongly_signed_requests(assistant, outbox, signature) -> None:
    number = f"+1555{uuid.uuid4().int % 10**7:07d}"
    params = {"From": number, "To": "+15550000000", "Body": "what is prp"}
    assert _twilio_post(assistant, params, signature).status_code == 403
    # a valid signature for other content does not do either
    tampered = {**params, "Body": "something else"}
    assert _twilio_post(assistant, tampered, _signed(params)).status_code == 403


# --- Facebook Messenger ------------------------------------------------------------------


def _messenger_event(sender: str, text: str) -> bytes:
    event = {
        "object": "page",
        "entry": [
            {
                "id": "page",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": sender},
                        "recipient": {"id": "page"},
                        "timestamp": 1,
                        "message": {"mid": uuid.uuid4().hex, "text": text},
                    }
                ],
            }
        ],
    }
    return json.dumps(event).encode()


def _fb_post(assistant, body: bytes, signature: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(
        f"{assistant.rasa_url}/webhooks/facebook/webhook", data=body, headers=headers, timeout=30
    )


def _fb_sign(body: bytes, secret: str = FACEBOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_facebook_signed_message_is_answered(assistant, outbox) -> None:
    sender = uuid.uuid4().hex
    body = _messenger_event(sender, "what is prp")
    response = _fb_post(assistant, body, _fb_sign(body))
    assert response.status_code == 200
    posted = outbox.wait_for(
        lambda rs: any(
            r.path == "/graph/me/messages"
            and r.json()["recipient"]["id"] == sender
            and "text" in r.json().get("message", {})
            for r in rs
        )
    )
    texts = [
        r.json()["message"]["text"]
        for r in posted
        if r.path == "/graph/me/messages"
        and r.json()["recipient"]["id"] == sender
        and "message" in r.json()
    ]
    assert texts and all(len(text) <= 2000 for text in texts)
    assert not any('"reply"' in text for text in texts)


@pytest.mark.parametrize(
    "make_signature",
    [
        lambda body: None,
        lambda body: "sha1=" + hmac.new(FACEBOOK_SECRET.encode(), body, hashlib.sha1).hexdigest(),
        lambda body: _fb_sign(body, "another-secret"),
        lambda body: _fb_sign(body + b" "),
    ],
    ids=["missing", "sha1-only", "wrong-secret", "other-body"],
)
def test_facebook_rejects_unsigned_or_wrongly_signed_requests(assistant, make_signature) -> None:
    body = _messenger_event(uuid.uuid4().hex, "what is prp")
    assert _fb_post(assistant, body, make_signature(body)).status_code == 403


def test_facebook_webhook_verification(assistant) -> None:
    url = f"{assistant.rasa_url}/webhooks/facebook/webhook"
    ok = requests.get(
        url, params={"hub.verify_token": "test-verify-token", "hub.challenge": "42"}, timeout=10
    )
    assert (ok.status_code, ok.text) == (200, "42")
    bad = requests.get(url, params={"hub.verify_token": "nope", "hub.challenge": "42"}, timeout=10)
    assert bad.status_code == 403
