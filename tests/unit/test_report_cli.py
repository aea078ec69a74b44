"""``make report`` (``python -m scripts.report``): the figures, the groups, the CSV, retention."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from clinic.conversation_log import DB_PATH_ENV, URL_ENV, read_conversations
from clinic.frontdesk.store import DB_PATH_ENV as TICKETS_DB_ENV
from clinic.frontdesk.store import URL_ENV as TICKETS_URL_ENV
from clinic.paths import PROJECT_ROOT
from scripts.report import main
from tests.support.conversation_db import ConversationWriter


def hours_ago(hours: float) -> float:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).timestamp()


@pytest.fixture
def database(tmp_path: Path, monkeypatch) -> Path:
    writer = ConversationWriter(tmp_path / "conversations.db")
    for number, text in enumerate(["do you do tattoo removal", "do you do tattoo removal?"]):
        c = writer.conversation(f"patient-{number}")
        c.patient(text, "out_of_scope", hours_ago(number + 1))
        c.bot("action_out_of_scope", "out_of_scope", hours_ago(number + 1))
    old = writer.conversation("patient-old")
    old.patient("from last year", "greet", hours_ago(24 * 365))
    old.bot("utter_greet", "smalltalk", hours_ago(24 * 365))
    writer.save()
    writer.close()
    for name in (URL_ENV, TICKETS_URL_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(DB_PATH_ENV, str(writer.path))
    monkeypatch.setenv(TICKETS_DB_ENV, str(tmp_path / "tickets.db"))
    return writer.path


def test_prints_the_figures_and_groups_and_writes_the_csv(database, tmp_path, capsys) -> None:
    out_file = tmp_path / "out.csv"
    assert main(["--days", "30", "--csv", str(out_file)]) == 0
    printed = capsys.readouterr().out
    assert "What patients asked: the last 30 days" in printed
    assert "Conversations: 2" in printed
    assert "   2  " in printed and "tattoo removal" in printed
    assert "Deleted 7 stored events older than 90 days" in printed
    rows = list(csv.DictReader(out_file.open(encoding="utf-8")))
    assert sorted(row["message"] for row in rows) == [
        "do you do tattoo removal",
        "do you do tattoo removal?",
    ]
    assert {row["group"] for row in rows} == {"1"}
    texts = [t.text for c in read_conversations(f"sqlite:///{database}") for t in c.turns]
    assert "from last year" not in texts


def test_a_period_past_the_retention_is_refused(database, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--days", "400"])
    assert stopped.value.code == 2
    assert "retention period" in capsys.readouterr().err


def test_runs_as_a_module(database) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "scripts.report", "--days", "7", "--groups", "1"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Top groups of unanswered messages" in done.stdout
