"""The knowledge and clinic settings loaders: complete content, and clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from clinic.check import check
from clinic.contract import TOPICS
from clinic.knowledge import get_knowledge, missing_seed_files, parse_knowledge
from clinic.paths import KNOWLEDGE_FILE_NAME, PROJECT_ROOT, SEEDS_DIR, SETTINGS_FILE_NAME
from clinic.settings import parse_settings
from clinic.yaml_source import KnowledgeError

TREATMENT_IDS = ["mesotherapy", "prp", "microneedling", "microneedling_prp", "exosomes"]
CONCERN_IDS = [
    "acne_scars",
    "wrinkles",
    "pigmentation",
    "hair_loss",
    "cellulite",
    "texture",
    "dull_skin",
]


@pytest.fixture(scope="module")
def knowledge():
    return get_knowledge()


def test_treatments_are_the_fixed_ids(knowledge) -> None:
    assert list(knowledge.treatments) == TREATMENT_IDS


def test_concerns_are_the_fixed_ids(knowledge) -> None:
    assert sorted(knowledge.concerns) == sorted(CONCERN_IDS)


@pytest.mark.parametrize("treatment_id", TREATMENT_IDS)
@pytest.mark.parametrize("topic", list(TOPICS))
def test_every_treatment_answers_every_topic(knowledge, treatment_id: str, topic: str) -> None:
    answer = knowledge.treatments[treatment_id].answers[topic]
    assert len(answer.text.split()) >= 15
    assert set(answer.sources) <= set(knowledge.sources)
    if not answer.sources:  # the seeds are silent: the clinic confirms, nothing invented
        assert "consultation" in answer.text.lower()


def test_every_seed_cited_is_registered_and_used(knowledge) -> None:
    cited = {
        source
        for treatment in knowledge.treatments.values()
        for answer in [*treatment.answers.values(), treatment.notice]
        if answer is not None
        for source in answer.sources
    }
    cited |= {s for c in knowledge.comparisons for s in c.sources}
    cited |= {s for c in knowledge.concerns.values() for s in c.sources}
    assert cited == set(knowledge.sources)


def test_cited_seed_files_exist_or_the_check_says_it_did_not_look() -> None:
    summary = check(PROJECT_ROOT / "knowledge")
    if SEEDS_DIR.is_dir():
        assert missing_seed_files(get_knowledge(), SEEDS_DIR) == []
        assert "sources ok" in summary
    else:
        assert "sources not checked: the source documents are not beside the project" in summary


def _seeds(tmp_path, leave_out: str | None = None):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for name in get_knowledge().sources:
        if name != leave_out:
            (seeds / name).write_text("a source document")
    return seeds


def test_every_cited_source_document_is_found(tmp_path) -> None:
    assert "sources ok: 5 documents" in check(PROJECT_ROOT / "knowledge", _seeds(tmp_path))


def test_a_missing_source_document_is_named_with_its_line(tmp_path) -> None:
    missing = sorted(get_knowledge().sources)[0]
    with pytest.raises(KnowledgeError) as raised:
        check(PROJECT_ROOT / "knowledge", _seeds(tmp_path, leave_out=missing))
    assert raised.value.field == f"sources.{missing}"
    assert raised.value.line == _line_of(PROJECT_ROOT / "knowledge" / KNOWLEDGE_FILE_NAME, missing)
    assert "no such file" in raised.value.problem


def test_without_the_source_documents_the_check_says_so(tmp_path) -> None:
    summary = check(PROJECT_ROOT / "knowledge", tmp_path / "nowhere")
    assert "sources not checked: the source documents are not beside the project" in summary


def test_required_safety_notices(knowledge) -> None:
    exosomes = knowledge.treatments["exosomes"].notice
    assert "donor" in exosomes.text.lower() and "not approved" in exosomes.text.lower()
    assert "004_fd0850f422e385f0.txt" in exosomes.sources
    prp = knowledge.treatments["prp"]
    for text in (prp.notice.text, prp.answers["candidacy"].text):
        assert re.search(r"blood[- ](related )?disorder", text.lower())


@pytest.mark.parametrize(
    "pair",
    [("prp", "exosomes"), ("mesotherapy", "prp"), ("microneedling", "mesotherapy"),
     ("microneedling", "microneedling_prp")],
)  # fmt: skip
def test_seed_backed_comparisons_exist(knowledge, pair) -> None:
    assert knowledge.comparison_for(pair) is not None
    assert knowledge.comparison_for(reversed(pair)) is not None


def test_settings_price_every_treatment(knowledge) -> None:
    settings = parse_settings(PROJECT_ROOT / "knowledge" / SETTINGS_FILE_NAME, knowledge)
    assert settings.is_example
    assert set(settings.prices) == set(TREATMENT_IDS)
    assert settings.opening_hours["sunday"] is None


# --- broken files: each error names the file, the line and the field -----------------------


def _copy_with(tmp_path: Path, file_name: str, old: str, new: str, count: int = 1) -> Path:
    directory = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", directory)
    path = directory / file_name
    text = path.read_text()
    assert old in text, f"test setup: {old!r} not in {file_name}"
    path.write_text(text.replace(old, new, count))
    return path


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "old, new, marker, field, problem",
    [
        ("name: Mesotherapy", "name: ''", "name: ''", "treatments[mesotherapy].name", "must be a non-empty string"),
        ("    aliases:", "    aliasses:", "aliasses:", "treatments[mesotherapy].aliasses", "unknown field"),
        ("- id: prp", "- id: PRP!", "id: PRP!", "treatments[item 2].id", "lower_snake_case"),
        ("version: 1", "version: 7", "version: 7", "version", "unsupported version"),
    ],
)  # fmt: skip
def test_broken_knowledge_names_line_and_field(tmp_path, old, new, marker, field, problem) -> None:
    path = _copy_with(tmp_path, KNOWLEDGE_FILE_NAME, old, new)
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(path)
    error = raised.value
    assert (error.line, error.field) == (_line_of(path, marker), field)
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{error.line}: {field}: ")


PARAPHRASED_SOURCE = "001_6d08b78a9e82c8ac.txt"
PARAPHRASED_DISPLAY_TITLE = (
    '    display_title: "Microneedling with PRP: how it works, benefits, risks and FAQ"\n'
)


def test_patients_see_display_titles_that_never_say_paraphrased(knowledge) -> None:
    assert set(knowledge.display_titles) == set(knowledge.sources)
    assert "paraphrased" in knowledge.sources[PARAPHRASED_SOURCE]  # the team's title says so
    for name, shown in knowledge.display_titles.items():
        assert shown.strip() and "paraphras" not in shown.lower(), name
    assert knowledge.display_titles[PARAPHRASED_SOURCE] == (
        "Microneedling with PRP: how it works, benefits, risks and FAQ"
    )


def test_a_source_without_a_display_title_shows_its_title(tmp_path) -> None:
    path = _copy_with(
        tmp_path,
        KNOWLEDGE_FILE_NAME,
        '    display_title: "Regenerative medicine in aesthetics: PRP and exosomes"\n',
        "",
    )
    knowledge = parse_knowledge(path)
    assert (
        knowledge.display_titles["004_fd0850f422e385f0.txt"]
        == (knowledge.sources["004_fd0850f422e385f0.txt"])
    )


@pytest.mark.parametrize(
    "new, marker, field, problem",
    [
        ('    display_title: "Microneedling with PRP (Paraphrased)"\n', "(Paraphrased)",
         "display_title", "is shown to patients: leave out how the document was made"),
        ("", "machine-paraphrased", "title", "add a display_title for patients"),
        ('    display_title: ""\n', 'display_title: ""', "display_title", "non-empty"),
        ('    display_titel: "Microneedling with PRP"\n', "display_titel", "display_titel",
         "unknown field"),
    ],
)  # fmt: skip
def test_a_display_title_that_patients_should_not_see_is_refused(
    tmp_path, new, marker, field, problem
) -> None:
    path = _copy_with(tmp_path, KNOWLEDGE_FILE_NAME, PARAPHRASED_DISPLAY_TITLE, new)
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(path)
    assert raised.value.field == f"sources.{PARAPHRASED_SOURCE}.{field}"
    assert raised.value.line == _line_of(path, marker)
    assert problem in raised.value.problem


def test_citing_an_unlisted_source_is_refused(tmp_path) -> None:
    path = _copy_with(
        tmp_path, KNOWLEDGE_FILE_NAME, "  004_fd0850f422e385f0.txt:\n", "  004_renamed.txt:\n"
    )
    with pytest.raises(
        KnowledgeError, match=re.escape("'004_fd0850f422e385f0.txt' is not listed under 'sources:'")
    ):
        parse_knowledge(path)


def test_missing_topic_is_reported(tmp_path) -> None:
    path = _copy_with(tmp_path, KNOWLEDGE_FILE_NAME, "      pain:", "      painn:")
    with pytest.raises(
        KnowledgeError, match=r"treatments\[mesotherapy\]\.answers\.painn: unknown field"
    ):
        parse_knowledge(path)


def test_unsupported_answer_without_sources_is_refused(tmp_path) -> None:
    directory = tmp_path / "knowledge"
    shutil.copytree(PROJECT_ROOT / "knowledge", directory)
    path = directory / KNOWLEDGE_FILE_NAME
    text = path.read_text()
    start = text.index("      overview:")
    end = text.index("sources:", start)
    line_end = text.index("\n", end)
    path.write_text(text[:end] + "sources: []" + text[line_end:])
    with pytest.raises(KnowledgeError, match="must say the clinic confirms it at consultation"):
        parse_knowledge(path)


def test_yaml_syntax_error_names_line(tmp_path) -> None:
    path = _copy_with(tmp_path, KNOWLEDGE_FILE_NAME, "name: Mesotherapy", "name: [Mesotherapy")
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(path)
    assert raised.value.field == "(syntax)" and raised.value.line > 0


def test_alias_naming_two_treatments_is_refused(tmp_path) -> None:
    # "P.R.P." added to mesotherapy collides with PRP's own id once punctuation is ignored.
    path = _copy_with(
        tmp_path, KNOWLEDGE_FILE_NAME, "      - meso\n", "      - meso\n      - P.R.P.\n"
    )
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(path)
    assert raised.value.line == _line_of(path, "- id: prp")
    assert raised.value.problem == (
        "'prp' names both treatment 'prp' and treatment 'mesotherapy' "
        f"(as 'P.R.P.' at line {_line_of(path, '- P.R.P.')})"
    )


def test_missing_file_is_reported(tmp_path) -> None:
    with pytest.raises(KnowledgeError, match="file not found"):
        parse_knowledge(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    "old, new, field, problem",
    [
        ('saturday: "10:00-14:00"', 'saturday: "10-2"', "opening_hours.saturday", "HH:MM-HH:MM"),
        (
            'saturday: "10:00-14:00"',
            'saturday: "14:00-10:00"',
            "opening_hours.saturday",
            "after opening",
        ),
        ("per_session: 350", "per_session: cheap", "prices.prp.per_session", "must be a number"),
        ("course_sessions: 3", "course_sessions: 0", "prices.prp.course_sessions", "whole number"),
        (
            "booking_url: https://example.com/book",
            "booking_url: example.com",
            "booking_url",
            "https://",
        ),
        ("time_zone: Europe/London", "time_zone: Europe/Londn", "time_zone", "IANA"),
        (
            'non_emergency_line: "111"',
            'non_emergency_line: ""',
            "out_of_hours.non_emergency_line",
            "non-empty",
        ),
    ],
)
def test_broken_settings_name_line_and_field(tmp_path, knowledge, old, new, field, problem) -> None:
    path = _copy_with(tmp_path, SETTINGS_FILE_NAME, old, new)
    with pytest.raises(KnowledgeError) as raised:
        parse_settings(path, knowledge)
    assert raised.value.field == field
    assert raised.value.line == _line_of(path, new)
    assert problem in raised.value.problem


def test_settings_without_a_price_for_a_treatment(tmp_path, knowledge) -> None:
    path = _copy_with(tmp_path, SETTINGS_FILE_NAME, "  exosomes:\n", "  exosome:\n")
    with pytest.raises(KnowledgeError, match=r"prices\.exosome: unknown field"):
        parse_settings(path, knowledge)


def test_combines_must_name_known_treatments(tmp_path, knowledge) -> None:
    path = _copy_with(
        tmp_path,
        KNOWLEDGE_FILE_NAME,
        "combines: [microneedling, prp]",
        "combines: [microneedling, prq]",
    )
    with pytest.raises(KnowledgeError) as raised:
        parse_knowledge(path)
    assert (
        raised.value.field == "treatments[microneedling_prp].combines[item 2]"
        and "unknown treatment" in raised.value.problem
    )


def test_the_combination_of_microneedling_and_prp(knowledge) -> None:
    assert knowledge.combinations() == {"microneedling_prp": ("microneedling", "prp")}
