"""The second triage layer: catches the complications the readable rules miss.

A missed complication is the worst failure this assistant can have, and hand-written rules
miss new wording (measured in ``tests/triage/README.md``). So three layers read every patient
message, and the first that fires decides:

1. ``rules``: the red-flag rules (``clinic/red_flags.py``), which name the sign and say
   whether it is an emergency.
2. ``classifier``: a logistic regression over word and character n-grams, trained on the
   labelled triage messages (``data/triage/``) plus the assistant's ordinary training
   questions. Its threshold is chosen on a held-back development split: the lowest threshold
   whose false alarms on ordinary questions, added to the rules' own, stay within
   ``FALSE_ALARM_BUDGET``, which gives the most recall the budget allows.
3. ``symptom_screen``: the message says someone has a symptom now (a broad vocabulary, read
   with the same negation, resolution and general-question logic as the rules) and the
   intent classifier is not confident it is an ordinary question.

Layers 2 and 3 cannot name a sign: they lead to the "may need checking now" reply and a
ticket, never to the "did you mean" fallback.
"""

from __future__ import annotations

import pickle
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from clinic.red_flags import current_mention, detect, normalise

LAYERS = ("rules", "classifier", "symptom_screen")
FALSE_ALARM_BUDGET = 0.04  # of ordinary symptom questions, rules and classifier together
DEV_FRACTION = 0.25
# Above this confidence in an ordinary intent (e.g. ask_side_effects) the symptom screen
# defers to the answer: "my face is a bit red, how long does that last?" is a question.
ORDINARY_CONFIDENCE = 0.7

_SYMPTOMS = re.compile(
    r"\b(?:swell\w*|swollen|puff\w*|red|redness|redder|rash\w*|inflam\w*|pain\w*|hurt\w*|"
    r"sore\w*|ache\w*|aching|throb\w*|burn\w*|sting\w*|bumps?|lumps?|spots?|pimples?|bruis\w*|"
    r"itch\w*|blister\w*|numb\w*|tingl\w*|dizzy|faint\w*|woozy|light headed|blurr\w*|"
    r"vision|eyesight|eyes? (?:is|are|feels?|looks?)|eyelids?|hot|warm|leak\w*|ooz\w*|"
    r"crust\w*|scabs?|bleed\w*|tight\w*|pale|white|blue|purple|grey|gray|dark|blotch\w*|"
    r"breath\w*|wheez\w*|nause\w*|vomit\w*|fever\w*|temperature|shiver\w*|sweat\w*|clammy|"
    r"shaky|weak|(?:feels?|feeling|looks?|looking) (?:\w+ )?(?:weird|strange|funny|wrong|off|"
    r"odd))\b"
)


@dataclass(frozen=True)
class Triage:
    """Why a message is treated as a possible complication."""

    layer: str  # one of LAYERS
    sign: str | None  # named by the rules only
    emergency: bool
    evidence: str  # the matched words, or the classifier's score

    @classmethod
    def from_dict(cls, data: object) -> Triage | None:
        """The triage a message carries (``as_dict``'s output), or None if it carries none."""
        if not isinstance(data, dict) or data.get("layer") not in LAYERS:
            return None
        sign = data.get("sign")
        return cls(
            layer=str(data["layer"]),
            sign=str(sign) if sign else None,
            emergency=bool(data.get("emergency")),
            evidence=str(data.get("evidence") or ""),
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "sign": self.sign,
            "emergency": self.emergency,
            "evidence": self.evidence,
        }


