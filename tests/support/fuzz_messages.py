"""Malformed requests for the REST channel, generated from a seed (``tests/e2e/test_fuzz.py``).

Each :class:`FuzzCase` is a kind (what is wrong with it), the exact request body bytes, and what
the servers must answer. :func:`generate_cases` builds the same cases for the same seed, so a
failure is replayed with ``CLINIC_FUZZ_SEED``. Most cases are messages that reach the NLU (odd
characters, payload syntax, questions buried in noise); the rest test the edges before it: the
message cap, the request body limit, and bodies the channel must refuse.

The expectations follow the documented contracts, not what the servers happen to do:

- a string ``message`` and a 1-128 character string ``sender``: 200, text for the patient
  and exactly one reply contract (:data:`REPLY`), or, over the message cap
  (``clinic.direct_replies.max_message_chars``, counted after Rasa strips the text), the
  polite reply whose contract says ``message_too_long`` (:data:`TOO_LONG`);
- a body over Sanic's ``REQUEST_MAX_SIZE`` (``serving.rasa_server``, 64 KiB): 413
  (:data:`TOO_LARGE`);
- anything else (not JSON, not UTF-8, not an object, a missing or non-string field, an empty or
  over-long sender): 400 (:data:`BAD_REQUEST`); every 4xx with ``{"error": "..."}``;
- text that is not valid Unicode although the JSON parses (lone surrogates, from ``\\ud800``
  escapes or UTF-8-encoded surrogates, which Python's JSON reader lets through): no contract
  names it, so either a reply or a 400 (:data:`REPLY_OR_BAD_REQUEST`), never a server error.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from clinic.direct_replies import max_message_chars
from clinic.paths import PROJECT_ROOT
from serving.rasa_server import DEFAULT_REQUEST_MAX_BYTES, REQUEST_MAX_SIZE_ENV

SEED_ENV = "CLINIC_FUZZ_SEED"
DEFAULT_SEED = 20240611

REPLY = "reply"
TOO_LONG = "too_long"
TOO_LARGE = "too_large"
BAD_REQUEST = "bad_request"
REPLY_OR_BAD_REQUEST = "reply_or_bad_request"
EXPECTATIONS = (REPLY, TOO_LONG, TOO_LARGE, BAD_REQUEST, REPLY_OR_BAD_REQUEST)
# Expectations whose message goes through the NLU (when the servers behave).
REACHES_NLU = frozenset({REPLY})

MAX_SENDER_CHARS = 128  # channels.rest: "sender" is 1 to 128 characters


@dataclass(frozen=True)
class FuzzCase:
    kind: str
    body: bytes
    expect: str

    def short(self, limit: int = 90) -> str:
        """The body, cut to ``limit`` characters of its repr, with its size."""
        text = repr(self.body)
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        return f"{text} ({len(self.body):,} bytes)"


def fuzz_seed(environ: dict[str, str] | None = None) -> int:
    """``$CLINIC_FUZZ_SEED`` if it is a number, else the fixed default."""
    raw = (os.environ if environ is None else environ).get(SEED_ENV, "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_SEED


def max_body_bytes(environ: dict[str, str] | None = None) -> int:
    """The request body limit the Rasa server runs with (``serving.rasa_server``)."""
    raw = (os.environ if environ is None else environ).get(REQUEST_MAX_SIZE_ENV, "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_REQUEST_MAX_BYTES


# --- material ---------------------------------------------------------------------------------

QUESTIONS = [
    "what is prp",
    "How much does microneedling cost?",
    "is mesotherapy painful",
    "how many sessions of exosomes do i need",
    "what's the downtime for prp",
    "side effects of dermapen?",
    "Can I wear makeup after microneedling with PRP?",
    "how long do the results of mesotherapy last",
    "when will I see results from exosomes",
    "am I a good candidate for PRP",
    "how should I prepare for microneedling",
    "how long does the procedure take",
    "compare prp and exosomes",
    "what helps with acne scars",
    "do you treat hair loss",
    "are you open on saturday?",
    "where is the clinic",
    "what's your phone number",
    "I'd like to book a consultation",
    "can I talk to a real person",
    "hello",
    "thanks!",
    "are you a bot",
    "do you do botox?",
    "is redness normal after microneedling?",
    "tell me about the vampire facial",
    "mesotheraphy price",
    "p.r.p. for dark circles?",
]
FILLER_WORDS = [
    "the", "a", "my", "and", "it", "is", "was", "to", "of", "in", "for", "on", "with", "after",
    "before", "about", "skin", "face", "clinic", "treatment", "session", "week", "day", "doctor",
    "appointment", "question", "really", "very", "just", "also",
]  # fmt: skip
EMOJI = [
    "😀", "😂", "🙂", "😍", "🤔", "😭", "😡", "👍", "🙏", "💉", "💆", "💅", "✨", "🔥",
    "❤️", "💔", "⭐", "☀️", "🌸", "🍑", "🧴", "🩸", "🧪", "🤒", "🤕", "🥵", "🫠", "🪞",
]  # fmt: skip
SKIN_TONES = ["\U0001f3fb", "\U0001f3fc", "\U0001f3fd", "\U0001f3fe", "\U0001f3ff"]
TONE_BASES = ["👍", "👋", "🙏", "💪", "🤷", "💆", "👩", "🧑", "👶"]
ZWJ_SEQUENCES = [
    "👩\u200d👩\u200d👧\u200d👦",  # family
    "👩\u200d⚕️",  # health worker
    "🧑\u200d🔬",
    "🏳️\u200d🌈",
    "👁️\u200d🗨️",
    "🧔\u200d♀️",
    "👩🏽\u200d❤️\u200d💋\u200d👨🏿",  # kiss, with skin tones
    "❤️\u200d🔥",
    "🐻\u200d❄️",
]
TAG_FLAGS = ["🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"]  # England
KEYCAPS = ["1\ufe0f\u20e3", "#\ufe0f\u20e3", "*\u20e3"]
CONTROL_CHARS = [chr(c) for c in range(0x20)] + ["\x7f"]
C1_CONTROLS = [chr(c) for c in range(0x80, 0xA0)]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad", "\u180e"]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068",
        "\u2069", "\u200e", "\u200f", "\u061c"]  # fmt: skip
COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u0489", "\u20dd", "\u20de", "\u0e49"]
SCRIPTS = [
    "ما هو العلاج بالبلازما", "מה המחיר", "что такое мезотерапия", "微针治疗多少钱",
    "プラズマ治療", "피부 관리", "ราคาเท่าไหร่", "क्या यह दर्द करता है", "ευχαριστώ",
]  # fmt: skip
INJECTIONS = [
    "<script>alert(1)</script>",
    "<script src=//evil.example/x.js></script>",
    '<img src=x onerror="alert(document.cookie)">',
    "<img src=x onerror=alert(1)//",
    "<svg/onload=alert(1)>",
    '"><script>alert(1)</script>',
    "javascript:alert(1)",
    "<iframe src=javascript:alert(1)>",
    "<a href=\"javascript:alert('x')\">click</a>",
    "<b>bold</b><i>it</i>",
    "{{7*7}}",
    "${7*7}",
    "{% raw %}{{ config }}{% endraw %}",
    "'; DROP TABLE events; --",
    "1' OR '1'='1",
    "../../../../etc/passwd",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<style>body{display:none}</style>",
    "<!--",
    "]]>",
    "\\u003cscript\\u003e",
    "[click here](javascript:alert(1))",
    "![x](https://evil.example/pixel.png)",
]
UNKNOWN_INTENTS = [
    "no_such_intent", "ask_botox", "admin", "__proto__", "intent", "ask_cost_x", "nlu_fallback",
    "out_of_scope", "utter_greet", "ASK_COST", "ask cost",
]  # fmt: skip
# Rasa's own intents and actions, which a patient can type as payloads.
RASA_DEFAULTS = [
    "restart", "session_start", "back", "action_listen", "action_restart", "action_session_start",
    "action_default_fallback", "action_deactivate_loop", "action_two_stage_fallback",
    "action_unlikely_intent", "action_extract_slots",
]  # fmt: skip
ODD_ENTITY_NAMES = ["contact_name", "contact", "phone", "requested_slot", "booking_consent",
                    "__proto__", "", "treatment ", "TREATMENT", "intent", "text"]  # fmt: skip
ODD_ENTITY_VALUES: list[Any] = [
    "botox", "prp", "PRP", "exosomes", "microneedling_prp", "", " ", 123, -1, 1.5, 1e308,
    True, False, None, [], ["prp", "exosomes"], ["prp", 1, None], {}, {"id": "prp"},
    "<b>x</b>", "<script>alert(1)</script>", "😀" * 20, "p" * 300, "\x00", "\u202eprp",
    "acne_scars", "wrinkles", "Robert'); DROP TABLE tickets;--",
]  # fmt: skip
LISTED_PAYLOADS = [
    "/no_such_intent",
    '/ask_cost{"treatment":"botox"}',
    '/ask_cost{"treatment":123}',
    "/ask_cost{broken json",
    '/request_booking{"contact_name": "<b>x</b>"}',
    "/restart",
    "/session_start",
    "/action_listen",
    "/back",
    "/",
    "//",
    "/ ",
    "/ask_cost@0.1",
    "/ask_cost@abc",
    '/ask_cost@-5{"treatment":"prp"}',
    '/ask_cost{"treatment":"prp"}{"x":1}',
    '/ask_cost{"treatment":"prp","treatment":"exosomes"}',
    "/ask_cost[1,2]",
    '/compare_treatments{"treatment":["prp","exosomes"]}',
    '/inform_treatment{"treatment":{"a":1}}',
    '/report_complication{"treatment":"prp"}',
    '/restart{"treatment":"prp"}',
    "/ask_cost" + "{" * 500,
    "/ask_cost" + '{"treatment":' * 50 + '"prp"' + "}" * 50,
]


def _domain() -> tuple[list[str], list[str]]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
    return list(domain["intents"]), list(domain["entities"])


# --- bodies -------------------------------------------------------------------------------------


class _Builder:
    """Bodies and expectations for one run (one random generator, one cap, one body limit)."""

    def __init__(self, rng: random.Random, max_chars: int, max_bytes: int) -> None:
        self.rng, self.max_chars, self.max_bytes = rng, max_chars, max_bytes
        self.intents, self.entities = _domain()

    def sender(self) -> str:
        return f"fuzz-{self.rng.getrandbits(64):016x}"

    def json_bytes(self, value: Any, ascii_only: bool | None = None) -> bytes:
        """JSON as clients send it: escaped (``\\u00e9``) or raw UTF-8, compact or spaced."""
        if ascii_only is None:
            ascii_only = self.rng.random() < 0.5
        separators = (",", ":") if self.rng.random() < 0.5 else (", ", ": ")
        return json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode()

    def message_case(self, kind: str, message: str, sender: str | None = None) -> FuzzCase:
        """A well-formed body; the expectation follows from its size and the message's."""
        body = self.json_bytes({"sender": sender or self.sender(), "message": message})
        return FuzzCase(kind, body, self.expectation(body, message))

    def expectation(self, body: bytes, message: str) -> str:
        if len(body) > self.max_bytes:
            return TOO_LARGE
        # Rasa strips the text (UserMessage) before the cap counts it.
        return TOO_LONG if len(message.strip()) > self.max_chars else REPLY

    def question(self) -> str:
        return self.rng.choice(QUESTIONS)

    def within_cap(self, text: str) -> str:
        return text[: self.max_chars]

    def sprinkle(self, text: str, pool: list[str], share: float) -> str:
        """``text`` with characters from ``pool`` inserted after about ``share`` of its own."""
        out = []
        for char in text:
            out.append(char)
            if self.rng.random() < share:
                out.append(self.rng.choice(pool))
        return "".join(out)


