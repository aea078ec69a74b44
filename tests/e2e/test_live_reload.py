"""Live reload on the real servers (issue 11): the clinic edits an answer and a price in its
knowledge directory while the assistant runs, and the next REST reply uses them, no restart.

The model was trained with the project's knowledge; the copy edited here changes only an
answer and a price, so the model needs no retraining."""

from __future__ import annotations

import time
import uuid

import pytest

from clinic.knowledge import RELOAD_CHECK_SECONDS
from clinic.paths import KNOWLEDGE_DIR_ENV, KNOWLEDGE_FILE_NAME, SETTINGS_FILE_NAME
from scripts.servers import running_assistant
from tests.support.knowledge_copies import copy_knowledge, replace_in
from tests.support.replies import reply_of, text_of

QUESTION = "How much is PRP?"
PRP_COST_TEXT = "          The cost of PRP depends on your individual treatment plan, so the\n"
EDITED = "Edited while the assistant runs: ask us about the spring offer."


@pytest.fixture(scope="module")
def assistant(trained_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("live-reload")
    knowledge = copy_knowledge(work / "knowledge")
    with running_assistant(trained_model, work, env={KNOWLEDGE_DIR_ENV: str(knowledge)}) as running:
        yield running


def ask(assistant) -> str:
    replies = assistant.send(QUESTION, uuid.uuid4().hex)
    reply = reply_of(replies)
    assert (reply["type"], reply["topic"], reply["treatments"]) == ("answer", "cost", ["prp"])
    return text_of(replies)


def test_an_edited_answer_and_price_are_in_the_next_reply_without_a_restart(assistant) -> None:
    before = ask(assistant)
    assert EDITED not in before and "350 GBP" in before
    knowledge = assistant.work_dir / "knowledge"
    replace_in(
        knowledge / KNOWLEDGE_FILE_NAME, PRP_COST_TEXT, f"          {EDITED}\n{PRP_COST_TEXT}"
    )
    replace_in(knowledge / SETTINGS_FILE_NAME, "per_session: 350", "per_session: 375")
    time.sleep(RELOAD_CHECK_SECONDS + 0.2)  # the servers look at most once a second

    after = ask(assistant)
    assert EDITED in after and "375 GBP" in after and "350 GBP" not in after
    assert assistant.action_server.poll() is None  # the same process: no restart
    log = assistant.action_log.read_text(errors="replace")
    assert "reloaded" in log and "retrain" not in log  # an answer needs no retraining


def test_an_invalid_edit_keeps_answering_with_the_last_good_version(assistant) -> None:
    knowledge = assistant.work_dir / "knowledge"
    replace_in(knowledge / SETTINGS_FILE_NAME, "per_session: 375", "per_session: lots")
    time.sleep(RELOAD_CHECK_SECONDS + 0.2)
    assert "375 GBP" in ask(assistant)
    assert "still serving the last good version" in assistant.action_log.read_text(errors="replace")
