"""No personal data in any log: every log record of the process is redacted before a handler
sees it.

:func:`install_log_privacy` wraps the process's log record factory
(``logging.setLogRecordFactory``). Why a record factory and not a filter or a formatter:
Rasa replaces the logging set-up at start-up, after our code could add anything to it
(``rasa/__main__.py``: ``configure_logging_and_warnings``, ``coloredlogs.install`` via
``configure_colored_logging``, ``configure_structlog``'s ``basicConfig``; ``rasa/server.py``
builds ``Sanic("rasa_server")``, whose ``dictConfig`` gives the ``sanic.*`` loggers their own
handlers; ``update_sanic_log_level`` in rasa and rasa_sdk sets ``propagate = False`` on them;
``--log-file`` adds file handlers). Handler filters and formatters are lost with the handlers,
and a logger's filters never see records propagated from its children. ``Logger.makeRecord``
calls the one global factory for every logger of every class (structlog's
``_FixedFindCallerLogger`` included) before any filter or handler runs, and nothing in rasa,
rasa_sdk, sanic or structlog sets a factory of its own. The ``extra=`` values that
``makeRecord`` adds after the factory (sanic's access log puts ``request = "METHOD URL"``
there) are redacted too: the record's ``__dict__`` becomes a dict that redacts the strings
written into it with ``rv.__dict__[key] = ...``, the way ``makeRecord`` writes them.

The redaction is eager: ``msg % args`` is formatted once, redacted and kept as ``msg`` with no
``args``; ``exc_info`` is rendered into ``exc_text`` (the text ``logging.Formatter`` prints)
and dropped; ``stack_info`` is redacted. No handler (a JSON formatter, Sentry's logging
integration) can reach the raw arguments or the exception object. The price is that a record
is formatted even when no handler emits it; records below a logger's level are never created.
If redaction itself fails, the record says "withheld" instead of carrying the raw text.

What is redacted, in the message and the exception text (:func:`redact`):

- e-mail addresses -> ``[email]``; phone numbers -> ``[phone]``: 7 or more digits written with
  spaces, dashes or brackets, with ``+``/``00`` or without (``clinic.contact`` also allows ``.``
  and ``/`` inside a number; here they would turn confidences, timestamps and dates into
  phones, so they end one). Decimals, dates (2026-12-02) and digits glued to letters stay;
- tracker dumps: a ``{...}`` (JSON or a Python repr) whose own keys include ``events``,
  ``slots``, ``latest_message`` or ``tracker`` -> ``[tracker redacted]``;
- the value of a personal key (:data:`PERSONAL_KEYS`: the message, sender and slot keys, the
  project's free-text slots, and the keys Rasa's own anonymiser lists) in ``"key": value``,
  ``'key': value`` and ``key=value`` (structlog's console lines) -> ``[redacted]``;
- Rasa's own lines that carry message text, sender ids or slot values (below), and the events'
  reprs: ``SlotSet(key: k, value: [redacted])``, ``UserUttered(text: [redacted], ...)``,
  ``BotUttered(...)``; the ``locals`` panels of rich tracebacks; ``/conversations/<id>`` and
  query-string values in URLs.

Action names, intents, ticket ids, exception class names and stack frames (file, line) stay.
ANSI colour codes are removed from messages (structlog's console renderer colours inside the
message, and a code between "07700" and "900123" would hide the number).

Where Rasa 3.6.21 and rasa_sdk 3.6.2 log personal data (read in site-packages):

- structlog events, rendered to one string (JSON when stderr is not a terminal, else
  ``key=value`` with colours) and logged through the stdlib logger: ``processor.message.parse``
  (``parse_data_text``, ``parse_data_entities``; DEBUG; it replaced older Rasas'
  ``"Received user message '...' with intent '...' and entities '...'"``, still handled),
  ``processor.slots.log`` (``slot_values``), ``processor.extract.slots`` /
  ``processor.actions.log`` (``rasa_events``), ``processor.actions.policy_prediction``
  (``prediction_events``) in ``rasa/core/processor.py``; ``forms.slots.validate``,
  ``forms.validation.required``, ``forms.validate.prefilled_slots`` (``actions/forms.py``);
  ``rule_policy.actions.find`` / ``memoization.*`` (states); ``event.deserialization.failed``;
  ``rest.message.received.timeout`` / ``.failure`` (``text``, ERROR, ``channels/rest.py``),
  ``http.parse.text*``, ``facebook.message.cannot.handle`` (``message``). Their exceptions
  carry every frame's local variables: ``dict_tracebacks`` (``"locals"``) in JSON, a rich
  traceback with ``locals`` panels on a terminal. Rasa's anonymiser for these keys
  (``rasa/utils/log_utils.py::_anonymizer``) only runs with a Rasa Pro pipeline;
- sender ids in f-strings: ``processor.py`` "Starting a new session for conversation ID
  '...'", "Circuit breaker tripped ... for sender '...'", "The latest session for
  conversation ID '...' has expired"; ``tracker_store.py`` "Could not find tracker for
  conversation ID '...'", "Recreating tracker for id '...'" / "from sender id '...'", "Tracker
  with sender_id '...' stored"; ``lock_store.py`` "... lock for conversation (ID) '...'";
  ``server.py`` "Fetched trackers ... for conversation ID ...";
- slot values: ``actions/action.py`` (ActionExtractSlots, DEBUG) "Validating extracted slots:
  {...}", ``actions/forms.py`` "... resulted in these events: SlotSet(key: ..., value: ...)";
  ``nlg/callback.py`` "The request body is {...}" (the tracker), "Received NLG response";
- a failing custom action: rasa_sdk's ``endpoint.py`` exception handler logs "Exception
  occurred during execution of request <Request: POST /webhook>" with the traceback (the
  exception's message) and answers 500 with ``{"error": str(exception), "request_body":
  <the whole action call: sender_id, tracker, slots, latest_message, events>}``; Rasa's
  ``RemoteAction.run`` raises "Failed to execute custom action '...'" from
  ``ClientResponseError("500, Internal Server Error, body='b'{...}''")``
  (``utils/endpoints.py``) and ``processor.py`` logs it with ``logger.exception``
  "Encountered an exception while running action '...'": the chained traceback prints the
  body, the whole tracker, name and e-mail included (the issue's report);
- rasa_sdk ``executor.py`` (DEBUG) "Contents of ignored event: '{...}'";
- sanic ``handlers.py`` "Exception occurred while handling uri: '<url>'" (the url holds
  ``/conversations/<sender_id>/...`` and query strings), and the access log's ``request``
  extra (only when ``LOG_LEVEL_LIBRARIES`` is INFO or DEBUG; the default is ERROR).

Not covered: free-text names that sit in none of these places (e.g. an exception message
``f"no booking for {name}"``: keep names out of exception messages), ``print()`` output, and
processes that never call :func:`install_log_privacy` (each server launcher must; sanic's
forked workers inherit it).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"
TRACKER_MARK = "[tracker redacted]"
REDACTED_MARK = "[redacted]"
LOCALS_MARK = "[locals redacted]"
_MARKS = frozenset({REDACTED_MARK, TRACKER_MARK, EMAIL_MARK, PHONE_MARK, LOCALS_MARK})

TRACKER_KEYS = frozenset({"events", "slots", "latest_message", "tracker"})
PERSONAL_KEYS = frozenset(
    {
        # Message text and who sent it, in Rasa's and the channels' payloads.
        "text",
        "sender_id",
        "sender",
        "recipient_id",
        "conversation_id",
        "value",
        "metadata",
        "message",
        # The project's free-text slots (domain.yml) and a ticket's contact fields.
        "contact_name",
        "contact_details",
        "callback_phone",
        "preferred_time",
        "treatment_of_interest",
        "contact_phone",
        "contact_email",
        "phone",
        "email",
        # rasa_sdk's 500 answer and structlog's tracebacks (every frame's local variables).
        "request_body",
        "locals",
        # The keys Rasa 3.6's anonymiser treats as personal (rasa/utils/log_utils.py), but
        # "entity": in parse data it names the entity type ("treatment"), not its value.
        "response_text",
        "user_text",
        "slot_values",
        "parse_data_text",
        "parse_data_entities",
        "prediction_events",
        "tracker_latest_message",
        "prefilled_slots",
        "response",
        "slot_candidates",
        "rasa_event",
        "rasa_events",
        "tracker_states",
        "current_states",
        "old_states",
        "successes",
        "current_entity",
        "next_entity",
        "states",
        "token_text",
        "user_message",
        "json_message",
        # A tracker's own parts, should one appear outside a recognisable dump.
        *TRACKER_KEYS,
    }
)

_MARKER_ATTRIBUTE = "_clinic_log_privacy"
_KEYS = "|".join(sorted(PERSONAL_KEYS, key=len, reverse=True))
# Values that are not personal and help reading a dump.
_HARMLESS_VALUES = frozenset(
    {"null", "None", "true", "false", "True", "False", '""', "''", "[]", "{}"}
)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# structlog's coloured console pair: key (cyan), "=", value (magenta) up to the reset.
_ANSI_PAIR = re.compile(
    rf"(?P<key>\x1b\[[0-9;]*m(?:{_KEYS})\x1b\[0m=\x1b\[[0-9;]*m).*?(?=\x1b\[0m)", re.DOTALL
)

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
_PHONE = re.compile(
    r"(?<![\w+.\-])"  # not the tail of a word, a decimal or a dashed id (a UUID's "-1234")
    r"(?:\+|\(\+?)?\d[\d \t\u00a0()\-]{5,}\d"
    r"(?!\w|\.\d)"  # nor the head of a word or a decimal (1796243176.31)
)
# The same run without the lookarounds: a quick test (a third of the time on text without one).
_PHONE_GATE = re.compile(r"[+(\d][\d \t\u00a0()+\-]{5,}\d")
_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}-\d{2}-\d{4}")
_NOT_DIGIT = re.compile(r"\D")
MIN_PHONE_DIGITS = 7

# A key of a dict repr or JSON object, quotes possibly escaped (JSON inside a JSON string).
_QUOTED_KEY = re.compile(rf"""(?P<quote>\\*["'])(?:{_KEYS})(?P=quote)\s*:\s*""")
_TRACKER_KEY = re.compile(r"""\\*["'](?:events|slots|latest_message|tracker)\\*["']\s*:""")
_PLAIN_PAIR = re.compile(rf"(?<![\w.\-\[])(?:{_KEYS})=(?!=)")
_PLAIN_VALUE_END = re.compile(r"(?=\s+[A-Za-z_][\w.\-]*=|&[A-Za-z_][\w.\-]*=|\n)|$")
# The structure of dict reprs and JSON: strings (a key when a colon follows) and brackets.
_STRUCTURE = re.compile(r"""(\\*"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')(\s*:)?|[{}\[\]]""")
_STRING = {
    '"': re.compile(r'"(?:[^"\\\n]|\\.)*"'),
    "'": re.compile(r"'(?:[^'\\\n]|\\.)*'"),
}
_ESCAPED_STRING = re.compile(r'(\\+)"(?:\\\\\\"|[^"\n])*?\1"')
_SCALAR = re.compile(r"[^,}\]\n]*")

_RICH_LOCALS = re.compile(r"╭─*\s*locals\s*─*╮.*?╰─*╯", re.DOTALL)
# Rasa's own lines, each run only when its trigger (a plain substring test) is in the text.
_RASA_LINES: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # rasa.core.processor in older Rasas (DEBUG); text up to the intent, or to the last quote.
    (
        ("Received user message",),
        re.compile(r"(Received user message ').*?(' with intent ')", re.DOTALL),
        r"\1[redacted]\2",
    ),
    (
        ("Received user message",),
        re.compile(r"(Received user message ')(?!\[redacted\]' with).*'", re.DOTALL),
        r"\1[redacted]'",
    ),
    # Sender ids: processor, tracker store, lock store ("... conversation ID '<id>'").
    (
        ("onversation", "ender", "ecipient", "for id"),
        re.compile(
            r"\b((?:conversation|sender|recipient)(?: ID| id|_id)?|for id) '[^'\n]*'", re.IGNORECASE
        ),
        r"\1 '[redacted]'",
    ),
    (
        ("conversation ID ",),
        re.compile(r"\b(conversation ID) (?!'|\[redacted\])\S+?(?=[.,;]?(?:\s|$))"),
        r"\1 [redacted]",
    ),
    # rasa.core.actions.action, ActionExtractSlots (DEBUG): {slot name: value}.
    (
        ("Validating extracted slots: ",),
        re.compile(r"(Validating extracted slots: ).+"),
        r"\1[redacted]",
    ),
    # rasa_sdk.executor (DEBUG): an event dict the action returned.
    (
        ("Contents of ignored event: ",),
        re.compile(r"(Contents of ignored event: ).+"),
        r"\1[redacted]",
    ),
    # Event reprs (rasa/shared/core/events.py), as in "... resulted in these events: ...".
    (
        ("SlotSet(",),
        re.compile(r"(SlotSet\(key: [^,\n]*, value: )(?!None\)).*?(\)(?=[,.\]\"'\s]|$))"),
        r"\1[redacted]\2",
    ),
    (("UserUttered(",), re.compile(r"(UserUttered\(text: ).*?(, intent: )"), r"\1[redacted]\2"),
    (
        ("Uttered(text: ",),
        re.compile(r"((?:BotUttered|AgentUttered)\(text: ).*?(, data: )"),
        r"\1[redacted]\2",
    ),
    (("BotUttered('",), re.compile(r"(BotUttered\(').*?(', (?:\{|null))"), r"\1[redacted]\2"),
    (
        (" (Type: ",),
        re.compile(r"((?:entities: |\), ))[^()\n]*?( \(Type: )"),
        r"\1[redacted]\2",
    ),
    # rasa.shared.nlu.training_data (a Python warning, logged through captureWarnings): a
    # message typed in payload syntax ("/inform{...}") that did not parse, quoted whole.
    (
        ("Failed to parse arguments in line ",),
        re.compile(r"(Failed to parse arguments in line ).*", re.DOTALL),
        r"\1[redacted]",
    ),
    # URLs: the conversation id in Rasa's HTTP API paths, and query-string values.
    (("/conversations/",), re.compile(r"(/conversations/)[^/\s'\"?#]+"), r"\1[redacted]"),
    (("?", "&"), re.compile(r"([?&][\w.\-]+=)[^&\s'\"#]+"), r"\1[redacted]"),
)
_RASA_TRIGGER = re.compile("|".join(re.escape(t) for rule in _RASA_LINES for t in rule[0]))


