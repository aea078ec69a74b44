"""End to end: the real action server and Rasa server, spoken to over the REST channel.

Checks the reply contract on every turn, the follow-ups that need conversation context,
that bad input always gets a polite reply and a bad request a 400, and that REST senders
have conversations of their own (``rest:<sender>``).
"""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from clinic.knowledge import get_knowledge
from scripts.servers import (
    PROJECT_ROOT,
    RunningAssistant,
    free_port,
    running_assistant,
    start_action_server,
)
from tests.support.replies import reply_of

SEEDS = {
    "000_02cd34f0196dbc20.txt",
    "001_6d08b78a9e82c8ac.txt",
    "002_3caff2fd3a030851.txt",
    "003_4b9730de6a4abb39.txt",
    "004_fd0850f422e385f0.txt",
}


@pytest.fixture(scope="module")
def assistant(trained_model: Path, tmp_path_factory) -> Iterator[RunningAssistant]:
    with running_assistant(trained_model, tmp_path_factory.mktemp("servers")) as running:
        yield running


def test_answer_carries_topic_treatments_sources_and_confidence(assistant) -> None:
    reply = reply_of(assistant.send("What are the side effects of PRP?"))
    assert reply["type"] == "answer"
    assert reply["topic"] == "side_effects"
    assert reply["treatments"] == ["prp"]
    assert reply["sources"] and set(reply["sources"]) <= SEEDS
    assert 0 < reply["confidence"] <= 1


@pytest.mark.parametrize(
    "first, follow_up, topic, treatments",
    [
        (
            "tell me about mesotherapy",
            "how many sessions would I need?",
            "sessions",
            ["mesotherapy"],
        ),
        ("what's the downtime for prp", "and for exosomes?", "recovery_time", ["exosomes"]),
        (
            "side effects of prp?",
            "how does that compare to exosomes",
            "comparison",
            ["prp", "exosomes"],
        ),
    ],
)
def test_follow_ups_keep_context(assistant, first, follow_up, topic, treatments) -> None:
    sender = uuid.uuid4().hex
    assert reply_of(assistant.send(first, sender))["type"] == "answer"
    reply = reply_of(assistant.send(follow_up, sender))
    assert (reply["type"], reply["topic"], reply["treatments"]) == ("answer", topic, treatments)


def test_question_without_treatment_asks_which_then_answers(assistant) -> None:
    sender = uuid.uuid4().hex
    messages = assistant.send("how much does it cost?", sender)
    reply = reply_of(messages)
    assert (reply["type"], reply["topic"]) == ("clarify", "cost")
    buttons = [b for m in messages for b in m.get("buttons", [])]
    knowledge = get_knowledge()
    assert [b["title"] for b in buttons] == [t.name for t in knowledge.treatments.values()]
    answer = reply_of(assistant.send("the vampire facial one", sender))
    assert (answer["type"], answer["topic"], answer["treatments"]) == (
        "answer", "cost", ["microneedling_prp"],
    )  # fmt: skip
    # Clicking a button sends its payload; that completes a pending question too.
    sender = uuid.uuid4().hex
    assistant.send("is it painful?", sender)
    clicked = reply_of(assistant.send('/inform_treatment{"treatment":"exosomes"}', sender))
    assert (clicked["topic"], clicked["treatments"]) == ("pain", ["exosomes"])


def test_cost_answer_uses_clinic_prices(assistant) -> None:
    messages = assistant.send("how much is microneedling?")
    assert reply_of(messages)["topic"] == "cost"
    text = " ".join(m.get("text", "") for m in messages)
    assert "GBP" in text and "consultation" in text


@pytest.mark.parametrize(
    "message, reply_type",
    [
        ("hello", "smalltalk"),
        ("thanks a lot", "smalltalk"),
        ("are you a bot?", "smalltalk"),
        ("are you open on saturday?", "clinic_info"),
        ("what's your address", "clinic_info"),
        ("I'd like to book a consultation", "booking"),
        ("can I talk to a real person please", "handoff"),
        ("what's the weather like tomorrow", "out_of_scope"),
        ("do you do botox?", "out_of_scope"),
        ("blorp fizzle wug", "fallback"),
    ],
)
def test_every_turn_has_a_reply_payload(assistant, message, reply_type) -> None:
    assert reply_of(assistant.send(message))["type"] == reply_type