# --- the kinds ----------------------------------------------------------------------------------


def _empty_and_blank(b: _Builder) -> list[FuzzCase]:
    blanks = [
        "", " ", "   ", "\t", "\n", "\r\n", " \t\n ", "\u00a0", "\u3000", "\u2003\u2009", "\u2028",
        "\u2029", "\u0085", "\x0b\x0c", " " * 500, "\n" * 300, "\t" * 1000,
    ]  # fmt: skip
    cases = [b.message_case("empty_or_blank", text) for text in blanks]
    while len(cases) < 35:
        pool = [" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\u202f", "\u205f"]
        text = "".join(b.rng.choice(pool) for _ in range(b.rng.randint(1, 1500)))
        cases.append(b.message_case("empty_or_blank", text))
    return cases


def _huge(b: _Builder) -> list[FuzzCase]:
    """3k, 20k and 60k characters of several fillers, plus the exact edges of the cap and the
    body limit. Whether a body is over 64 KiB depends on the characters and on the escaping,
    so the expectation is computed, not assumed."""

    def words(n: int) -> str:
        text = " ".join(b.rng.choice(FILLER_WORDS) for _ in range(n // 4))
        return text[:n]

    fillers: dict[str, Callable[[int], str]] = {
        "letters": lambda n: "x" * n,
        "questions": lambda n: ((b.question() + ". ") * n)[:n],
        "words": words,
        "question_then_spaces": lambda n: b.question() + " " * n,
        "spaces_then_question": lambda n: " " * n + b.question(),
        "newlines": lambda n: ("what is prp\n" * n)[:n],
        "cjk": lambda n: "微针" * (n // 2),
        "emoji": lambda n: "😀" * n,
        "zalgo": lambda n: ("e" + "\u0301" * 49) * (n // 50),
        "html": lambda n: ("<script>alert(1)</script>" * n)[:n],
    }
    cases = [
        b.message_case("huge", fill(size))
        for size in (3_000, 20_000, 60_000)
        for fill in fillers.values()
    ]
    cap = b.max_chars
    # Symptom words with no full stop are the red-flag screen's worst case (its work grows
    # with the square of a sentence's length): 3k characters show a slow screen without
    # stalling the whole run, as 20k could.
    symptoms = "red sore swollen hurts itchy "
    cases += [
        b.message_case("huge", (symptoms * cap)[:3_000]),
        b.message_case("huge", (symptoms * cap)[:cap]),
        b.message_case("huge", ("how much is prp " * cap)[:cap]),  # at the cap: parsed
        b.message_case("huge", ("how much is prp " * cap)[: cap + 1]),  # one over
        b.message_case("huge", "😀" * cap),
        b.message_case("huge", "😀" * (cap + 1)),
    ]
    # Bodies of exactly the limit and one byte over it (a message of "x" fills the body).
    for extra in (0, 1):
        sender = b.sender()
        skeleton = len(json.dumps({"sender": sender, "message": ""}).encode())
        message = "x" * (b.max_bytes - skeleton + extra)
        body = json.dumps({"sender": sender, "message": message}).encode()
        cases.append(FuzzCase("huge", body, b.expectation(body, message)))
    return cases


def _emoji(b: _Builder) -> list[FuzzCase]:
    def one() -> str:
        roll = b.rng.random()
        if roll < 0.35:
            return b.rng.choice(EMOJI)
        if roll < 0.55:
            return b.rng.choice(TONE_BASES) + b.rng.choice(SKIN_TONES)
        if roll < 0.75:
            return b.rng.choice(ZWJ_SEQUENCES)
        if roll < 0.9:  # flags, also pairs that are no country ("ZZ")
            return chr(0x1F1E6 + b.rng.randrange(26)) + chr(0x1F1E6 + b.rng.randrange(26))
        return b.rng.choice(TAG_FLAGS + KEYCAPS + ["\ufe0f", "\U0001f3fb"])  # and strays

    cases = []
    for index in range(85):
        count = b.rng.randint(500, 1900)
        separator = b.rng.choice(["", "", " ", "\u200d"])
        text = separator.join(one() for _ in range(count))
        if index % 4 == 0:
            text = b.question() + " " + text
        elif index % 4 == 1:
            text = b.within_cap(text)  # runs cut at the cap, mid-sequence
        cases.append(b.message_case("emoji", text))
    return cases


def _control_characters(b: _Builder) -> list[FuzzCase]:
    cases = [b.message_case("control_chars", char) for char in CONTROL_CHARS]
    fixed = [
        "what is prp\x00", "\x00" * 100, "\x1b[31mred\x1b[0m what is prp", "prp\r\rcost",
        "\x08\x08\x08hello", "\x7f" * 50, "what\x0cis\x0bprp", "\x85\x9f what is prp",
    ]  # fmt: skip
    cases += [b.message_case("control_chars", text) for text in fixed]
    while len(cases) < 80:
        pool = CONTROL_CHARS + C1_CONTROLS
        if b.rng.random() < 0.4:
            text = "".join(b.rng.choice(pool) for _ in range(b.rng.randint(1, 400)))
        else:
            text = b.sprinkle(b.question(), pool, b.rng.choice([0.1, 0.3, 1.0]))
        cases.append(b.message_case("control_chars", text))
    return cases


def _zero_width(b: _Builder) -> list[FuzzCase]:
    fixed = ["\u200b", "\u200b\u200c\u200d\ufeff", "\ufeffwhat is prp", "p\u200br\u200bp cost",
             "meso\u00adtherapy", "\u200d" * 1000, "\ufeff" * 1999]  # fmt: skip
    cases = [b.message_case("zero_width", text) for text in fixed]
    while len(cases) < 55:
        if b.rng.random() < 0.3:
            text = "".join(b.rng.choice(ZERO_WIDTH) for _ in range(b.rng.randint(1, 1999)))
        else:
            text = b.sprinkle(b.question(), ZERO_WIDTH, b.rng.choice([0.2, 1.0, 3.0]))
        cases.append(b.message_case("zero_width", b.within_cap(text)))
    return cases


def _bidi(b: _Builder) -> list[FuzzCase]:
    fixed = ["\u202eprp\u202c", "\u202ewhat is prp", "\u2067" * 500, "\u202d\u202e" * 400,
             "cost of \u2066exosomes\u2069?", "\u200f" + SCRIPTS[0] + " prp"]  # fmt: skip
    cases = [b.message_case("bidi", text) for text in fixed]
    while len(cases) < 50:
        roll = b.rng.random()
        if roll < 0.4:
            text = b.rng.choice(BIDI) + b.question() + b.rng.choice(BIDI)
        elif roll < 0.7:
            text = b.sprinkle(b.question(), BIDI, 0.5)
        else:
            text = b.rng.choice(SCRIPTS) + b.rng.choice(BIDI) + " " + b.question()
        cases.append(b.message_case("bidi", text))
    return cases


def _zalgo(b: _Builder) -> list[FuzzCase]:
    def stack(text: str, height: int) -> str:
        return "".join(
            char + "".join(b.rng.choice(COMBINING) for _ in range(b.rng.randint(0, height)))
            for char in text
        )

    cases = [
        b.message_case("zalgo", "\u0301" * 1999),
        b.message_case("zalgo", "e" + "\u0301" * 1999),
    ]
    while len(cases) < 50:
        text = stack(b.question(), b.rng.choice([3, 10, 40, 150]))
        if b.rng.random() < 0.7:
            text = b.within_cap(text)
        cases.append(b.message_case("zalgo", text))
    return cases


def _invalid_utf8(b: _Builder) -> list[FuzzCase]:
    """Bytes no UTF-8 decoder takes, in the message, the sender or between the fields."""
    bad = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xf0\x80\x80\x80",
           b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80", b"\xbf\xbf", b"\xe2\x82",
           b"\xf0\x9f\x98", b"caf\xe9", b"\xc3\x28", b"\xa0\xa1"]  # fmt: skip
    cases = []
    while len(cases) < 45:
        junk = b.rng.choice(bad)
        text = b.question().encode()
        cut = b.rng.randrange(len(text) + 1)
        place = b.rng.choice(["message", "message", "sender", "between"])
        if place == "message":
            body = b'{"sender": "%s", "message": "%s%s%s"}' % (
                b.sender().encode(), text[:cut], junk, text[cut:],
            )  # fmt: skip
        elif place == "sender":
            body = b'{"sender": "fuzz-%s", "message": "%s"}' % (junk, text)
        else:
            body = b'{"sender": "%s",%s "message": "%s"}' % (b.sender().encode(), junk, text)
        cases.append(FuzzCase("invalid_utf8", body, BAD_REQUEST))
    # A whole body in Latin-1 or Windows-1252, as an old form might post it.
    for encoding in ("latin-1", "cp1252"):
        body = '{"sender": "fuzz", "message": "café crème, ça coûte combien?"}'.encode(encoding)
        cases.append(FuzzCase("invalid_utf8", body, BAD_REQUEST))
    return cases


def _lone_surrogates(b: _Builder) -> list[FuzzCase]:
    """Valid JSON whose strings are not valid Unicode: ``\\ud800`` escapes, and UTF-8-encoded
    surrogates (``ED A0 80``), which Python's JSON reader decodes with ``surrogatepass``."""
    cases = []
    for index in range(24):
        surrogate = chr(
            b.rng.choice([0xD800, 0xDBFF, 0xDC00, 0xDFFF, b.rng.randint(0xD800, 0xDFFF)])
        )
        question = b.question()
        cut = b.rng.randrange(len(question) + 1)
        message = question[:cut] + surrogate + question[cut:]
        sender = b.sender()
        if index % 3 == 2:  # in the sender, which is the conversation id
            sender, message = sender + surrogate, question
        value = {"sender": sender, "message": message}
        if index % 2 == 0:
            body = json.dumps(value).encode()  # "\ud800" escapes
        else:
            body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
        cases.append(FuzzCase("lone_surrogate", body, REPLY_OR_BAD_REQUEST))
    return cases


def _body_encodings(b: _Builder) -> list[FuzzCase]:
    """Bodies Python's JSON reader takes although they are not plain UTF-8 (it detects UTF-16
    and UTF-32, and skips a UTF-8 byte order mark): the message is read as sent."""
    cases = []
    for encoding in ("utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"):
        text = json.dumps({"sender": b.sender(), "message": b.question()}, ensure_ascii=False)
        cases.append(FuzzCase("body_encoding", text.encode(encoding), REPLY))
    return cases


def _html_injection(b: _Builder) -> list[FuzzCase]:
    cases = [b.message_case("html_injection", text) for text in INJECTIONS]
    while len(cases) < 75:
        injection = b.rng.choice(INJECTIONS)
        question = b.question()
        cut = b.rng.randrange(len(question) + 1)
        text = b.rng.choice(
            [
                question[:cut] + injection + question[cut:],
                injection * b.rng.randint(2, 60),
                f"My name is {injection}, {question}",
            ]
        )
        cases.append(b.message_case("html_injection", b.within_cap(text)))
    return cases


def _payload_syntax(b: _Builder) -> list[FuzzCase]:
    """Rasa's ``/intent{"entity": value}`` syntax, as buttons send it, with unknown intents,
    Rasa's own intents and actions, odd entities and broken JSON."""
    cases = [b.message_case("payload_syntax", text) for text in LISTED_PAYLOADS]
    cases += [b.message_case("payload_syntax", f"/{name}") for name in RASA_DEFAULTS]
    while len(cases) < 150:
        roll = b.rng.random()
        intent = b.rng.choice(b.intents if roll < 0.7 else UNKNOWN_INTENTS + RASA_DEFAULTS)
        entities: dict[str, Any] = {}
        for _ in range(b.rng.choice([0, 1, 1, 2, 3])):
            name = b.rng.choice(b.entities + ODD_ENTITY_NAMES)
            entities[name] = b.rng.choice(ODD_ENTITY_VALUES)
        arguments = json.dumps(entities) if entities else ""
        style = b.rng.random()
        if style < 0.15 and arguments:
            arguments = arguments[: b.rng.randrange(1, len(arguments))]  # broken JSON
        elif style < 0.25:
            arguments = f"@{b.rng.choice(['0.5', '1', '2', '-1', 'nan', 'x', ''])}{arguments}"
        elif style < 0.32:
            arguments = arguments + " " + b.question()
        cases.append(b.message_case("payload_syntax", b.within_cap(f"/{intent}{arguments}")))
    return cases


def _non_string_message(b: _Builder) -> list[FuzzCase]:
    values: list[Any] = [
        0, 1, -1, 42, 1.5, -0.0, 10**30, True, False, None, [], ["what is prp"], [["prp"]], {},
        {"text": "what is prp"}, {"message": "hi"}, [None],
    ]  # fmt: skip
    cases = [
        FuzzCase(
            "non_string_message", b.json_bytes({"sender": b.sender(), "message": v}), BAD_REQUEST
        )
        for v in values
    ]
    literals = [b"1e999", b"-1e999", b"NaN", b"Infinity", b"-Infinity", b"1" * 5000, b"0.1e-400"]
    cases += [
        FuzzCase(
            "non_string_message",
            b'{"sender": "%s", "message": %s}' % (b.sender().encode(), literal),
            BAD_REQUEST,
        )
        for literal in literals
    ]
    while len(cases) < 35:
        value = b.rng.choice(values)
        nested: Any = value
        for _ in range(b.rng.randint(1, 30)):
            nested = b.rng.choice([[nested], {"x": nested}])
        body = b.json_bytes({"sender": b.sender(), "message": nested})
        cases.append(FuzzCase("non_string_message", body, BAD_REQUEST))
    return cases


def _non_object_body(b: _Builder) -> list[FuzzCase]:
    good = {"sender": "fuzz", "message": "what is prp"}
    values: list[Any] = [[good], [], "what is prp", "", 42, 0, -1.5, None, True, False,
                         [[good]], [None, good], ["sender", "message"]]  # fmt: skip
    cases = [FuzzCase("non_object_body", b.json_bytes(v), BAD_REQUEST) for v in values]
    raw = [
        b"",
        b" ",
        b"\n",
        b"what is prp",
        b"sender=fuzz&message=what+is+prp",
        b'{"sender": "fuzz", "message": "what is prp"',
        b'{"sender": "fuzz" "message": "what is prp"}',
        b"{'sender': 'fuzz', 'message': 'what is prp'}",
        b'{"sender": "fuzz", "message": "what is prp",}',
        b'{"sender": "fuzz", "message": "what is prp"} {"sender": "x"}',
        b'{"sender": "fuzz", "message": "what is prp"}garbage',
        b"<message><sender>fuzz</sender><text>what is prp</text></message>",
        b"sender: fuzz\nmessage: what is prp\n",
        b"\x00" * 64,
        b"[" * 20_000 + b"]" * 20_000,  # too deep for the parser, small enough for the limit
        b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
        b"null",
        b"nul",
        b"tru",
        b"{",
        b"}",
    ]
    cases += [FuzzCase("non_object_body", body, BAD_REQUEST) for body in raw]
    return cases


def _missing_fields(b: _Builder) -> list[FuzzCase]:
    sender, question = b.sender(), b.question()
    values: list[dict[str, Any]] = [
        {},
        {"sender": sender},
        {"message": question},
        {"text": question, "sender": sender},
        {"Message": question, "sender": sender},
        {"message ": question, "sender": sender},
        {"sender": sender, "msg": question},
        {"sender_id": sender, "message": question},
        {"Sender": sender, "message": question},
        {"recipient_id": sender, "message": question},
        {"sender": sender, "message": None},
        {"sender": None, "message": question},
        {"sender": None, "message": None},
        {"": question},
        {"metadata": {"sender": sender, "message": question}},
        {"input_channel": "rest", "metadata": {}},
    ]
    return [FuzzCase("missing_fields", b.json_bytes(v), BAD_REQUEST) for v in values]


def _sender_edges(b: _Builder) -> list[FuzzCase]:
    def with_sender(sender: Any) -> FuzzCase:
        message = b.question()
        body = b.json_bytes({"sender": sender, "message": message})
        valid = isinstance(sender, str) and 1 <= len(sender) <= MAX_SENDER_CHARS
        return FuzzCase("sender_edge", body, b.expectation(body, message) if valid else BAD_REQUEST)

    senders: list[Any] = [
        "", " ", "\t", "a", "x" * MAX_SENDER_CHARS, "x" * (MAX_SENDER_CHARS + 1), "x" * 10_000,
        "é" * MAX_SENDER_CHARS, "é" * (MAX_SENDER_CHARS + 1), "😀" * MAX_SENDER_CHARS,
        "😀" * (MAX_SENDER_CHARS + 1), "患者", "مريض", "\u202eevil", "\x00", "\x00" * 10,
        "\u200b", "a\nb", "../../etc/passwd", "rest:alice", "twilio:+447700900123",
        "socketio:abc", "default", "readiness-check", "<script>alert(1)</script>",
        "'; DROP TABLE events; --", "%00", "e" + "\u0301" * 100, 0, 42, -1, 1.5, True, False,
        [], ["alice"], {}, {"id": "alice"},
    ]  # fmt: skip
    cases = [with_sender(sender) for sender in senders]
    # The same odd sender again: a conversation that goes on.
    cases += [with_sender(sender) for sender in ("é" * 20, "\x00", " ", "rest:alice")]
    return cases


def _noisy_questions(b: _Builder) -> list[FuzzCase]:
    """Real questions with noise: the NLU must still answer, or at least reply politely."""

    def noise(question: str) -> str:
        ops: list[Callable[[str], str]] = [
            lambda q: q.upper(),
            lambda q: "".join(c.upper() if b.rng.random() < 0.5 else c for c in q),
            lambda q: b.sprinkle(q, EMOJI, 0.1),
            lambda q: b.sprinkle(q, ZERO_WIDTH, 0.2),
            lambda q: b.sprinkle(q, CONTROL_CHARS, 0.05),
            lambda q: b.sprinkle(q, list("!?.,;:-_*#@~^"), 0.15),
            lambda q: q + " " + "!" * b.rng.randint(5, 300),
            lambda q: "?" * b.rng.randint(5, 300) + q,
            lambda q: q.replace(" ", b.rng.choice(["  ", "\t", "\n", "\u00a0", "_", ""])),
            lambda q: q + " " + b.rng.choice(SCRIPTS),
            lambda q: b.rng.choice(INJECTIONS) + " " + q,
            lambda q: q + " " + " ".join(b.rng.choice(FILLER_WORDS) for _ in range(40)),
            lambda q: q.translate(str.maketrans("aeios", "43105")),
            lambda q: "".join(c + "\u0301" if b.rng.random() < 0.2 else c for c in q),
            lambda q: q + " " + b.question(),
            lambda q: (q + " ") * b.rng.randint(2, 20),
            lambda q: q[::-1],
        ]
        for op in b.rng.sample(ops, b.rng.randint(1, 3)):
            question = op(question)
        return question

    return [b.message_case("noisy_question", b.within_cap(noise(b.question()))) for _ in range(260)]


KINDS: dict[str, Callable[[_Builder], list[FuzzCase]]] = {
    "empty_or_blank": _empty_and_blank,
    "huge": _huge,
    "emoji": _emoji,
    "control_chars": _control_characters,
    "zero_width": _zero_width,
    "bidi": _bidi,
    "zalgo": _zalgo,
    "invalid_utf8": _invalid_utf8,
    "lone_surrogate": _lone_surrogates,
    "body_encoding": _body_encodings,
    "html_injection": _html_injection,
    "payload_syntax": _payload_syntax,
    "non_string_message": _non_string_message,
    "non_object_body": _non_object_body,
    "missing_fields": _missing_fields,
    "sender_edge": _sender_edges,
    "noisy_question": _noisy_questions,
}


def generate_cases(
    seed: int | None = None, max_chars: int | None = None, max_bytes: int | None = None
) -> list[FuzzCase]:
    """Every kind's cases, shuffled (so kinds arrive mixed, as real traffic would), the same
    for the same seed, message cap and body limit (by default the servers' own)."""
    rng = random.Random(fuzz_seed() if seed is None else seed)
    builder = _Builder(
        rng,
        max_message_chars() if max_chars is None else max_chars,
        max_body_bytes() if max_bytes is None else max_bytes,
    )
    cases = [case for make in KINDS.values() for case in make(builder)]
    rng.shuffle(cases)
    return cases
