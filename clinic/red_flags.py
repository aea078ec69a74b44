"""Red flags: signs of a complication after a treatment, checked before anything else.

``detect(text)`` returns a :class:`RedFlag` (``sign``, ``emergency``, ``phrase``) or ``None``.
It is deterministic and meant to be read by the clinic: word patterns, no model.

Signs (``SIGNS``; emergency ones get the emergency number, the others "call the clinic now"):
``fever``, ``pus`` (pus, oozing, weeping, discharge, "looks infected"), ``spreading_redness``
(spreading, or red and hot), ``worsening_pain`` (pain getting worse, or severe),
``blisters``, ``skin_colour_change`` (white, grey, blue, purple, dusky, mottled: a blocked
blood vessel; emergency), ``allergic_reaction`` (swelling of lips, tongue or throat, trouble
breathing or swallowing: emergency; hives or "an allergic reaction": not) and
``vision_change`` (emergency).

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
}

EMERGENCY_SIGNS_TEXT = (
    "trouble breathing, swelling of your lips, tongue or throat, a change in your vision, "
    "or skin turning white, grey, blue or purple"
)


def detect(text: str) -> RedFlag | None:
    """The most urgent red flag in a patient's message, or None."""
    parts = sentences(normalise(text))
    found = [hit for index in range(len(parts)) for hit in _flags(parts, index)]
    if not found:
        return None
    found.sort(key=lambda hit: (not hit[1].emergency, hit[0]))
    return found[0][1]


def advice(flag: RedFlag, clinic_phone: str, emergency_number: str) -> str:
    """What to tell the patient now, in plain words."""
    what = SIGN_DESCRIPTIONS[flag.sign]
    if flag.emergency:
        return (
            f"Please call {emergency_number} now: {what} after a treatment can be an "
            "emergency. Tell them which treatment you had and when. When you are safe, let "
            f"the clinic know on {clinic_phone}."
        )
    return (
        f"Please call the clinic now on {clinic_phone}: {what} after a treatment should be "
        f"checked by the team today. If you have {EMERGENCY_SIGNS_TEXT}, call "
        f"{emergency_number} straight away."
    )


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


def _gap(words: int) -> str:
    """Up to ``words`` words between two parts of a sign, never a negation or a clause break."""
    return rf"(?:(?!(?:{_NEGATIONS}|{_BREAKS})\b)[a-z0-9.]+ ){{0,{words}}}"


@dataclass(frozen=True)
class Sign:
    sign: str
    emergency: bool
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None  # in the match's clause: not this sign


def _sign(sign: str, emergency: bool, *alternatives: str, unless: str | None = None) -> Sign:
    pattern = re.compile("|".join(rf"\b(?:{alt})\b" for alt in alternatives))
    return Sign(sign, emergency, pattern, re.compile(unless) if unless else None)