def redact(text: str) -> str:
    """``text`` without e-mail addresses, phone numbers, tracker dumps, personal values and
    the message text or sender ids of Rasa's own log lines."""
    if "\x1b" in text:
        text = _ANSI_PAIR.sub(_redact_ansi_pair, text)
        text = _ANSI.sub("", text)
    if ("events" in text or "slots" in text or "tracker" in text or "latest_message" in text) and (
        _TRACKER_KEY.search(text)
    ):
        text = _redact_tracker_dumps(text)
    if "locals" in text:
        text = _RICH_LOCALS.sub(LOCALS_MARK, text)
    if _RASA_TRIGGER.search(text):
        for triggers, pattern, replacement in _RASA_LINES:
            for trigger in triggers:
                if trigger in text:
                    text = pattern.sub(replacement, text)
                    break
    if ":" in text:
        text = _redact_values(text, _QUOTED_KEY)
    if "=" in text:
        text = _redact_values(text, _PLAIN_PAIR)
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(EMAIL_MARK, text)
    if _PHONE_GATE.search(text):
        text = _PHONE.sub(_phone_or_not, text)
    return text


def install_log_privacy() -> None:
    """Redact every log record of the process from now on (idempotent)."""
    # Rasa reports unparsable payload messages with warnings.warn, quoting the message:
    # through logging, warnings are redacted like every other record.
    logging.captureWarnings(True)
    current = logging.getLogRecordFactory()
    if getattr(current, _MARKER_ATTRIBUTE, False):
        return
    logging.setLogRecordFactory(_private_record_factory(current))


