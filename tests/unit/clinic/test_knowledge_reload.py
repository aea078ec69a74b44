"""Live reload of the knowledge and clinic settings files (issue 11): an edit takes effect in
a running process without a restart; an invalid edit is logged and the last good version
keeps serving; a name change warns that the model must be retrained."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from clinic import knowledge as knowledge_module
from clinic.knowledge import LiveKnowledge, forget_loaded_files, get_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, SETTINGS_FILE_NAME
from clinic.settings import get_knowledge_and_settings, get_settings
from tests.support.knowledge_copies import (
    copy_knowledge,
    remove_treatment,
    replace_in,
    touch_later,
)

EDITED = "Edited by the clinic a moment ago."
FIRST_ANSWER = "        text: >-\n"
PRP_NAME = "    name: PRP (platelet-rich plasma)\n"
FILES = (KNOWLEDGE_FILE_NAME, SETTINGS_FILE_NAME)


@pytest.fixture
def clinic_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of knowledge/, checked on every call (no one-second wait in tests)."""
    monkeypatch.setattr(knowledge_module, "RELOAD_CHECK_SECONDS", 0.0)
    directory = copy_knowledge(tmp_path / "knowledge")
    yield directory
    forget_loaded_files()


def edited_answers(directory: Path) -> list[str]:
    treatments = get_knowledge(directory).treatments.values()
    return [a.text for t in treatments for a in t.answers.values() if a.text.startswith(EDITED)]


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_an_answer_edit_is_picked_up_without_a_restart(
    clinic_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = get_knowledge(clinic_dir)
    assert edited_answers(clinic_dir) == []
    caplog.set_level(logging.INFO, logger="clinic.knowledge")
    replace_in(
        clinic_dir / KNOWLEDGE_FILE_NAME, FIRST_ANSWER, f"{FIRST_ANSWER}          {EDITED}\n"
    )
    assert len(edited_answers(clinic_dir)) == 1
    assert get_knowledge(clinic_dir) is not before
    assert any("reloaded" in m and "treatments.yml" in m for m in records(caplog, logging.INFO))
    assert records(caplog, logging.WARNING) == []  # an answer needs no retraining


def test_a_price_edit_is_picked_up_and_the_settings_match_the_knowledge(clinic_dir: Path) -> None:
    assert get_settings(clinic_dir).prices["prp"].per_session == 350
    replace_in(clinic_dir / SETTINGS_FILE_NAME, "per_session: 350", "per_session: 375")
    assert get_settings(clinic_dir).prices["prp"].per_session == 375


def test_an_invalid_edit_keeps_the_last_good_version_and_logs_file_and_line_once(
    clinic_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = get_knowledge(clinic_dir)
    treatments = clinic_dir / KNOWLEDGE_FILE_NAME
    line = treatments.read_text().splitlines().index(PRP_NAME.rstrip("\n")) + 1
    replace_in(treatments, PRP_NAME, '    name: ""\n')
    for _ in range(3):
        assert get_knowledge(clinic_dir) is good
    errors = records(caplog, logging.ERROR)
    assert len(errors) == 1, errors  # once per bad version, not once per question
    assert f"treatments.yml:{line}: treatments[prp].name: must be a non-empty string" in errors[0]
    assert "still serving the last good version" in errors[0]

    # The fix is picked up, and a new mistake is reported again.
    caplog.clear()
    caplog.set_level(logging.INFO, logger="clinic.knowledge")
    replace_in(treatments, '    name: ""\n', "    name: PRP, platelet-rich plasma\n")
    assert get_knowledge(clinic_dir).treatments["prp"].name == "PRP, platelet-rich plasma"
    assert any("reloaded" in m for m in records(caplog, logging.INFO))
    replace_in(treatments, "version: 1", "version: 7")
    assert get_knowledge(clinic_dir).treatments["prp"].name == "PRP, platelet-rich plasma"
    assert len(records(caplog, logging.ERROR)) == 1


def test_a_yaml_syntax_error_in_an_edit_never_raises(
    clinic_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = get_settings(clinic_dir)
    replace_in(clinic_dir / SETTINGS_FILE_NAME, "currency: GBP", 'currency: "GBP')
    assert get_settings(clinic_dir) is good
    assert "clinic.yml:" in records(caplog, logging.ERROR)[0]


def test_a_name_change_warns_that_the_model_must_be_retrained(
    clinic_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    get_knowledge(clinic_dir)
    replace_in(clinic_dir / KNOWLEDGE_FILE_NAME, PRP_NAME, f"{PRP_NAME}    # renamed\n")
    get_knowledge(clinic_dir)  # a comment only: same names, no warning
    assert records(caplog, logging.WARNING) == []
    replace_in(
        clinic_dir / KNOWLEDGE_FILE_NAME, "    aliases:\n", "    aliases:\n      - zzglow facial\n"
    )
    assert "zzglow facial" in get_knowledge(clinic_dir).treatments["mesotherapy"].aliases
    (warning,) = records(caplog, logging.WARNING)
    assert "treatments.yml" in warning and "make train" in warning and "retrain" in warning


def test_a_knowledge_edit_the_settings_do_not_match_keeps_both_files_old(
    clinic_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A treatment removed from treatments.yml but still priced in clinic.yml: both stay at
    the last good pair until the price is removed too, so every treatment has a price."""
    settings = get_settings(clinic_dir)
    remove_treatment(clinic_dir, "exosomes", with_price=False)
    assert "exosomes" in get_knowledge(clinic_dir).treatments
    assert get_settings(clinic_dir) is settings
    (error,) = records(caplog, logging.ERROR)
    assert "clinic.yml:" in error and "prices.exosomes" in error

    remove_treatment(clinic_dir, "exosomes", with_price=True)  # the price goes too
    assert "exosomes" not in get_knowledge(clinic_dir).treatments
    assert set(get_settings(clinic_dir).prices) == set(get_knowledge(clinic_dir).treatments)


def test_files_are_looked_at_at_most_once_a_second(tmp_path: Path) -> None:
    directory = copy_knowledge(tmp_path / "knowledge")
    now = [100.0]
    live = LiveKnowledge(directory, clock=lambda: now[0])
    first = live.knowledge()
    replace_in(directory / KNOWLEDGE_FILE_NAME, FIRST_ANSWER, f"{FIRST_ANSWER}          {EDITED}\n")
    now[0] += 0.5
    assert live.knowledge() is first
    now[0] += 0.6
    assert live.knowledge() is not first


def test_readers_in_many_threads_always_get_a_whole_version(clinic_dir: Path) -> None:
    """A treatment removed and put back while four threads read: each reader gets knowledge
    and settings of one version, a price for every treatment, never an exception."""
    originals = {name: (clinic_dir / name).read_bytes() for name in FILES}
    failures: list[BaseException] = []
    seen: list[int] = []  # how many treatments the readers saw, in order
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                knowledge, settings = get_knowledge_and_settings(clinic_dir)
                assert set(settings.prices) == set(knowledge.treatments)
                seen.append(len(knowledge.treatments))
            except BaseException as error:  # reported below, in the test's thread
                failures.append(error)
                return
            time.sleep(0.002)

    def wait_until_seen(count: int) -> None:
        deadline = time.monotonic() + 20
        while not (seen and seen[-1] == count) and not failures:
            assert time.monotonic() < deadline, f"never served {count} treatments"
            time.sleep(0.01)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(2):
            remove_treatment(clinic_dir, "exosomes")
            wait_until_seen(4)
            for name, content in originals.items():  # one file, then the other
                (clinic_dir / name).write_bytes(content)
                touch_later(clinic_dir / name)
            wait_until_seen(5)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []


def test_cache_clear_still_reads_the_files_afresh(clinic_dir: Path) -> None:
    first = get_knowledge(clinic_dir)
    get_knowledge.cache_clear()
    get_settings.cache_clear()
    assert get_knowledge(clinic_dir) is not first
    assert get_knowledge(clinic_dir) == first  # same content, read again
