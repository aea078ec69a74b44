"""Red flags: signs of a complication after a treatment, checked before anything else.

``detect(text)`` returns a :class:`RedFlag` (``sign``, ``emergency``, ``phrase``) or ``None``.
It is deterministic and meant to be read by the clinic: word patterns, no model. It is the
first of three triage layers (``clinic/complication_screen.py``); what the patient is told
for each sign is in ``clinic/urgent_advice.py``.

Signs (``SIGNS``; ``SIGN_DESCRIPTIONS`` names them for patients). Emergency patterns (the
reply gives the emergency number first) and call-the-clinic patterns are listed per sign:

- ``allergic_reaction``: swelling of lips, tongue, throat or mouth, eyes swollen shut, trouble
  breathing or swallowing, wheezing, a tight chest (emergency); hives, nettle rash, an itchy
  rash or lumps, "an allergic reaction" (not);
- ``vision_change`` (emergency): blurred, foggy, dim, dark or double vision, a shadow,
  curtain or smudge over the sight, part of the sight lost, a drooping eyelid;
- ``skin_colour_change`` (emergency; a blocked blood vessel): white, pale, grey, blue, purple,
  violet, dusky, mottled, lacy, marbled, web- or net-like skin, cold to the touch, colour slow
  to come back when pressed (not a bruise changing colour);
- ``fever``, ``pus`` (pus, oozing, yellow heads, "looks infected"), ``spreading_redness``
  (spreading, moving onto the neck or past a line, red and hot), ``worsening_pain`` (worse
  each day, severe, waking the patient, making them cry, 7-10 out of 10), ``blisters`` (a
  spreading cluster too), ``lump_changes`` (weeks later: growing, red, hot, leaking),
  ``spreading_bruise`` (spreading, with numb or tingling fingers, on blood thinners);
- ``fainting``: collapse, passing out, a head injury, confusion, or still faint hours later
  (emergency); nearly fainting, woozy, sweaty and shaky (not).

How a message is read:

1. Normalise: lower case, apostrophes dropped ("can't" -> "cant"), common contractions,
   shorthand and misspellings made canonical (``_PHRASES``, ``_WORDS``), letters repeated
   three or more times cut to two, hedges ("not sure if") turned into "maybe". Split into
   sentences (. ! ? ; new line) and clauses (commas, colons, dashes, "but", "although").
2. Find every sign pattern in each sentence. A match does not count when:
   a. it is negated: a negation ("no", "not", "without", "don't", "hasn't"...) before it in
      its clause, separated from it only by filler words ("no fever", "haven't had any
      pus", "no fever or chills");
   b. it is resolved or in the distant past: its clause, or a following clause that refers
      back to it ("..., but it's gone"), says it went away ("gone", "healed", "settled")
      or is long ago ("last month", "years ago"), unless the sentence says it came back;
   c. it is a general question, not the patient's own state: the last cue before it is a
      general or hypothetical one (``_GENERAL``: "is it normal", "will I", "can X cause",
      "how long", "what if", "side effects", "my friend", "I heard"...) rather than a
      current-state one (``_CURRENT``: "my ... is/are", "I have", "I'm", "there's", "now",
      "since"...). A current-state cue after "if"/"whether" in its clause, or right after
      a modal ("will I have"), does not count. Cues are looked for in the sentence before
      the match; for emergency signs only in its clause, so "my lips are swelling, is that
      normal?" and "swollen tongue, is that normal?" always escalate. With no cue before it,
      a match counts, unless a general predicate follows it ("blisters are a side effect?",
      "blisters, bruising - which of these are normal?"). A general question still counts
      when the next sentence says it is happening ("Is X normal? It started an hour ago");
   d. its sign's ``unless`` words are in its clause: a bruise for skin colour ("the bruise
      has turned purple"), an infection elsewhere ("chest infection"), blisters on the feet
      or hands.
3. Emergency signs win over the others; then the earliest match.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# --- public API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RedFlag:
    sign: str  # one of SIGN_DESCRIPTIONS
    emergency: bool  # True: tell the patient to call the emergency number now
    phrase: str  # the words that matched, normalised (lower case, no apostrophes)


SIGN_DESCRIPTIONS = {
    "fever": "a fever",
    "pus": "pus, oozing or signs of infection",
    "spreading_redness": "redness that is spreading or hot",
    "worsening_pain": "pain that is getting worse or is severe",
    "blisters": "blisters",
    "skin_colour_change": "skin turning white, grey, blue or purple",
    "allergic_reaction": "signs of an allergic reaction",
    "vision_change": "a change in your vision",
    "lump_changes": "a lump that is growing, red, hot or leaking",
    "spreading_bruise": "a bruise that is spreading, with swelling, pain or numbness",
    "fainting": "fainting or feeling faint",
}

EMERGENCY_SIGNS_TEXT = (
    "trouble breathing, swelling of your lips, tongue or throat, a change in your vision, "
    "or skin turning white, grey, blue or purple"
)


def detect(text: str) -> RedFlag | None:
    """The most urgent red flag in a patient's message, or None."""
    parts = sentences(normalise(text))
    message = " . ".join(parts)
    signs = [sign for sign in SIGNS if not sign.requires or sign.requires.search(message)]
    found = [hit for index in range(len(parts)) for hit in _flags(parts, index, signs)]
    if not found:
        return None
    found.sort(key=lambda hit: (not hit[1].emergency, hit[0]))
    return found[0][1]


def current_mention(text: str, pattern: re.Pattern[str]) -> str | None:
    """The first words matching ``pattern`` (on the normalised text) that the message says are
    happening now: read as the signs are (not negated, not resolved or past, not a general
    question), and stricter, since the vocabulary is broad: a current-state cue ("my ... is",
    "I have", "since", "now") must come before the words. The symptom screen uses it."""
    parts = sentences(normalise(text))
    Sign("mention", False, pattern)
    for _index, sentence in enumerate(parts):
        for match in _every_match(pattern, sentence):
            start, end = _clause_bounds(sentence, match.start())
            if _negated(sentence[start : match.start()]) or _resolved(sentence, start, end):
                continue
            scope = _after_last_but(sentence, match.start())
            if _about_own_state(sentence, scope, end, match, require_cue=True):
                return match.group()
    return None


# --- normalisation --------------------------------------------------------------------------