class ComplicationClassifier:
    """Probability that a message reports a complication, with its chosen threshold."""

    def __init__(self, pipeline: Pipeline, threshold: float):
        self.pipeline = pipeline
        self.threshold = threshold

    @staticmethod
    def _new_pipeline() -> Pipeline:
        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                    ),
                ),
            ]
        )
        model = LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000)
        return Pipeline([("features", features), ("model", model)])

    @classmethod
    def train(
        cls,
        red_flags: Sequence[str],
        ordinary: Sequence[str],
        other_questions: Sequence[str] = (),
        seed: int = 7,
    ) -> ComplicationClassifier:
        """Train on labelled red flags and ordinary symptom questions (``other_questions``:
        the assistant's other training messages, extra negatives). The threshold is chosen on
        a development split of the labelled messages, then the model is refit on all."""
        rng = random.Random(seed)
        dev_red = set(rng.sample(range(len(red_flags)), round(len(red_flags) * DEV_FRACTION)))
        dev_ord = set(rng.sample(range(len(ordinary)), round(len(ordinary) * DEV_FRACTION)))
        split = cls._fit(
            [t for i, t in enumerate(red_flags) if i not in dev_red],
            [t for i, t in enumerate(ordinary) if i not in dev_ord],
            other_questions,
        )
        threshold = choose_threshold(
            split,
            [red_flags[i] for i in sorted(dev_red)],
            [ordinary[i] for i in sorted(dev_ord)],
        )
        return cls(cls._fit(red_flags, ordinary, other_questions), threshold)

    @classmethod
    def _fit(
        cls, red_flags: Sequence[str], ordinary: Sequence[str], other: Sequence[str]
    ) -> Pipeline:
        texts = [normalise(text) for text in (*red_flags, *ordinary, *other)]
        labels = [1] * len(red_flags) + [0] * (len(ordinary) + len(other))
        return cls._new_pipeline().fit(texts, labels)

    def probability(self, text: str) -> float:
        return float(self.pipeline.predict_proba([normalise(text)])[0][1])

    def fires(self, text: str) -> bool:
        return self.probability(text) >= self.threshold

    def to_bytes(self) -> bytes:
        return pickle.dumps({"pipeline": self.pipeline, "threshold": self.threshold})

    @classmethod
    def from_bytes(cls, data: bytes) -> ComplicationClassifier:
        state = pickle.loads(data)
        return cls(state["pipeline"], float(state["threshold"]))


def choose_threshold(
    pipeline: Pipeline, red_flags: Sequence[str], ordinary: Sequence[str]
) -> float:
    """The lowest threshold (most recall) whose false alarms on the development ordinary
    questions, together with the rules' own, stay within FALSE_ALARM_BUDGET."""
    ordinary_scores = [
        float(score)
        for text, score in zip(
            ordinary, pipeline.predict_proba([normalise(t) for t in ordinary])[:, 1], strict=False
        )
        if detect(text) is None  # the rules' false alarms are counted once, below
    ]
    rules_alarms = len(ordinary) - len(ordinary_scores)
    allowed = int(FALSE_ALARM_BUDGET * len(ordinary)) - rules_alarms
    if allowed < 0:
        return 1.01  # the rules alone use the budget: the classifier stays quiet
    ranked = sorted(ordinary_scores, reverse=True)
    # Just above the (allowed+1)-th highest ordinary score: at most `allowed` fire.
    threshold = ranked[allowed] + 1e-6 if allowed < len(ranked) else 0.0
    return min(max(threshold, 0.05), 0.95)


# A message saying its symptom is mild or already improving is an ordinary question for the
# screen (the rules still read it): "a bit pink, fading already", "much less than last night".
_MILD_OR_IMPROVING = re.compile(
    r"\b(?:fading|faded|already|better|improving|easing|eased|settling|settled|calming|"
    r"going down|gone down|less than|returned to normal|back to normal|cooling down|gone|"
    r"went away|healed|cleared|fine now|looks good|lovely|"
    r"(?:is|are|feels?|looks?) (?:fine|ok|okay|normal|good)|"
    r"pain (?:tolerance|threshold)|scared of (?:the )?pain)\b"
)
_MILD_BEFORE = re.compile(
    r"(?:a bit|bit|a little|little|slight|slightly|tiny|mild|mildly|faint|faintly|small|"
    r"a touch|pinpoint|few) (?:of )?(?:\w+ )?$"
)


def current_symptom(text: str) -> str | None:
    """The symptom words the message says someone has now, unless it says they are mild or
    improving; or None."""
    normalised = normalise(text)
    if _MILD_OR_IMPROVING.search(normalised):
        return None
    symptom = current_mention(text, _SYMPTOMS)
    if symptom is None:
        return None
    before = normalised[: normalised.find(symptom)] if symptom in normalised else ""
    return None if _MILD_BEFORE.search(before) else symptom


def triage(
    text: str,
    classifier: ComplicationClassifier | None = None,
    ordinary_confidence: float = 0.0,
) -> Triage | None:
    """The first layer that treats ``text`` as a possible complication, or None.

    ``ordinary_confidence``: the intent classifier's confidence in its best ordinary intent
    (0 when unknown, which leaves the symptom screen on).
    """
    flag = detect(text)
    if flag is not None:
        return Triage("rules", flag.sign, flag.emergency, flag.phrase)
    if classifier is not None:
        score = classifier.probability(text)
        if score >= classifier.threshold:
            return Triage("classifier", None, False, f"score {score:.2f}")
    if ordinary_confidence < ORDINARY_CONFIDENCE:
        symptom = current_symptom(text)
        if symptom is not None:
            return Triage("symptom_screen", None, False, symptom)
    return None