@pytest.mark.parametrize(
    "message",
    ["", "   ", "?!?!", "🙂🙂🙂", "x" * 5000, "<script>alert(1)</script>", "/no_such_intent", "/"],
    ids=["empty", "blank", "punctuation", "emoji", "very-long", "html", "unknown-intent", "slash"],
)
def test_bad_input_gets_a_polite_reply(assistant, message) -> None:
    messages = assistant.send(message)
    assert messages, f"no reply to {message!r}"
    assert reply_of(messages)["type"] in {"fallback", "out_of_scope", "clarify", "smalltalk"}
    # and the server is still there for the next patient
    assert reply_of(assistant.send("what is prp"))["type"] == "answer"


def test_malformed_knowledge_stops_action_server_at_start(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", knowledge)
    path = knowledge / "treatments.yml"
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if line.strip().startswith("name: Mesotherapy"))
    lines[index] = lines[index].replace("name: Mesotherapy", "name: ''")
    path.write_text("\n".join(lines) + "\n")
    log = tmp_path / "action-server.log"
    # With the action secret the server needs, so only the knowledge file can stop it.
    env = {
        "CLINIC_KNOWLEDGE_DIR": str(knowledge),
        "CLINIC_ACTION_SECRET": secrets.token_urlsafe(32),
    }
    process = start_action_server(free_port(), log, env)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the action server started despite a malformed knowledge file")
    assert process.returncode != 0
    assert (
        f"treatments.yml:{index + 1}: treatments[mesotherapy].name: must be a non-empty string"
        in log.read_text()
    )


def test_complication_gets_urgent_reply_and_ticket(assistant) -> None:
    from clinic.frontdesk.store import TicketStore

    sender = uuid.uuid4().hex
    assistant.send("what is prp", sender)
    messages = assistant.send("I had PRP yesterday and now my lips are swelling", sender)
    reply = reply_of(messages)
    assert (reply["type"], reply["emergency"]) == ("urgent", True)
    assert "999" in " ".join(m.get("text", "") for m in messages)
    store = TicketStore(f"sqlite:///{assistant.work_dir / 'tickets.db'}")
    ticket = store.get(reply["ticket"])
    assert (ticket.category, ticket.urgency, ticket.status, ticket.treatment) == (
        "complication", "urgent", "open", "prp",
    )  # fmt: skip
    # an ordinary question naming a symptom is answered, not escalated
    assert reply_of(assistant.send("is redness normal after microneedling?"))["type"] == "answer"


@pytest.mark.parametrize(
    "body",
    [b"What is PRP?", b"[]", b'{"message": "What is PRP?"}', b'{"sender": 7, "message": "hi"}'],
    ids=["not-json", "not-an-object", "no-sender", "sender-not-a-string"],
)
def test_bad_request_gets_400_and_the_server_keeps_answering(assistant, body) -> None:
    response = requests.post(
        f"{assistant.rasa_url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    assert set(response.json()) == {"error"}
    assert reply_of(assistant.send("what is prp"))["type"] == "answer"


def test_rest_senders_have_their_own_conversations(assistant) -> None:
    sender = f"+4477009{uuid.uuid4().int % 10**5:05d}"  # looks like an SMS conversation's id
    response = requests.post(
        f"{assistant.rasa_url}/webhooks/rest/webhook",
        json={
            "sender": sender,
            "message": "what is prp",
            "input_channel": "twilio",
            "metadata": {"phone": sender},
        },
        timeout=30,
    )
    assert response.ok
    assert {m["recipient_id"] for m in response.json()} == {sender}
    with sqlite3.connect(assistant.work_dir / "conversations.db") as db:
        rows = db.execute(
            "SELECT sender_id, data FROM events WHERE sender_id LIKE ? AND type_name = 'user'",
            (f"%{sender}",),
        ).fetchall()
    recorded = [(sender_id, json.loads(data)) for sender_id, data in rows]
    assert [(sender_id, event["input_channel"]) for sender_id, event in recorded] == [
        (f"rest:{sender}", "rest")
    ]
    assert "phone" not in recorded[0][1]["metadata"]  # Rasa adds its model ids, nothing else