_VESSEL_COLOURS = (
    r"white|whitish|grey|gray|greyish|grayish|blue|bluish|blueish|purple|purplish|dusky|"
    r"mottled|black|dark (?:purple|blue|grey|gray)"
)
_CHANGE_VERBS = (
    r"went|gone|going|goes|go|turned|turning|turns|turn|become|became|becoming|looks?|looking"
)
_MODIFIERS = (
    r"very|really|a bit|a little|kind of|kinda|sort of|slightly|all|quite|a|an|weird|strange|"
    r"funny|odd"
)
_RED = r"red|redness|rash|red patch|red area|red bit|red mark|inflammation|inflamed area"
_PAIN = (
    r"pain|pains|painful|sore|soreness|ache|aches|aching|achy|hurts?|hurting|throbbing|"
    r"tender|tenderness|stinging"
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
        r"huge|massive|enormous|big|doubled|twice the size|twice as big)",
        r"(?:swollen|swelling|puffy|fat|thick) (?:lips?|tongue|throat|mouth)",
        r"swelling (?:of|in|on|around) (?:my |the |her |his )?(?:lips?|tongue|throat|mouth)",
        r"(?:cant|couldnt|struggling to|struggle to|hard to|difficult to|difficulty|trouble|"
        r"problems?|unable to|not (?:be )?able to|hard time|can barely|can hardly) (?:\w+ )?"
        r"(?:breathe|breath|"
        r"breathing|swallow|swallowing|catch my breath|get my breath)",
        r"short(?:ness)? of breath|breathless|out of breath|wheez\w*|gasping|"
        r"chest (?:is |feels |feeling |has gone |went )?(?:tight|tightening)|tight chest|"
        r"tightness in (?:my |the )?chest|anaphyla\w*",
    ),
    _sign(
        "allergic_reaction",
        False,
        r"hives|welts|allergic reaction|allergic rash|having a reaction|reacting badly|"
        r"bad reaction|rash all over|itchy all over|itching all over",
    ),
    _sign(
        "vision_change",
        True,
        rf"(?:vision|eyesight|sight) {_gap(3)}(?:blurry|blurred|blurring|fuzzy|dim|dimmed|"
        r"dimming|dark|darker|black|grey|gray|double|cloudy|misty|hazy|wobbly|patchy|spotty|"
        r"weird|strange|funny|changed|changing)",
        rf"eyes? {_gap(3)}(?:blurry|blurred|fuzzy|double|cloudy|misty|hazy|"
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
        r"(?:everything|things) (?:\w+ )?(?:went|goes|going|gone|is|are|looks?|seems?) "
        r"(?:all |a bit |really |very )?(?:dark|black|blurry|blurred|fuzzy|dim|grey|gray|double)",
    ),
    _sign(
        "skin_colour_change",
        True,
        rf"(?:{_CHANGE_VERBS}) (?:(?:{_MODIFIERS}) )*(?:{_VESSEL_COLOURS})(?: ?ish)?",
        r"(?:white|whitish|grey|gray|greyish|blue|bluish|purple|purplish|dusky|mottled|black) "
        r"(?:patch|patches|blotch|blotches|area|areas|discolou?ration|tinge)",
        r"mottled|mottling|dusky|blanching|blanched|livedo|lacy (?:rash|pattern)",
        r"(?:cold|numb) and (?:white|pale|grey|gray)|(?:white|pale|grey|gray) and (?:cold|numb)",
        r"blocked (?:blood )?vessels?|vascular occlusion|necrosis|necrotic",
        unless=r"(?<!not a )(?<!isnt a )(?<!no )\bbruis",
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
        r"hot then cold|cold sweats?",
    ),
    _sign(
        "pus",
        False,
        r"pus|pussing|pustules?|abscess(?:es)?|infected|infection|infections|"
        r"oozing|oozes|ooze|oozed|oozy|weeping|weeps|weepy|discharge|discharging",
        r"(?:yellow|yellowish|green|greenish|cloudy|smelly|thick) (?:\w+ )?(?:stuff|fluid|liquid|"
        r"gunk|goo|gunge|crusts?|crusting|crusty|discharge|matter|heads?|bits?)",
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
        r"(?:getting|got|gets|much) worse)",
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
    ),
    _sign(
        "blisters",
        False,
        r"bliste?r(?:s|ed|ing|y)?",
        r"fluid filled (?:bumps?|spots?|sacs?|bubbles?|lumps?|pockets?)|water bubbles?|"
        r"bubbles? (?:on|under) (?:my |the )?skin|fluid bubbles?|"
        r"(?:bubbles?|sacs?|pockets?|bumps?) (?:of|with|full of) (?:fluid|water|liquid)",
        unless=r"\b(?:foot|feet|toes?|heels?|hands?|fingers?|shoes?|boots?)\b",
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
    r"healed|disappeared|faded|dried up|stopped|no longer|anymore|passed|better now|fine now|"
    r"calmed(?: down)?|died down|eased off|back to normal|"
    r"(?:its|has|have|is|are|theyre|theyve) (?:now |completely |totally |all )?gone(?: ,|$))"
)
_LONG_AGO = re.compile(
    r"\b(?:last (?:week|month|year|time|summer|winter|spring|autumn)|"
    r"(?:\d+|a|one|two|three|four|five|few|couple of|several|many) (?:weeks?|months?|years?) "
    r"ago|years ago|months ago|weeks ago|years back|in the past|previously|used to|"
    r"(?:a while|ages|a long time) ago|"
    r"before (?:the|my|your|this|that) (?:treatment|session|appointment|procedure|injections?)|"
    r"as a (?:child|kid|teenager)|when i was (?:younger|a kid|a child|little|pregnant))\b"
)
_CAME_BACK = re.compile(
    r"\b(?:came back|come back|coming back|is back|are back|its back|back again|returned|"
    r"again now|now again|started again)\b"
)
_REFERS_BACK = re.compile(r"^(?:and )?(?:it|its|they|theyre|that|this|all)\b")
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
            r"\b(?!(?:could|might|can|may) (?:it|this|that) be\b)(?:will|would|could|might|may|"
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
            r"\b(?:i (?:read|heard|saw|was told)|ive (?:read|heard|seen)|"
            r"(?:someone|people|they|you|the nurse|the doctor|my doctor|google) (?:said|says|told|"
            r"say)|apparently|online|my (?:friend|sister|brother|mum|mom|mother|dad|father|cousin|"
            r"colleague|aunt|partner|husband|wife|boyfriend|girlfriend|daughter|son)|a friend|"
            r"friends|people|patients|someone|anyone|everyone|others)\b",
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
    r"^(?:(?:and|but|well|yes|yeah|because) )?(?:it|its|they|theyre|this|that|mine|i|ive|im)\b"
    r".*\b(?:started|starting|began|begun|been|since|now|still|happening|ago|"
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


