"""Medicine and dosing questions are recognised, whatever treatment they name."""

from __future__ import annotations

import pytest

from clinic.medication import asks_about_medication


@pytest.mark.parametrize(
    "text",
    [
        "What dose of minoxidil should I use with exosomes?",
        "can I take ibuprofen after PRP?",
        "how many mg of biotin for hair growth",
        "should I stop my blood thinners before PRP?",
        "can you prescribe finasteride with the mesotherapy",
        "is it ok to take paracetamol before microneedling",
    ],
)
def test_medicine_questions(text: str) -> None:
    assert asks_about_medication(text)


@pytest.mark.parametrize(
    "text",
    [
        "how much is prp",
        "how many sessions of mesotherapy do I need",
        "can I wear makeup after microneedling",
        "can i use retinol after the dermapen",
        "what is prp",
        "do I need to prepare anything before exosomes",
    ],
)
def test_treatment_questions_are_not_medicine_questions(text: str) -> None:
    assert not asks_about_medication(text)