_HEDGES = re.compile(
    r"\b(?:im )?(?:not sure|unsure|not certain|dont know|no idea)(?: if| whether| but)?\b"
)
_PHRASES = {  # canonical forms, applied after apostrophes are dropped
    r"\bdo not\b": "dont",
    r"\bdoes not\b": "doesnt",
    r"\bdid not\b": "didnt",
    r"\bis not\b": "isnt",
    r"\bare not\b": "arent",
    r"\bhas not\b": "hasnt",
    r"\bhave not\b": "havent",
    r"\bcan ?not\b": "cant",
    r"\bcould not\b": "couldnt",
    r"\bi am\b": "im",
    r"\bi will\b": "ill",
    r"\bit is\b": "its",
    r"\bthere is\b": "theres",
}
_WORDS = {  # shorthand and misspellings seen in patient messages
    "r": "are",
    "u": "you",
    "n": "and",
    "ur": "your",
    "fevar": "fever",
    "fevor": "fever",
    "feaver": "fever",
    "fevre": "fever",
    "fver": "fever",
    "temprature": "temperature",
    "tempreture": "temperature",
    "temperture": "temperature",
    "tempature": "temperature",
    "puss": "pus",
    "ozing": "oozing",
    "oozin": "oozing",
    "weaping": "weeping",
    "weepin": "weeping",
    "swolen": "swollen",
    "swolan": "swollen",
    "swollon": "swollen",
    "sweling": "swelling",
    "swellin": "swelling",
    "swellng": "swelling",
    "blistr": "blister",
    "blistrs": "blisters",
    "blisers": "blisters",
    "blistes": "blisters",
    "blisteres": "blisters",
    "blisterd": "blistered",
    "blury": "blurry",
    "blurr": "blurry",
    "blured": "blurred",
    "vison": "vision",
    "visoin": "vision",
    "vission": "vision",
    "eyesite": "eyesight",
    "eysight": "eyesight",
    "brethe": "breathe",
    "breahte": "breathe",
    "breathin": "breathing",
    "tounge": "tongue",
    "toungue": "tongue",
    "tonge": "tongue",
    "throut": "throat",
    "thraot": "throat",
    "infeted": "infected",
    "infectd": "infected",
    "infcted": "infected",
    "painfull": "painful",
    "rednes": "redness",
    "purpel": "purple",
    "purpal": "purple",
    "wheezin": "wheezing",
}
_APOSTROPHES = re.compile(r"['\u2018\u2019`\u00b4]")
_SENTENCE_BREAK = re.compile(r"(?:(?<!\d)\.|\.(?!\d)|[!?;\n])+")
_CLAUSE_MARK = re.compile(r"[,:()\[\]\u2013\u2014]|(?<![a-z])-|-(?![a-z])|\.{2,}")
_OTHER = re.compile(r"[^a-z0-9., ]+")  # after sentence breaks became " . "
_REPEATS = re.compile(r"([a-z])\1{2,}")