def _clause_bounds(sentence: str, position: int) -> tuple[int, int]:
    start, end = 0, len(sentence)
    for brk in _CLAUSE_BREAK.finditer(sentence):
        if brk.end() <= position:
            start = brk.end()
        elif brk.start() >= position:
            end = brk.start()
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


def _resolved(sentence: str, start: int, end: int) -> bool:
    """Gone or long ago, in the clause or in the next one referring back to it."""
    if _CAME_BACK.search(sentence):
        return False
    clause = sentence[start:end]
    if _RESOLVED.search(clause) or _LONG_AGO.search(clause):
        return True
    following = _LEADING_BREAKS.sub("", sentence[end:])
    next_clause = following[: _clause_bounds(following, 0)[1]]
    if not _REFERS_BACK.search(next_clause):
        return False
    return bool(_RESOLVED.search(next_clause) or _LONG_AGO.search(next_clause))


def _current_cues(text: str) -> Iterator[int]:
    """Positions of current-state cues not made hypothetical by "if" or a modal before them."""
    for cue in _CURRENT.finditer(text):
        before = text[: cue.start()]
        clause_start = _clause_bounds(text, cue.start())[0]
        if _CONDITIONAL.search(before[clause_start:]) or _MODAL_BEFORE.search(before):
            continue
        yield cue.start()


def _about_own_state(sentence: str, start: int, end: int, match: re.Match[str]) -> bool:
    """Whether the last cue before the match says current state rather than general question."""
    text = sentence[start:end]
    cutoff = match.start() - start
    general = [cue.start() for cue in _GENERAL.finditer(text) if cue.start() <= cutoff]
    current = [position for position in _current_cues(text) if position <= cutoff]
    if current and (not general or max(current) > max(general)):
        return True
    if general:
        return False
    return not _GENERAL_AFTER.search(sentence[match.end() :])


def _ongoing(follow_up: str) -> bool:
    """ "Is X normal? It started an hour ago": the next sentence says it is happening now."""
    return bool(_ONGOING.search(follow_up)) and not (
        _NOT_ONGOING.search(follow_up) or _RESOLVED.search(follow_up)
    )


def _counts(sign: Sign, sentence: str, match: re.Match[str], follow_up: str) -> bool:
    start, end = _clause_bounds(sentence, match.start())
    if sign.unless and sign.unless.search(sentence[start:end]):
        return False
    if _negated(sentence[start : match.start()]) or _resolved(sentence, start, end):
        return False
    scope_start = start if sign.emergency else 0
    return _about_own_state(sentence, scope_start, end, match) or _ongoing(follow_up)


def _flags(parts: list[str], index: int) -> Iterator[tuple[tuple[int, int], RedFlag]]:
    sentence = parts[index]
    follow_up = parts[index + 1] if index + 1 < len(parts) else ""
    for sign in SIGNS:
        for match in sign.pattern.finditer(sentence):
            if _counts(sign, sentence, match, follow_up):
                flag = RedFlag(sign.sign, sign.emergency, match.group())
                yield (index, match.start()), flag
