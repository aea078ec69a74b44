"""Button payloads in words for staff (clinic.payloads): never a payload or JSON."""

from __future__ import annotations

import pytest

from clinic.knowledge import get_knowledge
from clinic.payloads import is_payload, payload_words, treatment_name


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ('/ask_cost{"treatment":"prp"}', "Cost · PRP (platelet-rich plasma)"),
        ("/ask_recovery_time", "Recovery time"),
        ('/inform_treatment{"treatment":"exosomes"}', "Exosomes"),
        (
            '/compare_treatments{"treatment":["prp","exosomes"]}',
            "Compare treatments · PRP (platelet-rich plasma) vs Exosomes",
        ),
        ('/ask_concern{"concern":"acne_scars"}', "Treatments for a concern · Acne scars"),
        ("/request_booking", "Book a consultation"),
        ("/request_human", "Talk to a person"),
        ("/affirm", "Yes"),
        ("/deny", "No"),
        ("/report_complication", "Report a problem"),
        # Unknown intents and ids are put in words, not shown as identifiers.
        ("/ask_something_new", "Ask something new"),
        ('/ask_cost{"treatment":"laser_peel"}', "Cost · Laser peel"),
        ('/ask_cost{"treatment":"botox"}', "Cost · Botox"),
    ],
)
def test_payloads_become_what_the_button_said(payload: str, words: str) -> None:
    assert payload_words(payload, get_knowledge()) == words


@pytest.mark.parametrize(
    "payload",
    [
        '/ask_cost{"treatment":',  # cut short
        '/ask_cost{"treatment":{"id":"prp"}}',  # nested: nothing a person reads
        "/ask_cost[1,2]",
        '/ask_cost{"treatment":null}',
        '/ask_cost{"a":"}{"}',
    ],
)
def test_malformed_payloads_never_show_json(payload: str) -> None:
    words = payload_words(payload)
    assert words.startswith("Cost")
    for raw in ("{", "}", "[", "]", '"', "/ask"):
        assert raw not in words, (payload, words)


@pytest.mark.parametrize(
    "text", ["How much is PRP?", "/ not a payload", "see /faq", "", "my cheek {swollen}"]
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert not is_payload(text)
    assert payload_words(text) == text


def test_is_payload_recognises_button_payloads() -> None:
    assert is_payload('/ask_cost{"treatment":"prp"}')
    assert is_payload("  /affirm ")


def test_treatment_names_come_from_the_knowledge_file() -> None:
    knowledge = get_knowledge()
    assert treatment_name("prp", knowledge) == knowledge.treatments["prp"].name
    assert treatment_name("microneedling_prp") == "Microneedling with PRP (vampire facial)"
    assert treatment_name("botox") == "Botox"
    assert treatment_name("laser_peel") == "Laser peel"  # renamed since: words, not the id
