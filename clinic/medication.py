"""Questions about medicines and doses: declined in every state, even with a treatment named.

The assistant gives no dosing or prescribing advice ("What dose of minoxidil should I use
with exosomes?", "can I take ibuprofen after PRP?"); it points to the prescriber, a
pharmacist or the clinic. A complication asked as a medicine question ("can I take an
antihistamine? my lips are swelling") is caught by the triage first.
"""

from __future__ import annotations

import re

from clinic.red_flags import normalise

_MEDICINES = (
    r"minoxidil|regaine|rogaine|finasteride|propecia|dutasteride|ibuprofen|nurofen|advil|"
    r"paracetamol|acetaminophen|tylenol|aspirin|antibiotics?|isotretinoin|roaccutane|accutane|"
    r"tretinoin|retinoids?|antihistamines?|cetirizine|loratadine|benadryl|piriton|steroids?|"
    r"prednisolone|hydrocortisone|painkillers?|pain killers?|co codamol|codeine|tramadol|"
    r"valacyclovir|valaciclovir|aciclovir|acyclovir|antivirals?|warfarin|apixaban|"
    r"rivaroxaban|blood thinners?|anticoagulants?|metformin|spironolactone|biotin|"
    r"supplements?|tablets?|pills?|medication|medicines?|meds|drugs?"
)
_DOSING = (
    r"doses?|dosage|dosing|how much|how many|mg|milligrams?|ml|how often (?:should|do|can) i "
    r"take|can i take|should i take|could i take|may i take|safe to take|ok to take|okay to take|"
    r"fine to take|stop taking|keep taking|carry on taking|take (?:it|them) with|"
    r"prescribe|prescription|should i use|can i use|should i apply|can i apply|stop|stopping|"
    r"pause|come off"
)
_ALWAYS = re.compile(r"\b(?:dose|doses|dosage|dosing|prescribe|prescription|milligrams?)\b")
_MEDICINE = re.compile(rf"\b(?:{_MEDICINES})\b")
_DOSE = re.compile(rf"\b(?:{_DOSING})\b")


def asks_about_medication(text: str) -> bool:
    """Whether ``text`` asks which medicine to take, how much, or whether to take it."""
    normalised = normalise(text)
    if _ALWAYS.search(normalised):
        return True
    return bool(_MEDICINE.search(normalised) and _DOSE.search(normalised))