def normalise(text: str) -> str:
    """Lower case, canonical spelling; sentence breaks as ' . ', clause breaks as ' , '."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES.sub("", text).replace("\u00b0", " degrees ").replace("&", " and ")
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    text = re.sub(r"(?<=\d)(?=[a-z])", " ", text)  # "101f" -> "101 f"
    text = _SENTENCE_BREAK.sub(" . ", _CLAUSE_MARK.sub(" , ", text))
    text = _OTHER.sub(" ", text)
    words = [_WORDS.get(word, word) for word in _REPEATS.sub(r"\1\1", text).split(" ")]
    text = " ".join(word for word in words if word)
    for pattern, canonical in _PHRASES.items():
        text = re.sub(pattern, canonical, text)
    return _HEDGES.sub("maybe", text).strip(" ,.")


def sentences(normalised: str) -> list[str]:
    parts = (part.strip(" ,") for part in _SENTENCE_BREAK.split(normalised))
    return [re.sub(r"(?: ,)+", " ,", part) for part in parts if part]


# --- sign patterns ----------------------------------------------------------------------------

_NEGATIONS = (
    r"no|not|never|without|none|nor|neither|dont|doesnt|didnt|isnt|arent|wasnt|werent|"
    r"hasnt|havent|hadnt|wont"
)
_BREAKS = r"but|although|though|however|whereas"


def _gap(words: int, across_clauses: bool = False) -> str:
    """Up to ``words`` words between two parts of a sign, never a negation; never a clause
    break either, unless ``across_clauses`` (for signs told as a story: "a lump, which I was
    told would settle, but it kept growing")."""
    if across_clauses:
        return rf"(?:(?!(?:{_NEGATIONS})\b)(?:[a-z0-9.]+|,) ){{0,{words}}}"
    return rf"(?:(?!(?:{_NEGATIONS}|{_BREAKS})\b)[a-z0-9.]+ ){{0,{words}}}"


@dataclass(frozen=True)
class Sign:
    sign: str
    emergency: bool
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None  # in the match's clause: not this sign
    requires: re.Pattern[str] | None = None  # somewhere in the message: else not this sign
    late: bool = False  # a sign that appears weeks later: "3 weeks ago" does not make it past


def _sign(
    sign: str,
    emergency: bool,
    *alternatives: str,
    unless: str | None = None,
    requires: str | None = None,
    late: bool = False,
) -> Sign:
    pattern = re.compile("|".join(rf"\b(?:{alt})\b" for alt in alternatives))
    return Sign(
        sign,
        emergency,
        pattern,
        re.compile(unless) if unless else None,
        re.compile(requires) if requires else None,
        late,
    )


_VESSEL_COLOURS = (
    r"white|whitish|grey|gray|greyish|grayish|blue|bluish|blueish|purple|purplish|dusky|"
    r"mottled|black|dark (?:purple|blue|grey|gray)|pale|paler|violet|marbled|blotchy dark|"
    r"blotchy and dark(?:er)?|dark and blotchy|darker and blotchy"
)
_CHANGE_VERBS = (
    r"went|gone|going|goes|go|turned|turning|turns|turn|become|became|becoming|looks?|looking"
)
_MODIFIERS = (
    r"very|really|a bit|a little|kind of|kinda|sort of|slightly|all|quite|a|an|weird|strange|"
    r"funny|odd|like|almost|much|now"
)
_RED = r"red|redness|rash|red patch|red area|red bit|red mark|inflammation|inflamed area"
_PAIN = (
    r"pain|pains|painful|sore|soreness|ache|aches|aching|achy|hurts?|hurting|throbbing|"
    r"throbs|tender|tenderness|stinging|discomfort"
)
_SOMEONE = r"me|her|him|them|us"
_LUMP = r"lumps?|bumps?|nodules?|knots?|balls?|swelling|swellings|cysts?"
_GROWING = (
    r"grow\w*|grown|getting bigger|got bigger|gotten bigger|becomes? bigger|became bigger|"
    r"bigger and bigger|(?:got |getting |become |became |now )?larger|"
    r"now bigger|bigger now|bigger than"
)
_STILL_FAINT = r"faint|woozy|dizzy|light headed|lightheaded"
_AFTER_A_FAINT = (
    r"\b(?:faint\w*|passed out|pass out|black\w* out|collaps\w*|fell|fall|floor|ground|blood|"
    r"dizzy|woozy|light headed|lightheaded|hit|head|drive|driving|stand)\b"
)
_BETTER = r"better|improving|easing|settling|going away|gone away|calming down"
_CHANGE_SINCE = (
    r"(?:every|each|by the) (?:day|hour|minute)|"
    r"than (?:yesterday|before|earlier|this morning|last night|it was)|(?:today|now|tonight) than"
)

SIGNS: tuple[Sign, ...] = (
    _sign(
        "allergic_reaction",
        True,
        rf"(?:lips?|tongue|throat|mouth|eyelids?) {_gap(4)}(?:swell\w*|swollen|puff\w* up|"
        r"blown up|balloon\w*|getting bigger|tight|tightening|closing(?: up)?|closed up|thick|"
        r"puffy|"
        r"huge|massive|enormous|big|doubled|twice the size|twice as big)",
        r"(?:swollen|swelling|puffy|fat|thick) (?:lips?|tongue|throat|mouth)",
        r"swelling (?:of|in|on|around) (?:my |the |her |his )?(?:lips?|tongue|throat|mouth)",
        r"(?:cant|couldnt|struggling to|struggle to|hard to|difficult to|difficulty|trouble|"
        r"problems?|unable to|not (?:be )?able to|hard time|can barely|can hardly) (?:\w+ ){0,5}"
        r"(?:breathe|breath|"
        r"breathing|swallow|swallowing|catch my breath|get my breath)",
        r"short(?:ness)? of breath|breathless|out of breath|wheez\w*|gasping|"
        r"chest (?:is |feels |feeling |has gone |went )?(?:tight|tightening)|tight chest|"
        r"tightness in (?:my |the )?chest|anaphyla\w*",
        rf"(?:eyes?|eyelids?|face) {_gap(3)}swollen shut|swollen shut|"
        r"(?:cant|can barely|can hardly|unable to) open (?:my|her|his|their) eyes",
    ),
    _sign(
        "allergic_reaction",
        False,
        r"hives|welts|allergic reaction|allergic rash|having a reaction|reacting badly|"
        r"bad reaction|rash all over|itchy all over|itching all over",
        r"nettle rash|urticaria|(?:lumpy|blotchy|bumpy) and itchy|"
        r"itchy and (?:lumpy|bumpy|blotchy)|"
        r"itchy (?:\w+ ){0,2}(?:rash|bumps|lumps|welts|spots|blotches|patches)|"
        r"(?:rash|bumps|lumps|welts|blotches) (?:\w+ ){0,3}(?:itchy|itching|itches)",
    ),
    _sign(
        "vision_change",
        True,
        rf"(?:vision|eyesight|sight) {_gap(5)}(?:blurry|blurred|blurring|fuzzy|dim|dimmed|"
        r"dimming|dark|darker|black|grey|gray|double|cloudy|misty|hazy|wobbly|patchy|spotty|"
        r"weird|strange|funny|changed|changing|foggy|fog|like fog|shadow)",
        r"(?:shadow|curtain|dark spot|grey patch|gray patch|blurry patch|blind patch|black spot|"
        r"fog|haze) (?:\w+ ){0,6}(?:vision|eyesight|sight|eyes?)",
        rf"(?:eyes?|vision|sight) {_gap(6)}(?:shadow|curtain|dark spot|black spot|fog|foggy)",
        r"(?:see|seeing|sees) (?:two of everything|double|everything double|things double)|"
        r"double vision|(?:cant|cannot|couldnt) see (?:the )?(?:top|bottom|lower|upper|left|right)"
        r"(?: half| part| side)?|(?:only|just) see (?:the )?(?:top|bottom|lower|upper) half",
        r"(?:lost|losing|loss of) (?:\w+ ){0,3}(?:part of|some of|half of) (?:the |my |her |his )?"
        r"(?:vision|sight|eyesight)",
        rf"(?:eyelids?|eye) {_gap(3)}(?:drooping|droopy|drooped|falling down|heavy|sagging|"
        r"wont open)",
        r"(?:drooping|droopy) (?:eyelids?|eye)",
        r"eyes? (?:not|cant|doesnt|dont|wont) see",
        rf"eyes? {_gap(3)}(?:blurry|blurred|fuzzy|double|cloudy|misty|hazy|foggy|"
        r"(?:went|gone|going) (?:dark|black|grey|gray))",
        r"(?:blurry|blurred|blurring|fuzzy|double|cloudy|misty|hazy|dim|dimmed|patchy|tunnel|"
        r"partial|loss of|lost|losing|lose|changes? (?:in|to)|change of|problems? with|no) "
        r"(?:some |my |all |part of (?:my )?|the |her |his |any )?(?:vision|eyesight|sight)",
        r"(?:cant|couldnt|struggling to|struggle to|hard to|unable to|can barely|can hardly|"
        r"difficulty|trouble|not able to) (?:\w+ )?see(?: (?:properly|clearly|well|straight|"
        r"right|out of|from|at all|a thing|anything(?! (?:different|wrong|unusual|changed|yet))"
        r"|much(?! (?:difference|change|improvement)))\b|(?= ,|$))",
        r"seeing (?:double|spots|flashes|flashing lights|stars|black spots|floaters)|"
        r"flashing lights|blind spot|(?:go|gone|going|went) blind|blindness|"
        r"blind in (?:one|my|the|her|his)",
        r"(?:everything|things) (?:\w+ )?(?:went|goes|going|gone|is|are|looks?|look|seems?) "
        r"(?:all |a bit |really |very )?(?:dark|black|blurry|blurred|fuzzy|dim|grey|gray|double|"
        r"foggy)",
    ),
    _sign(
        "vision_change",
        True,
        r"(?:a |this |some )?(?:shadow|curtain|dark spot|black spot|grey patch|gray patch|"
        r"smudge|grey smudge|dark smudge)",
        requires=r"\b(?:eyes?|vision|sight|eyesight)\b",
    ),
    _sign(
        "skin_colour_change",
        True,
        rf"(?:{_CHANGE_VERBS}) (?:(?:{_MODIFIERS}) )*(?:{_VESSEL_COLOURS})(?: ?ish)?",
        r"(?:white|whitish|grey|gray|greyish|blue|bluish|purple|purplish|dusky|mottled|black) "
        r"(?:patch|patches|blotch|blotches|area|areas|discolou?ration|tinge)",
        r"mottled|mottling|dusky|blanching|blanched|livedo|lacy|marbled|marbling|marble|"
        r"web like|web pattern|(?:like|as) a net|net like|net of|reticular",
        r"(?:much |a lot )?paler than|(?:pale|white|whitish) (?:bit|patch|spot|area)|"
        r"stays? (?:\w+ )?(?:pale|white)|"
        r"(?:ages|long time|a while|seconds|forever) (?:\w+ ){0,3}(?:before|until) (?:the )?"
        r"colou?r (?:comes|came|goes|went) back|"
        r"(?:greyish|grayish|bluish|blueish|purplish|dusky|grey|gray) (?:\w+ )?(?:patch|patches|"
        r"area|areas|blotch|blotches|bit|spot|tinge)|"
        r"(?:pale|white) (?:almost|nearly|then) (?:white|purple|blue|grey)",
        rf"(?:skin|patch|area|spot|tip|bit|part|lid|side) {_gap(4)}(?:is|are|looks?|seems?|has "
        r"become|became) (?:now |all |very |quite |really |a )?(?:white|pale|grey|gray|blue|"
        r"purple|violet|dusky)",
        r"(?:colou?r|pink) (?:\w+ ){0,3}(?:not|doesnt|didnt|dont|wont|isnt|does not) "
        r"(?:seem to |seems to )?(?:come|coming|go|going) back|"
        r"(?:colou?r) (?:\w+ ){0,3}(?:not|doesnt|didnt|dont|wont|isnt) (?:seem to |seems to )?"
        r"(?:return|returning)",
        r"(?:cold|cool) to (?:the )?touch|(?:feels|is|its|kinda|kind of|stays|remains) "
        r"(?:\w+ )?(?:cold|icy)(?= ,|$| and)",
        r"(?:cold|numb) and (?:white|pale|grey|gray)|(?:white|pale|grey|gray) and (?:cold|numb)",
        r"blocked (?:blood )?vessels?|vascular occlusion|necrosis|necrotic",
        unless=r"(?<!not a )(?<!isnt a )(?<!no )\bbruis|\b(?:arm|hand|fingers?)\b",
    ),
    _sign(
        "fever",
        False,
        r"fever(?:s|ish|y)?",
        r"(?:have|has|had|got|getting|get|running|run|ran|with|developed|spiked|spiking) "
        r"(?:got )?(?:a |an )?(?:very |really |bit of a |slight |little )?(?:high |raised )?"
        r"temp(?:erature)?",
        r"(?:temp|temperature|thermometer)(?: [a-z]+){0,3} (?:3[89]|4[0-2]|10[0-5])(?:\.\d+)?",
        r"(?:3[89]|4[0-2]|10[0-5])(?:\.\d+)? (?:degrees? )?(?:c |f |celsius )?"
        r"(?:temp|temperature|fever)",
        r"chills|rigou?rs|shivering|shivery|shivers|shaking all over|hot and cold|"
        r"hot then cold|cold sweats?|burning up|sweating and (?:\w+ )?cold|"
        r"(?:sweaty|sweating) and shivering",
    ),
    _sign(
        "pus",
        False,
        r"pus|pussing|pustules?|abscess(?:es)?|infected|infection|infections|"
        r"oozing|oozes|ooze|oozed|oozy|weeping|weeps|weepy|discharge|discharging",
        r"(?:yellow|yellowish|green|greenish|cloudy|smelly|thick) (?:\w+ )?(?:stuff|fluid|liquid|"
        r"gunk|goo|gunge|crusts?|crusting|crusty|discharge|matter|heads?|bits?|spots?|pimples?|"
        r"bumps?|blisters?)",
        r"(?:spots?|heads?|bumps?|pimples?) (?:\w+ )?with (?:liquid|fluid|pus|yellow|gunk)",
        rf"(?:stuff|fluid|liquid|gunk|goo|gunge|something) {_gap(2)}(?:coming|leaking|seeping|"
        r"draining|dripping) (?:out|from)",
        r"filled (?:up )?with (?:yellow|green|pus|gunk)|"
        r"(?:is|are|keeps?|been|started|its|theyre|still) (?:\w+ )?(?:leaking|seeping|draining)",
        r"(?:smells?|smelling) (?:really |very |a bit )?(?:bad|off|funny|foul|horrible|awful|"
        r"weird)|(?:foul|bad|horrible) smell|smelly|stinks?",
        unless=r"\b(?:chest|ear|urine|urinary|water|sinus|tooth|kidney|bladder|yeast|thrush|"
        r"covid|viral) infection",
    ),
    _sign(
        "spreading_redness",
        False,
        rf"(?:{_RED}) {_gap(5)}(?:spreading|spreads|spread|getting bigger|gets bigger|got bigger|"
        r"getting larger|growing|expanding|getting wider|travell?ing|extending|creeping|"
        r"(?:getting|got|gets|much) worse|(?:has |have |had )?(?:now )?extended|"
        r"(?:began|started|starting) to spread)",
        rf"(?:{_RED}) {_gap(12, across_clauses=True)}(?:spread|spreading|moved|extended|gone|"
        r"went) (?:\w+ ){0,3}"
        r"(?:down|up|across|over|onto|into|to|towards|below|beyond) (?:\w+ ){0,2}"
        r"(?:jaw|jawline|neck|chest|ear|ears|eye|eyes|scalp|forehead|chin|face|cheek|cheeks|"
        r"shoulders?|arm|lower face)",
        r"(?:redder|more red) and (?:hotter|more swollen|burning)|hot and angry|angry looking",
        rf"(?:it|its|this|that|they) (?:has |have |is |had |began to |started to )?{_gap(1)}"
        r"(?:spread|spreading|extended)(?! out)",
        rf"spread(?:ing|s)? {_gap(2)}(?:red|redness|rash|inflammation)",
        rf"(?:{_RED}) {_gap(3)}(?:gone|went|going|moved|moving) (?:down|up|across|over|onto|into|"
        r"to|towards)(?: to| into| onto)? (?:my|the|her|his)",
        r"red (?:streaks?|lines?|tracks?|tracking)|streaks? of red",
        r"(?:red|redness|inflamed)(?: ,)? (?:and |but )?(?:very |really |so |quite )?"
        r"(?:hot|burning hot|heat)",
        r"(?:hot|burning hot)(?: ,)? (?:and )?(?:red|inflamed|swollen)|swollen and hot",
        r"(?:hot|warm|burning) to (?:the )?touch|red hot|cellulitis",
    ),
    _sign(
        "spreading_redness",
        False,
        r"(?:creeping|moving|spread\w*|going|gone|went|travell?ing|extend\w*|crept) (?:way |well |"
        r"right |all )?(?:down|up|onto|into|across|past|beyond|over|outside) (?:\w+ ){0,4}"
        r"(?:neck|jaw|jawline|chest|ears?|eyes?|line|edge|where|area|scalp|forehead|face|cheeks?|"
        r"shoulders?|head)",
        r"radiating heat|gone past the line|past the (?:line|edge|mark)",
        requires=r"\b(?:red|redness|rash|inflamed|pink|hot|warm|heat)\b",
    ),
    _sign(
        "worsening_pain",
        False,
        rf"(?:{_PAIN}) {_gap(4)}(?:worse|worsening|more painful|more sore|stronger)",
        r"(?:worse|worsening|increasing|more and more|stronger) (?:pain|soreness|throbbing|ache)",
        rf"(?:more|increasingly) (?:painful|sore|tender)(?: \w+)? (?:{_CHANGE_SINCE})",
        r"(?:hurts?|hurting|aches?|throbs?|stings?) (?:even |much |a lot |way )?more "
        rf"(?:and more|today|now|{_CHANGE_SINCE})",
        r"(?:it|its|this|everything|things|face|skin|area|swelling|symptoms?) "
        r"(?:\w+ )?(?:getting|got|gets|gotten|going) (?:\w+ )?worse",
        r"(?:severe|unbearable|excruciating|agoni[sz]ing|extreme|terrible|horrible|awful|"
        r"intense|really bad|very bad|so much) (?:pain|throbbing|ache|burning)|in agony",
        rf"(?:{_PAIN}) (?:is|feels|s) (?:so |really |absolutely |just )?(?:excruciating|"
        r"unbearable|agoni[sz]ing|severe|horrendous)",
        r"(?:getting|becoming|gotten|got|grown) (?:more and more|more|increasingly|even more|"
        r"much more|a lot more) (?:painful|sore|tender)",
        rf"(?:{_PAIN}) {_gap(3)}(?:not|isnt|hasnt|wont|no) (?:getting |been |gotten )?"
        rf"(?:any )?(?:{_BETTER})",
        rf"(?:{_PAIN}) {_gap(8)}(?:worse|worsening|worsened|increasing|increased|intensif\w*|"
        r"more intense|getting (?:really |very |so )?bad)",
        rf"(?:{_PAIN}|throb\w*|hurt) {_gap(6)}(?:woke|wakes|waking|woken|"
        rf"keeps? (?:{_SOMEONE}) (?:up|awake)|kept (?:{_SOMEONE}) (?:up|awake))",
        rf"(?:woke|wakes|waking|woken) (?:{_SOMEONE}) (?:up )?{_gap(3)}(?:with|from|because of|"
        rf"by) (?:the |my |her |his )?(?:{_PAIN})",
        rf"(?:cant|couldnt|unable to|not able to) (?:get to )?sleep {_gap(3)}(?:because of|from|"
        rf"with|for|due to) (?:the |my |her |his )?(?:{_PAIN})",
        rf"(?:crying|cried|cry|in tears|sobbing) {_gap(3)}(?:with|from|in|because of|of) "
        rf"(?:the |my |her |his )?(?:{_PAIN})",
        rf"(?:{_PAIN}|hurt) {_gap(8)}(?:crying|cried|cry|in tears|sobbing)",
        rf"(?:{_PAIN}) {_gap(8)}(?:severe|excruciating|unbearable|agoni[sz]ing|horrendous)",
        rf"(?:{_PAIN}) {_gap(8)}(?:[789]|10|seven|eight|nine|ten) (?:out of )?(?:10|ten)\b",
        r"(?:mild|fine|ok) to (?:very |really |quite )?(?:severe|bad|unbearable)",
        r"(?:it|this|that) (?:\w+ )?(?:woke|wakes|keeps waking|kept waking) (?:me|her|him)",
        r"woke (?:up )?(?:\w+ ){0,3}(?:throbbing|in pain|with pain|hurting|aching)",
        r"way over the top|out of proportion|on fire|killing me|(?:ramping|ramps|ramped) up|"
        r"agony|agoni[sz]ing|(?:every|each) day (?:its|it is|it gets|it s) worse|"
        r"worse (?:every|each) day",
        rf"(?:{_PAIN}) {_gap(12, across_clauses=True)}(?:[789]|10|seven|eight|nine|ten) "
        r"(?:out of )?(?:10|ten)\b",
        r"(?:painkillers?|paracetamol|ibuprofen|tylenol|advil|co codamol) (?:is |are )?"
        r"(?:not|isnt|arent) (?:even )?(?:helping|working|touching it|doing anything)",
    ),
    _sign(
        "blisters",
        False,
        r"bliste?r(?:s|ed|ing|y)?",
        r"fluid filled (?:bumps?|spots?|sacs?|bubbles?|lumps?|pockets?)|water bubbles?|"
        r"bubbles? (?:on|under) (?:my |the )?skin|fluid bubbles?|"
        r"watery (?:bumps|spots|sores)|bubbly (?:sores|bumps|spots)|"
        r"(?:bumps|spots|sores) in a (?:little |small |tight )?(?:group|cluster)|"
        r"(?:cluster|group) of (?:little |small |tiny )?(?:bumps|spots|sores)|"
        r"(?:bubbles?|sacs?|pockets?|bumps?) (?:of|with|full of) (?:fluid|water|liquid)",
        unless=r"\b(?:foot|feet|toes?|heels?|hands?|fingers?|shoes?|boots?)\b",
    ),
    _sign(
        "lump_changes",
        False,
        rf"(?:{_LUMP}) {_gap(10, across_clauses=True)}(?:{_GROWING})",
        late=True,
    ),
    _sign(
        "lump_changes",
        False,
        rf"(?:{_LUMP}) {_gap(12, across_clauses=True)}(?:red|hot|warm|tender|sore|angry|leak\w*|"
        r"weep\w*|oozing|draining)",
        rf"(?:it|they|its|theyre|which|one|that) (?:\w+ ){{0,3}}(?:{_GROWING})",
        requires=r"\b(?:weeks?|wks|months?|fortnight)\b",
        late=True,
    ),
    _sign(
        "spreading_bruise",
        False,
        rf"bruis\w* {_gap(10, across_clauses=True)}(?:spread\w*|getting bigger|got bigger|"
        r"gotten bigger|bigger and bigger|grown|growing|larger|extended|merged|covers?|covering|"
        r"getting (?:massive|huge|enormous)|"
        r"from (?:the |my |his |her )?(?:elbow|wrist|shoulder|inner elbow))",
    ),
    _sign(
        "spreading_bruise",
        False,
        rf"(?:fingers?|hand|thumb|arm|wrist) {_gap(4)}(?:tingl\w*|numb|pins and needles|asleep|"
        r"dead)",
        r"(?:tingl\w*|numb|numbness|pins and needles) (?:in|of) (?:my |her |his )?(?:fingers?|"
        r"hand|thumb|arm)",
        requires=r"\b(?:bruis\w*|blood|arm|draw|drawn|taken|prp|vampire)\b",
    ),
    _sign(
        "spreading_bruise",
        False,
        rf"(?:marks?|bruis\w*|purple|swelling) {_gap(8, across_clauses=True)}(?:spread\w*|"
        r"getting bigger|got bigger|bigger and bigger|grown|growing|massive|huge)",
        requires=r"\b(?:warfarin|apixaban|rivaroxaban|edoxaban|dabigatran|clopidogrel|"
        r"blood thinners?|anticoagulants?|aspirin)\b",
    ),
    _sign(
        "fainting",
        True,
        r"keeled over|(?<!nearly )(?<!almost )(?:passed out|fainted|collapsed?|collapsing|"
        r"blacked out|"
        r"lost consciousness|losing consciousness|knocked out|unconscious)",
        r"(?:hit|bumped|banged|struck|knocked|smacked|whacked) (?:my|her|his|their) head|"
        r"head injury",
        r"(?:woke up|came round|came to|come round) on the (?:floor|ground)",
        r"(?:im|i was|found (?:myself|her|him)|ended up|lying|woke up) on the (?:floor|ground)",
    ),
    _sign(
        "fainting",
        True,
        r"(?:seems?|is|im|shes|hes|looks?|now|very|a little|a bit|bit|and) (?:\w+ )?confused|"
        r"not making (?:any )?sense|making no sense|(?:speaks?|speaking|talking) strangely|"
        r"slurr\w*|(?:doesnt|dont|didnt) know (?:what day|where|who)",
        rf"still (?:\w+ ){{0,3}}(?:{_STILL_FAINT})(?: \w+){{0,4}} (?:hours?|evening|tonight)",
        rf"hours? (?:\w+ ){{0,6}}(?:still|and) (?:\w+ ){{0,6}}(?:{_STILL_FAINT})",
        r"(?:every time|whenever) (?:i|she|he) (?:stand|get up)",
        requires=_AFTER_A_FAINT,
    ),
    _sign(
        "fainting",
        False,
        r"(?:nearly|almost|about to|going to|gonna) (?:\w+ )?(?:faint|fainted|pass out|"
        r"passed out|black out|blacked out|collapse|went over|keeled over|fell)",
        r"(?:went|going|gone) (?:all )?(?:dark|black|fuzzy|grey|gray) and (?:sweaty|clammy|shaky|"
        r"dizzy)",
        rf"still (?:\w+ )?(?:{_STILL_FAINT}|shaky)",
        rf"(?:felt|feel|feeling|came over|come over|went|gone|going) (?:\w+ ){{0,2}}"
        rf"(?:{_STILL_FAINT})",
        r"(?:sweaty|clammy|pale) and (?:shaky|sweaty|clammy|pale|dizzy|faint)|"
        r"(?:shaky|sweaty|clammy) and (?:weak|sick|pale|faint|nauseous|lightheaded|light headed|"
        r"dizzy|woozy)",
        r"still (?:feel|feeling|am|im|a bit|quite) (?:\w+ ){0,2}(?:sick|shaky|weak|faint|woozy|"
        r"dizzy|clammy|off|nauseous|unwell)",
        rf"(?:{_STILL_FAINT}) still",
        requires=_AFTER_A_FAINT,
    ),
)

# --- context: negation, resolution, general questions ------------------------------------------

_NEGATION = re.compile(rf"\b(?:{_NEGATIONS}|free of)\b")
_FILLERS = frozenset(
    re.split(
        r"\s+",
        "a an any the have has had got get getting feel feeling felt notice noticed see seen "
        "sign signs of real much more been really obvious obviously actual yet currently too "
        "think its is are was be seem seems look looks it there theres i im ive",
    )
)
_LIST_BEFORE = re.compile(r"\b\w+ (?:or|nor) $")
_CLAUSE_BREAK = re.compile(rf" ,|\b(?:{_BREAKS})\b")
_RESOLVED = re.compile(
    r"\b(?:went away|gone away|go away|(?:went|gone) down(?! (?:to|into|onto|towards|my|the))|"
    r"settled|subsided|cleared|resolved|"
    r"healed|disappeared|faded|dried up|stopped|no longer|anymore|passed(?! out)|better now|"
    r"fine now|"
    r"calmed(?: down)?|died down|eased off|back to normal|"
    r"(?:its|has|have|is|are|theyre|theyve) (?:now |completely |totally |all )?gone(?: ,|$)|"
    r"(?:totally|completely|all) gone|gone now)"
)
_LONG_AGO = re.compile(
    r"\b(?:last (?:week|month|year|time|summer|winter|spring|autumn)|"
    r"in (?:19|20)\d\d|(?:\d+|a|one|two|three|four|five|few|couple of|several|many) "
    r"(?:weeks?|wks|months?|mos|years?|yrs) "
    r"ago|years ago|months ago|weeks ago|years back|in the past|previously|used to|"
    r"(?:a while|ages|a long time) ago|"
    r"before (?:the|my|your|this|that) (?:treatment|session|appointment|procedure|injections?)|"
    r"once(?= ,|$)|as a (?:child|kid|teenager)|"
    r"when i was (?:younger|a kid|a child|little|pregnant))\b"
)
_CAME_BACK = re.compile(
    r"\b(?:came back|come back|coming back|is back|are back|its back|back again|returned|"
    r"again now|now again|started again)\b"
)
_REFERS_BACK = re.compile(
    r"^(?:and )?(?:it|its|they|theyre|that|this|all|totally|completely|gone|now)\b"
)
_LEADING_BREAKS = re.compile(rf"^(?: ,| |\b(?:{_BREAKS})\b)+")
_IF = r"(?<!as )(?<!normal )(?<!ok )(?<!okay )(?<!fine )\b(?:if|whether)\b"
_CONDITIONAL = re.compile(rf"{_IF}|\b(?:in case|unless|suppose|supposing)\b")
_MODAL_BEFORE = re.compile(r"\b(?:will|would|could|might|may|can|should|to|do|does)\s$")
_GENERAL = re.compile(
    "|".join(
        (
            r"\b(?:is|are|was|were|isnt|arent)(?: \w+){0,3} (?:normal|common|usual|expected|"
            r"typical|possible|rare|likely|ok|okay|fine|safe|dangerous|serious|a side effect|"
            r"side effects|a risk|a sign|a concern|something to worry about|to be expected)\b",
            r"\bits (?:\w+ )?(?:normal|common|usual|expected|typical|possible|rare|ok|okay) "
            r"(?:to|for|that|if|after)\b",
            r"\bhow (?:long|often|common|likely|rare|soon|quickly|bad|painful|serious|"
            r"dangerous|much|many)\b",
            r"\bhow (?:do|can|would|will|should|could|to) (?:i |you |we |one |people )?"
            r"(?:know|tell|recogni[sz]e|spot|avoid|prevent|reduce|minimi[sz]e)\b",
            r"\b(?:side effects?|risks?|chances?|odds|likelihood|complications?|dangers?|"
            r"signs? of|symptoms? of|warning signs?|red flags?|look out for|watch out for|"
            r"watch for|be aware of)\b",
            r"\b(?!(?:could|might|can|may) (?:it|this|that) be\b)"
            r"(?!(?:can|could|may|should|shall) (?:i|she|he|we|they) (?:take|use|put|apply|try|"
            r"ice|wash|drive|go|wear|still|do|cover|treat)\b)"
            r"(?!(?:would|could|can|do) you (?:recommend|advise|suggest|tell me what)\b)"
            r"(?:will|would|could|might|may|"
            r"can|does|do|should|shall)(?:nt)? (?:i|you|we|it|this|that|they|people|patients|"
            r"anyone|someone|everyone|my|the|there|one|a|an|\w+ing)\b",
            r"\b(?:can|could|does|do|did|might|may|will|would)(?: \w+){0,3} (?:cause|causes|give|"
            r"trigger|lead to|result in|make|happen|occur)\b",
            r"\b(?:help|helps|treat|treats|fix|fixes|improve|improves|get rid of|remove|removes|"
            r"fade|lighten|good for|work for|works for|suitable|candidate)\b",
            rf"\bwhat if\b|{_IF}|\b(?:in case|unless|suppose|supposing)\b|"
            r"\bwhen (?:should|do|would|will|might|can|does|is it|to)\b",
            r"\b(?:scared|afraid|worried|nervous|anxious|frightened|terrified|concerned)"
            r"(?: \w+){0,2} (?:of|about) (?:getting|having|developing|catching|the risk|"
            r"the chance|side effects)\b",
            r"\b(?:ill|i might|i could|i may|i would|id) "
            r"(?:get|have|develop|end up|be|need|react)\b",
            r"\b(?:i (?:read|heard|saw|was told|understand)|(?:ive|i have) (?:read|heard|seen)|"
            r"(?:someone|people|they|you|the nurse|the doctor|my doctor|google) (?:said|says|"
            r"told|say)|(?:she|he) (?:said|told)|apparently|online|"
            r"my (?:friends?|cousin|colleague|mate|neighbou?r)|a friend|"
            r"friends|people|patients|someone|anyone|everyone|others|stories|difference between|"
            r"to avoid|avoid|prevent|to stop)\b",
            # a relative's past experience, not their state now ("my sister had a blister")
            r"\bmy (?:late |ex )?(?:sister|brother|mum|mom|mother|dad|father|aunt|uncle|partner|"
            r"husband|wife|"
            r"boyfriend|girlfriend|daughter|son|gran|grandma|nan) (?:\w+ )?(?:had|got|did|once|"
            r"used to|says|said|told|thinks)\b",
            r"\bwhat (?:does|do|would|should|did) (?:\w+ ){0,3}look like\b",
            r"\b(?:is|are) there\b",
            r"\bi (?:always |usually |often |sometimes |tend to |normally )?get\b|"
            r"\b(?:sometimes|usually|normally|easily|prone to|tend to|history of|suffer from|"
            r"suffer with)\b",
        )
    )
)
_CURRENT = re.compile(
    "|".join(
        (
            r"\bmy \w+(?: \w+)? (?:is|are|has|have|keeps|feels|feel|looks|look|seems|went|"
            r"turned|started|starting|getting|began|s)\b",
            r"\bi (?:have|feel|felt|cant|keep|think|noticed|notice|just|woke|seem|look|"
            r"started|developed)\b|\b(?:im|ive)\b",
            r"\b(?:theres|there are|its|it has|it keeps|it feels|it looks|it seems|it hurts|"
            r"this is|that is)\b",
            r"\b(?:the|this|that|her|his|their|our) \w+(?: \w+)? (?:is|are|has|have|keeps|feels|"
            r"looks|seems|getting|s)\b",
            r"\b(?:she|he) (?:is|has|cant|keeps|feels|looks|seems|s)\b|\b(?:shes|hes)\b",
            r"\b(?:now|right now|currently|at the moment|since|still|this morning|this evening|"
            r"tonight|today|last night|overnight|all of a sudden|suddenly)\b",
        )
    )
)
_ONGOING = re.compile(
    r"^(?:(?:and|but|well|yes|yeah|because) )?(?:it|its|they|theyre|this|that|mine|i|ive|im|"
    r"theres|there are|there is)\b"
    r".*\b(?:started|starting|began|begun|been|since|now|still|happening|ago|today|new ones|"
    r"for (?:a |an |the |\w+ )?(?:hours?|days?|minutes?))\b"
)
_NOT_ONGOING = re.compile(rf"{_LONG_AGO.pattern}|\b(?:months?|years?)\b|\b(?:{_NEGATIONS})\b")
_GENERAL_AFTER = re.compile(  # "blisters are a side effect?", "X, Y - which of these are normal?"
    r"^ (?:is|are) (?:\w+ ){0,2}(?:normal|common|usual|expected|possible|rare|a side effect|"
    r"side effects|a risk|a complication)\b|"
    r"\b(?:which|what|any) of (?:these|them|those)\b|"
    r"\b(?:are|is) (?:these|they|those)(?: \w+){0,2} (?:normal|common|usual|expected|possible|"
    r"side effects?|a side effect|risks?)\b"
)


_HABIT = re.compile(r"i get\b")
_NOW_AFTER = re.compile(r"\b(?:now|today|this morning|tonight|since|spread\w*|started)\b")


@functools.lru_cache(maxsize=256)
def _clause_breaks(sentence: str) -> tuple[tuple[int, int], ...]:
    return tuple((brk.start(), brk.end()) for brk in _CLAUSE_BREAK.finditer(sentence))


def _clause_bounds(sentence: str, position: int) -> tuple[int, int]:
    start, end = 0, len(sentence)
    for brk_start, brk_end in _clause_breaks(sentence):
        if brk_end <= position:
            start = brk_end
        elif brk_start >= position:
            end = brk_start
            break
    return start, end


def _negated(before: str) -> bool:
    """A negation before the sign, separated from it only by fillers ("haven't had any")."""
    while _LIST_BEFORE.search(before):
        before = _LIST_BEFORE.sub("", before)
    words = before.split()
    for index in range(len(words) - 1, max(len(words) - 6, -1), -1):
        if _NEGATION.fullmatch(words[index]) or " ".join(words[index : index + 2]) == "free of":
            return True
        if words[index] not in _FILLERS:
            return False
    return False


def _says_resolved(text: str) -> bool:
    """A resolution word not denied: "won't go away" and "hasn't faded" say the opposite."""
    for found in _RESOLVED.finditer(text):
        before = text[: found.start()].rsplit(" ,", 1)[-1].split()[-2:]
        if not any(_NEGATION.fullmatch(word) for word in before):
            return True
    return False


@functools.lru_cache(maxsize=256)
def _resolved(sentence: str, start: int, end: int, late: bool = False) -> bool:
    """Gone or long ago, in the clause or in the next one referring back to it. For a
    ``late`` sign (a lump weeks later) "long ago" dates the treatment, not the sign."""
    if _CAME_BACK.search(sentence):
        return False
    clause = sentence[start:end]
    if _says_resolved(clause) or (not late and _LONG_AGO.search(clause)):
        return True
    following = _LEADING_BREAKS.sub("", sentence[end:])
    next_clause = following[: _clause_bounds(following, 0)[1]]
    if not _REFERS_BACK.search(next_clause):
        return False
    return bool(_says_resolved(next_clause) or (not late and _LONG_AGO.search(next_clause)))


def _current_cues(text: str) -> Iterator[int]:
    """Positions of current-state cues not made hypothetical by "if" or a modal before them."""
    for cue in _CURRENT.finditer(text):
        before = text[: cue.start()]
        clause_start = _clause_bounds(text, cue.start())[0]
        if _CONDITIONAL.search(before[clause_start:]) or _MODAL_BEFORE.search(before):
            continue
        yield cue.start()


@functools.lru_cache(maxsize=256)
def _cue_positions(text: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where the general-question and current-state cues of a clause start (every match
    in one clause asks about the same clause)."""
    return tuple(cue.start() for cue in _GENERAL.finditer(text)), tuple(_current_cues(text))


def _about_own_state(
    sentence: str, start: int, end: int, match: re.Match[str], require_cue: bool = False
) -> bool:
    """Whether the last cue before the match says current state rather than general question
    (with ``require_cue``, a message with no cue at all does not count)."""
    text = sentence[start:end]
    cutoff = match.start() - start
    all_general, all_current = _cue_positions(text)
    general = [position for position in all_general if position <= cutoff]
    current = [position for position in all_current if position <= cutoff]
    if current and (not general or max(current) >= max(general)):
        return True
    if general:
        # "i get small blisters near my mouth, now spread to my chin": a habit cue, then now
        last = text[max(general) :]
        return bool(_HABIT.match(last) and _NOW_AFTER.search(sentence[match.end() :]))
    return not require_cue and not _GENERAL_AFTER.search(sentence[match.end() :])


_BUT = re.compile(r"\b(?:but|however|although|though)\b")


def _after_last_but(sentence: str, position: int) -> int:
    starts = [found.end() for found in _BUT.finditer(sentence, 0, position)]
    return starts[-1] if starts else 0


def _ongoing(follow_up: str) -> bool:
    """ "Is X normal? It started an hour ago": the next sentence says it is happening now."""
    return bool(_ONGOING.search(follow_up)) and not (
        _NOT_ONGOING.search(follow_up) or _says_resolved(follow_up)
    )


def _counts(sign: Sign, sentence: str, match: re.Match[str], follow_up: str) -> bool:
    start, end = _clause_bounds(sentence, match.start())
    if sign.unless and sign.unless.search(sentence[start:end]):
        return False
    if _negated(sentence[start : match.start()]) or _resolved(sentence, start, end, sign.late):
        return False
    # Cues are read in the clause for emergency signs, else in the sentence after its last
    # "but" ("I do bruise easily, but the bruise has spread": the habit is not the question).
    scope_start = start if sign.emergency else _after_last_but(sentence, match.start())
    return _about_own_state(sentence, scope_start, end, match) or _ongoing(follow_up)


def _flags(
    parts: list[str], index: int, signs: list[Sign]
) -> Iterator[tuple[tuple[int, int], RedFlag]]:
    sentence = parts[index]
    follow_up = parts[index + 1] if index + 1 < len(parts) else ""
    for sign in signs:
        for match in _every_match(sign.pattern, sentence):
            if _counts(sign, sentence, match, follow_up):
                flag = RedFlag(sign.sign, sign.emergency, match.group())
                yield (index, match.start()), flag


def _every_match(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches starting at every position, overlapping: in "I do bruise easily, but the
    bruise has spread" the second "bruise" is checked too, not only the first."""
    position = 0
    while (found := pattern.search(text, position)) is not None:
        yield found
        position = found.start() + 1