def _private_record_factory(wrapped: Callable[..., logging.LogRecord]) -> Callable[..., Any]:
    def make_private_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = wrapped(*args, **kwargs)
        try:
            _redact_record(record)
        except Exception as error:  # never let a log call fail, never leak on a bug here
            record.msg = f"[log record withheld: redaction failed ({type(error).__name__})]"
            record.args, record.exc_info, record.exc_text, record.stack_info = (), None, None, None
        return record

    setattr(make_private_record, _MARKER_ATTRIBUTE, True)
    make_private_record.__wrapped__ = wrapped  # type: ignore[attr-defined]
    return make_private_record


class _RedactingRecordDict(dict):
    """A record's ``__dict__`` that redacts the strings ``Logger.makeRecord`` writes into it
    from ``extra=`` (item assignment; plain attribute assignment bypasses it)."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, redact(value) if isinstance(value, str) else value)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # what logging would print as "--- Logging error ---", args included
        message = f"{record.msg} [the log call's arguments did not fit its message]"
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        rendered = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_text, record.exc_info = redact(rendered), None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record.__dict__ = _RedactingRecordDict(record.__dict__)


def _phone_or_not(match: re.Match[str]) -> str:
    candidate = match.group()
    date = _DATE_PREFIX.match(candidate)
    if date:  # "2026-12-02 07700 900123": keep the date, look at the rest
        rest = candidate[date.end() :]
        return date.group() + _PHONE.sub(_phone_or_not, rest)
    digits = len(_NOT_DIGIT.sub("", candidate))
    return PHONE_MARK if digits >= MIN_PHONE_DIGITS else candidate


def _redact_ansi_pair(match: re.Match[str]) -> str:
    return match.group("key") + REDACTED_MARK


def _redact_values(text: str, key_pattern: re.Pattern[str]) -> str:
    """Replace the value after each match of ``key_pattern`` (a key and its separator)."""
    pieces: list[str] = []
    position = 0
    for match in key_pattern.finditer(text):
        start = match.end()
        if match.start() < position:  # inside a value already replaced
            continue
        end = _value_end(text, start, plain=key_pattern is _PLAIN_PAIR)
        value = text[start:end]
        if not value or value in _HARMLESS_VALUES or value.strip("\"'\\") in _MARKS:
            continue
        quote = match.groupdict().get("quote") or ""
        pieces += [text[position:start], f"{quote}{REDACTED_MARK}{quote}"]
        position = end
    if not pieces:
        return text
    pieces.append(text[position:])
    return "".join(pieces)


def _value_end(text: str, start: int, *, plain: bool) -> int:
    """Where the value starting at ``start`` ends: a string, a bracketed structure, a
    scalar, or (``key=value`` lines) the text up to the next ``key=``."""
    if start >= len(text):
        return start
    first = text[start]
    if first in "bBrRuU" and text[start + 1 : start + 2] in ("'", '"'):  # b'...' reprs
        start, first = start + 1, text[start + 1]
    if first in _STRING or first == "\\":
        match = _STRING.get(first, _ESCAPED_STRING).match(text, start)
        return match.end() if match else _line_end(text, start)  # cut off: to its line's end
    if first in "{[(":
        return _closing(text, start)
    if plain:
        return _PLAIN_VALUE_END.search(text, start).start()  # type: ignore[union-attr]
    return _SCALAR.match(text, start).end()  # type: ignore[union-attr]


def _closing(text: str, start: int) -> int:
    """The end of the bracketed structure opening at ``start``; the end of its line if it
    never closes (a cut-off dump; a structure that spans lines, pretty-printed, closes)."""
    if text[start] == "(":  # a repr like SlotSet(...): no strings to skip inside
        depth = 0
        for index in range(start, len(text)):
            if text[index] == "(":
                depth += 1
            elif text[index] == ")":
                depth -= 1
                if depth == 0:
                    return index + 1
        return _line_end(text, start)
    depth = 0
    for token in _STRUCTURE.finditer(text, start):
        if token.group(1) is not None:
            continue
        if text[token.start()] in "{[":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return token.end()
    return _line_end(text, start)


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _redact_tracker_dumps(text: str) -> str:
    """Replace each outermost ``{...}`` whose own keys include a tracker key."""
    open_brackets: list[list[Any]] = []  # [is a brace, start, is a tracker dump]
    spans: list[tuple[int, int]] = []
    for token in _STRUCTURE.finditer(text):
        string, colon = token.groups()
        if string is not None:
            is_key = colon and open_brackets and open_brackets[-1][0]
            if is_key and string.strip("\\\"'") in TRACKER_KEYS:
                open_brackets[-1][2] = True
            continue
        start = token.start()
        bracket = text[start]
        if bracket in "{[":
            open_brackets.append([bracket == "{", start, False])
        elif open_brackets:
            _, opened, is_dump = open_brackets.pop()
            if is_dump:
                spans.append((opened, token.end()))
    unclosed = [start for _, start, is_dump in open_brackets if is_dump]
    if unclosed:  # cut off: to the end of the line it starts on
        spans.append((unclosed[0], _line_end(text, unclosed[0])))
    covered = _merged(spans)
    # A tracker key the parser could not place (say, JSON escaped inside a JSON string):
    # redact from the brace before it to the end of its line.
    for key in _TRACKER_KEY.finditer(text):
        if not any(start <= key.start() < end for start, end in covered):
            brace = text.rfind("{", 0, key.start())
            spans.append((brace if brace >= 0 else key.start(), _line_end(text, key.start())))
    pieces: list[str] = []
    position = 0
    for start, end in _merged(spans):
        pieces += [text[position:start], TRACKER_MARK]
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
