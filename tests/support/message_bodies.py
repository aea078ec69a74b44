"""Request bodies the REST and callback channels must refuse with 400, and one they take."""

from __future__ import annotations

import json

import pytest

GOOD_BODY = {"sender": "alice", "message": "what is prp"}


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


BAD_BODIES = [
    pytest.param(b"", id="empty-body"),
    pytest.param(b"sender=alice&message=hi", id="form-encoded"),
    pytest.param(b'{"sender": "alice", "message": "hi"', id="truncated-json"),
    pytest.param(b'{"sender": "alice", "message": "\xff\xfe"}', id="not-utf8"),
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    pytest.param(_json([GOOD_BODY]), id="json-list"),
    pytest.param(_json("what is prp"), id="json-string"),
    pytest.param(_json(42), id="json-number"),
    pytest.param(_json(None), id="json-null"),
    pytest.param(_json(True), id="json-true"),
    pytest.param(_json({"sender": "alice"}), id="message-missing"),
    pytest.param(_json({"sender": "alice", "message": None}), id="message-null"),
    pytest.param(_json({"sender": "alice", "message": 42}), id="message-number"),
    pytest.param(_json({"sender": "alice", "message": ["hi"]}), id="message-list"),
    pytest.param(_json({"sender": "alice", "message": {"text": "hi"}}), id="message-object"),
    pytest.param(_json({"message": "hi"}), id="sender-missing"),
    pytest.param(_json({"sender": None, "message": "hi"}), id="sender-null"),
    pytest.param(_json({"sender": 447700900123, "message": "hi"}), id="sender-number"),
    pytest.param(_json({"sender": ["alice"], "message": "hi"}), id="sender-list"),
    pytest.param(_json({"sender": "", "message": "hi"}), id="sender-empty"),
    pytest.param(_json({"sender": "a" * 129, "message": "hi"}), id="sender-129-chars"),
]
