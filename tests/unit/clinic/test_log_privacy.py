"""No personal data in the logs (clinic.log_privacy): real loggers and handlers writing to a
file, Rasa's own logging set-up, Rasa's and rasa_sdk's own log lines, a real action server."""

from __future__ import annotations

import asyncio
import json
import logging
import logging.config
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import structlog
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig
from rasa.utils.io import configure_colored_logging
from rasa.utils.log_utils import HumanConsoleRenderer, configure_structlog
from rasa_sdk import Action, Tracker
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from sanic import Sanic

from clinic.log_privacy import install_log_privacy, redact
from tests.support.log_scan import personal_data_found

NAME = "Philippa Marchbanks"
PHONE = "07700 900461"
EMAIL = "philippa.m@example.org"
SENDER = "whatsapp:+447700900461"
TEXT = f"Hi, I'm {NAME}, call me on {PHONE} or mail {EMAIL}"
PERSONAL = [NAME, PHONE, EMAIL, SENDER, TEXT]
# Free text with nothing a pattern could catch: only its place in the line can hide it.
PLAIN_SECRET = "Philippa Marchbanks asked about lip fillers"

FAILING_ACTION = "action_file_callback_broken"
INVALID_EVENT_ACTION = "action_returns_a_bare_dict"
DOMAIN_YAML = f"""
version: "3.1"
slots:
  contact_name: {{type: text, mappings: [{{type: custom}}]}}
  contact_details: {{type: text, mappings: [{{type: custom}}]}}
  callback_phone: {{type: text, mappings: [{{type: custom}}]}}
actions: [{FAILING_ACTION}, {INVALID_EVENT_ACTION}]
"""
LOGGERS = ("", "rasa", "rasa_sdk", "sanic.root", "sanic.error", "sanic.access", "clinic")


class ActionFileCallbackBroken(Action):
    """Fails the way a bug would, with the patient's number in the exception's message."""

    def name(self) -> str:
        return FAILING_ACTION

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        number = tracker.get_slot("callback_phone")
        raise ValueError(f"could not file a call-back for {number}")


class ActionReturnsABareDict(Action):
    """Returns an event without its "event" key, which rasa_sdk logs and drops."""

    def name(self) -> str:
        return INVALID_EVENT_ACTION

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict) -> list:
        return [{"name": "contact_name", "value": tracker.get_slot("contact_name")}]


@pytest.fixture(autouse=True)
def original_logging() -> Iterator[None]:
    """Put back the record factory, the loggers' levels and propagation, and the handlers a
    test added to Rasa's and sanic's loggers (root's handlers: see ``bare_root_logger``)."""
    factory = logging.getLogRecordFactory()
    loggers = [logging.getLogger(name) for name in LOGGERS]
    before = [(log.level, log.propagate, log.disabled, log.handlers[:]) for log in loggers]
    yield
    logging.setLogRecordFactory(factory)
    logging.captureWarnings(False)
    for log, (level, propagate, disabled, handlers) in zip(loggers, before, strict=True):
        log.setLevel(level)
        log.propagate, log.disabled = propagate, disabled
        if log is logging.getLogger():
            continue  # pytest's own capture handlers come and go on root between test phases
        for handler in log.handlers[:]:
            if handler not in handlers:
                log.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in log.handlers:  # dictConfig removes a configured logger's handlers
                log.addHandler(handler)
    structlog.reset_defaults()


@contextmanager
def bare_root_logger() -> Iterator[logging.Logger]:
    """The root logger without handlers, as at the start of `rasa run`; afterwards the
    handlers it had, and none of those the test's code installed."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        yield root
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:] = saved


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A file handler on the root logger (DEBUG); call the fixture's value to read the file."""
    path = tmp_path / "server.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("rasa", "rasa_sdk", "sanic.root", "sanic.error", "clinic"):
        logging.getLogger(name).setLevel(logging.DEBUG)

    def read() -> str:
        handler.flush()
        return path.read_text(encoding="utf-8")

    yield read
    root.removeHandler(handler)
    handler.close()


def tracker_with_patient() -> DialogueStateTracker:
    """A real Rasa tracker: the patient's message, name, number and e-mail in slots."""
    domain = Domain.from_yaml(DOMAIN_YAML)
    tracker = DialogueStateTracker(SENDER, domain.slots)
    tracker.update(ActionExecuted("action_listen"))
    intent = {"name": "give_phone", "confidence": 0.97}
    entities = [{"entity": "phone", "value": PHONE, "start": 0, "end": 5}]
    parse_data = {"text": TEXT, "intent": intent, "entities": entities, "metadata": {}}
    tracker.update(UserUttered(TEXT, intent, entities, parse_data))
    for slot, value in (("contact_name", NAME), ("contact_details", EMAIL)):
        tracker.update(SlotSet(slot, value))
    tracker.update(SlotSet("callback_phone", PHONE))
    tracker.update(BotUttered(f"Thanks {NAME}, we will call {PHONE}.", {"buttons": None}))
    return tracker


def action_call(action_name: str) -> dict[str, Any]:
    """The request body Rasa sends to the action server (built by Rasa's RemoteAction)."""
    domain = Domain.from_yaml(DOMAIN_YAML)
    remote = RemoteAction(action_name, EndpointConfig("http://127.0.0.1:1/webhook"))
    return remote._action_call_format(tracker_with_patient(), domain)


# ---- installing ----------------------------------------------------------------------------


def test_install_is_idempotent() -> None:
    original = logging.getLogRecordFactory()
    install_log_privacy()
    installed = logging.getLogRecordFactory()
    install_log_privacy()
    assert logging.getLogRecordFactory() is installed
    assert installed is not original and installed.__wrapped__ is original  # type: ignore[attr-defined]


def test_rasas_warnings_about_a_payload_message_are_logged_redacted(tmp_path: Path) -> None:
    import warnings

    install_log_privacy()
    path = tmp_path / "warnings.log"
    with bare_root_logger() as root:
        root.addHandler(logging.FileHandler(path))
        with warnings.catch_warnings():
            warnings.simplefilter("always")  # shown even if an earlier test showed it once
            warnings.warn(
                'Failed to parse arguments in line \'/inform{"contact_name": "Priya Okafor"}\'. '
                "Expected entities from ['treatment'] but found {'contact_name': 'Priya Okafor'}",
                UserWarning,
                stacklevel=1,
            )
        for handler in root.handlers:
            handler.flush()
    logged = path.read_text()
    assert "Failed to parse arguments in line [redacted]" in logged
    assert "Okafor" not in logged


def test_records_are_redacted_for_a_handler_added_by_basicconfig_later(tmp_path: Path) -> None:
    install_log_privacy()
    path = tmp_path / "later.log"
    with bare_root_logger() as root:
        logging.basicConfig(filename=path, level=logging.INFO, format="%(message)s")
        logging.getLogger("clinic.frontdesk").info("call-back requested by %s, %s", EMAIL, PHONE)
        root.handlers[0].flush()
    log = path.read_text()
    assert log == "call-back requested by [email], [phone]\n"
    assert personal_data_found(log, [EMAIL, PHONE]) == []


def test_records_are_redacted_when_installed_after_basicconfig(tmp_path: Path) -> None:
    path = tmp_path / "before.log"
    with bare_root_logger() as root:
        logging.basicConfig(filename=path, level=logging.INFO, format="%(message)s")
        install_log_privacy()
        logging.getLogger().warning("message from %s", EMAIL)
        root.handlers[0].flush()
    assert path.read_text() == "message from [email]\n"


def test_records_are_redacted_after_rasa_reconfigures_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    install_log_privacy()
    with bare_root_logger():
        configure_colored_logging("DEBUG")  # what `rasa run` does: coloredlogs' stderr handler
        logging.getLogger("rasa.core.processor").debug(
            "Received user message '%s' with intent '%s' and entities '%s'",
            TEXT,
            {"name": "give_phone", "confidence": 0.97},
            [{"entity": "phone", "value": PHONE}],
        )
    err = capsys.readouterr().err
    assert "Received user message '[redacted]' with intent" in err
    assert "give_phone" in err
    assert personal_data_found(err, PERSONAL) == []


def test_sanic_loggers_configured_by_dictconfig_are_redacted(tmp_path: Path) -> None:
    install_log_privacy()
    path = tmp_path / "sanic.log"
    # Sanic's own LOGGING_CONFIG_DEFAULTS shape (sanic/log.py), the handlers writing to a file.
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {
                "sanic.error": {"level": "INFO", "handlers": ["file"], "propagate": False},
                "sanic.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
            },
            "handlers": {
                "file": {"class": "logging.FileHandler", "filename": str(path), "formatter": "g"},
                "access": {"class": "logging.FileHandler", "filename": str(path), "formatter": "a"},
            },
            "formatters": {
                "g": {"format": "[%(levelname)s] %(message)s"},
                "a": {"format": "[%(host)s]: %(request)s %(message)s %(status)d %(byte)d"},
            },
        }
    )
    url = f"http://localhost:5005/conversations/{SENDER}/tracker?token=s3cret&include_events=ALL"
    try:
        raise ValueError(f"unknown conversation {SENDER}")
    except ValueError:
        logging.getLogger("sanic.error").exception("Exception occurred while handling uri: %s", url)
    extra = {"host": "127.0.0.1:50000", "request": f"GET {url}", "status": 200, "byte": 12}
    logging.getLogger("sanic.access").info("", extra=extra)
    for name in ("sanic.error", "sanic.access"):
        for handler in logging.getLogger(name).handlers:
            handler.flush()
    log = path.read_text()
    assert personal_data_found(log, [SENDER, "s3cret"]) == []
    assert "/conversations/[redacted]/tracker?token=[redacted]" in log
    assert "ValueError: unknown conversation whatsapp:[phone]" in log
    assert " 200 12" in log


# ---- the patterns --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "phone",
    [
        "07700 900461",
        "07700900461",
        "07700-900-461",
        "+44 7700 900461",
        "+44 (0)7700 900461",
        "+447700900461",
        "0044 7700 900 461",
        "(020) 7946 0018",
        "020-7946-0018",
        "+1 (415) 555-0132",
        "+33 1 23 45 67 89",
        "0161 496 0000",
    ],
)
def test_phone_numbers_are_redacted(log_file: Callable[[], str], phone: str) -> None:
    install_log_privacy()
    logging.getLogger("clinic").info("call-back to %s, please", phone)
    assert "call-back to [phone], please" in log_file()


@pytest.mark.parametrize(
    "kept",
    [
        "ticket 4521",
        "confidence 0.987654321",
        "timestamp 1796243176.3131726",
        "created 2026-12-02 10:15:32",
        'File "actions/triage_actions.py", line 1234, in run',
        "listening on 127.0.0.1:5005",
        "message id 3f2a9c1e-1234-5678-9abc-def012345678",
        "took 12.3456789 s",
        "rasa 3.6.21, python3.10",
    ],
)
def test_numbers_that_are_not_phones_stay(log_file: Callable[[], str], kept: str) -> None:
    install_log_privacy()
    logging.getLogger("clinic").info("%s", kept)
    assert kept in log_file()


@pytest.mark.parametrize(
    "email", ["philippa.m@example.org", "P.Marchbanks+clinic@mail.example.co.uk", "a_b@x.io"]
)
def test_email_addresses_are_redacted(log_file: Callable[[], str], email: str) -> None:
    install_log_privacy()
    logging.getLogger("clinic").info("booking from <%s>", email)
    assert "booking from <[email]>" in log_file()


def test_a_tracker_dump_is_replaced_whole_in_json_and_in_a_repr(
    log_file: Callable[[], str],
) -> None:
    install_log_privacy()
    state = tracker_with_patient().current_state()
    logger = logging.getLogger("rasa.core.nlg.callback")
    logger.debug("The request body is %s.", json.dumps({"tracker": state, "channel": "rest"}))
    logger.debug("Tracker state: %s", state)
    logger.debug("cut off: %s", json.dumps(state)[:300])
    log = log_file()
    assert personal_data_found(log, [*PERSONAL, PLAIN_SECRET]) == []
    # The request body's own keys include "tracker": all of it goes (as in nlg/callback.py).
    assert log.count("[tracker redacted]") == 3
    assert "The request body is [tracker redacted]." in log


def test_only_the_tracker_inside_an_error_body_is_replaced(log_file: Callable[[], str]) -> None:
    install_log_privacy()
    body = {"error": "KeyError: 'ticket'", "request_body": action_call(FAILING_ACTION)}
    logging.getLogger("rasa.core.processor").error("response: %s", json.dumps(body))
    log = log_file()
    assert personal_data_found(log, PERSONAL) == []
    assert """{"error": "KeyError: 'ticket'", "request_body": [tracker redacted]}""" in log


BRIEF_KEYS = [
    "text",
    "sender_id",
    "sender",
    "recipient_id",
    "conversation_id",
    "value",
    "metadata",
    "message",
]


@pytest.mark.parametrize("key", BRIEF_KEYS)
def test_the_value_of_a_personal_key_is_redacted_in_json_reprs_and_key_value_text(
    log_file: Callable[[], str], key: str
) -> None:
    install_log_privacy()
    logger = logging.getLogger("rasa.core.channels.rest")
    logger.info("json %s", json.dumps({key: PLAIN_SECRET, "intent": "greet"}))
    logger.info("repr %s", {key: PLAIN_SECRET, "intent": "greet"})
    logger.info("nested %s", {key: {"said": [PLAIN_SECRET]}, "intent": "greet"})
    logger.info("pairs %s=%s intent=greet", key, PLAIN_SECRET)
    log = log_file()
    assert personal_data_found(log, [PLAIN_SECRET]) == []
    assert f'json {{"{key}": "[redacted]", "intent": "greet"}}' in log
    assert f"repr {{'{key}': '[redacted]', 'intent': 'greet'}}" in log
    assert f"nested {{'{key}': '[redacted]', 'intent': 'greet'}}" in log
    assert f"pairs {key}=[redacted] intent=greet" in log


def test_nulls_and_non_personal_keys_stay(log_file: Callable[[], str]) -> None:
    install_log_privacy()
    parse = {"text": None, "intent": {"name": "ask_price", "confidence": 0.91}, "entities": []}
    logging.getLogger("rasa.core.processor").debug("parse %s", json.dumps(parse))
    log = log_file()
    expected = '{"text": null, "intent": {"name": "ask_price", "confidence": 0.91}, "entities": []}'
    assert expected in log


# ---- Rasa's own lines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logger_name", "line", "kept"),
    [
        # Older Rasas' rasa.core.processor, DEBUG (3.6 logs the structlog event below instead).
        (
            "rasa.core.processor",
            f"Received user message '{TEXT}' with intent "
            f"'{{'name': 'give_phone', 'confidence': 0.97}}' "
            f"and entities '[{{'entity': 'phone', 'value': '{PHONE}'}}]'",
            "with intent '{'name': 'give_phone', 'confidence': 0.97}'",
        ),
        (
            "rasa.core.processor",
            f"Starting a new session for conversation ID '{SENDER}'.",
            "Starting a new session for conversation ID '[redacted]'.",
        ),
        (
            "rasa.core.processor",
            f"Circuit breaker tripped. Stopped predicting more actions for sender '{NAME}'.",
            "for sender '[redacted]'",
        ),
        (
            "rasa.core.tracker_store",
            f"Recreating tracker from sender id '{NAME}'",
            "Recreating tracker from sender id '[redacted]'",
        ),
        (
            "rasa.core.tracker_store",
            f"Tracker with sender_id '{NAME}' stored to database",
            "Tracker with sender_id '[redacted]' stored",
        ),
        (
            "rasa.core.lock_store",
            f"Acquiring lock for conversation '{NAME}'.",
            "Acquiring lock for conversation '[redacted]'.",
        ),
        (
            "rasa.server",
            f"Fetched trackers for 2 conversation sessions for conversation ID {NAME.split()[0]}.",
            "for conversation ID [redacted].",
        ),
        (
            "rasa.core.actions.action",
            f"Validating extracted slots: {{'contact_name': '{NAME}', 'callback_phone': '{PHONE}'}}",
            "Validating extracted slots: [redacted]",
        ),
        (
            "rasa.core.actions.forms",
            f"events: {[SlotSet('contact_name', NAME), SlotSet('consent', None)]}.",
            "[SlotSet(key: contact_name, value: [redacted]), SlotSet(key: consent, value: None)].",
        ),
        (
            "rasa.core.processor",
            str(UserUttered(TEXT, {"name": "give_phone"}, [{"entity": "n", "value": NAME}])),
            "UserUttered(text: [redacted], intent: give_phone, entities: [redacted] (Type: n,",
        ),
        (
            "rasa.core.processor",
            f"{BotUttered(f'We will call {NAME}', {'buttons': None})!r}",
            "BotUttered('[redacted]', {\"buttons\": null}",
        ),
    ],
    ids=[
        "received user message",
        "new session",
        "circuit breaker",
        "tracker recreated",
        "tracker stored",
        "lock",
        "fetched trackers",
        "extracted slots",
        "SlotSet repr",
        "UserUttered str",
        "BotUttered repr",
    ],
)
def test_rasa_lines_keep_what_happened_and_lose_who(
    log_file: Callable[[], str], logger_name: str, line: str, kept: str
) -> None:
    install_log_privacy()
    logging.getLogger(logger_name).debug(line)
    log = log_file()
    assert personal_data_found(log, [*PERSONAL, NAME.split()[0]]) == []
    assert kept in log


def test_rasa_structlog_events_lose_message_text_and_slots(log_file: Callable[[], str]) -> None:
    install_log_privacy()
    configure_structlog(logging.DEBUG)  # Rasa's own set-up: events rendered, then stdlib-logged
    structlogger = structlog.get_logger("rasa.core.processor")
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=TEXT,
        parse_data_intent={"name": "give_phone", "confidence": 0.97},
        parse_data_entities=[{"entity": "phone", "value": PHONE}],
    )
    structlogger.debug("processor.slots.log", slot_values={"contact_name": NAME})
    structlogger.debug(
        "processor.actions.log",
        action_name="action_take_callback_phone",
        rasa_events=[SlotSet("callback_phone", PHONE), BotUttered(f"Thanks {NAME}")],
    )
    try:
        raise_with_locals(TEXT, SENDER)
    except ValueError:
        structlogger.exception("rest.message.received.failure", text=TEXT)
    log = log_file()
    assert personal_data_found(log, PERSONAL) == []
    for kept in ("processor.message.parse", "give_phone", "action_take_callback_phone"):
        assert kept in log
    assert "rest.message.received.failure" in log and "ValueError" in log


def test_structlog_console_lines_and_rich_tracebacks_lose_personal_data(
    log_file: Callable[[], str],
) -> None:
    install_log_privacy()
    # What Rasa renders on a terminal: coloured key=value pairs, rich tracebacks with locals.
    console = structlog.wrap_logger(
        logging.getLogger("rasa.core.channels.rest"),
        processors=[structlog.processors.add_log_level, HumanConsoleRenderer(colors=True)],
    )
    console.debug("processor.slots.log", slot_values={"contact_name": NAME}, text=TEXT)
    try:
        raise_with_locals(TEXT, SENDER)
    except ValueError:
        console.error("rest.message.received.failure", text=TEXT, exc_info=True)
    log = log_file()
    assert personal_data_found(log, PERSONAL) == []
    assert "processor.slots.log" in log and "slot_values=[redacted]" in log
    assert "[locals redacted]" in log and "raise_with_locals" in log and "ValueError" in log
    assert "\x1b[" not in log


def raise_with_locals(text: str, sender_id: str) -> None:
    contact_name = text.split(",")[1].removeprefix(" I'm ")  # a local a traceback could show
    raise ValueError(f"no conversation for {sender_id} ({len(contact_name)} letters)")


# ---- exceptions ----------------------------------------------------------------------------


def test_a_traceback_keeps_its_frames_and_loses_the_personal_data(
    log_file: Callable[[], str],
) -> None:
    install_log_privacy()
    try:
        file_ticket_for(EMAIL, PHONE)
    except LookupError:
        logging.getLogger("clinic.frontdesk").exception("Could not store ticket %s", 42)
    log = log_file()
    assert personal_data_found(log, [EMAIL, PHONE]) == []
    assert "Could not store ticket 42" in log
    assert "LookupError: no patient with [email] or [phone]" in log
    assert 'test_log_privacy.py", line' in log and "in file_ticket_for" in log


def file_ticket_for(email: str, phone: str) -> None:
    raise LookupError(f"no patient with {email} or {phone}")


def test_handlers_never_see_the_raw_arguments_or_exception() -> None:
    install_log_privacy()
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("clinic.frontdesk")
    logger.addHandler(handler)
    try:
        raise ValueError(PHONE)
    except ValueError:
        logger.error("contact %s", EMAIL, exc_info=True, stack_info=True)
    (record,) = records
    assert (record.msg, record.args, record.exc_info) == ("contact [email]", (), None)
    assert record.exc_text.endswith("ValueError: [phone]")
    assert record.stack_info.startswith("Stack (most recent call last)")


def test_a_log_call_whose_arguments_do_not_fit_leaks_nothing(
    log_file: Callable[[], str], capsys: pytest.CaptureFixture[str]
) -> None:
    install_log_privacy()
    logging.getLogger("clinic").info("two %s %s", EMAIL)  # logging would print the args to stderr
    assert "two %s %s [the log call's arguments did not fit its message]" in log_file()
    assert EMAIL not in capsys.readouterr().err


# ---- the action server and Rasa, a custom action failing -----------------------------------


def test_rasa_sdk_logs_no_personal_data_from_an_action_call(log_file: Callable[[], str]) -> None:
    install_log_privacy()
    executor = ActionExecutor()
    executor.register_action(ActionFileCallbackBroken)
    executor.register_action(ActionReturnsABareDict)
    with pytest.raises(ValueError) as raised:
        asyncio.run(executor.run(action_call(FAILING_ACTION)))
    # What rasa_sdk's endpoint logs for it (endpoint.py, exception_handler).
    logging.getLogger("rasa_sdk.endpoint").error(
        msg="Exception occurred during execution of request <Request: POST /webhook>",
        exc_info=raised.value,
    )
    asyncio.run(executor.run(action_call(INVALID_EVENT_ACTION)))
    log = log_file()
    assert personal_data_found(log, PERSONAL) == []
    assert f"Received request to run '{FAILING_ACTION}'" in log
    assert "ValueError: could not file a call-back for [phone]" in log
    assert f"Your action '{INVALID_EVENT_ACTION}' returned an action dict" in log
    assert "Contents of ignored event: [redacted]" in log


@pytest.mark.parametrize("private", [True, False], ids=["installed", "not installed"])
def test_a_failing_custom_action_logs_no_tracker_on_either_server(
    log_file: Callable[[], str], private: bool
) -> None:
    """The issue: "when an action fails Rasa logs the whole tracker, name and e-mail
    included". A real rasa_sdk action server in this process, called by Rasa's RemoteAction."""
    if private:
        install_log_privacy()
    failure = asyncio.run(run_failing_action_against_the_action_server())
    # What rasa.core.processor logs for it (processor.py, _run_action).
    logging.getLogger("rasa.core.processor").error(
        f"Encountered an exception while running action '{FAILING_ACTION}'."
        "Bot will continue, but the actions events are lost. "
        "Please check the logs of your action server for more information.",
        exc_info=failure,
    )
    log = log_file()
    assert "ERROR rasa_sdk.endpoint Exception occurred during execution of request" in log
    assert "ClientResponseError: 500, Internal Server Error, body=" in log
    assert f"Failed to execute custom action '{FAILING_ACTION}'" in log
    if not private:  # the issue, reproduced
        assert personal_data_found(log, PERSONAL) == PERSONAL
        return
    assert personal_data_found(log, PERSONAL) == []
    assert "[tracker redacted]" in log
    assert log.count("ValueError: could not file a call-back for [phone]") == 1
    assert '"error":"could not file a call-back for [phone]"' in log


async def run_failing_action_against_the_action_server() -> RasaException:
    test_mode = Sanic.test_mode
    Sanic.test_mode = True  # several apps named "rasa_sdk" in one process
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = await create_app(sys.modules[__name__]).create_server(
        sock=listener, return_asyncio_server=True
    )
    try:
        await server.startup()
        await server.start_serving()
        domain = Domain.from_yaml(DOMAIN_YAML)
        action = RemoteAction(FAILING_ACTION, EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        with pytest.raises(RasaException) as raised:
            await action.run(CollectingOutputChannel(), nlg, tracker_with_patient(), domain)
        return raised.value
    finally:
        server.close()
        await server.wait_closed()
        Sanic.test_mode = test_mode


def test_redact_is_idempotent() -> None:
    once = redact(f"{TEXT} {json.dumps({'tracker': {'events': [TEXT]}, 'text': NAME})}")
    assert redact(once) == once


# ---- the log scan these tests (and the end-to-end tests) judge by ----------------------------


@pytest.mark.parametrize(
    "written",
    ["07700900461", "07700 900 461", "+44 7700 900461", "447700900461", "(07700) 900-461"],
)
def test_the_log_scan_finds_a_phone_number_however_it_is_written(written: str) -> None:
    log = f"INFO clinic call-back {written} booked"
    assert personal_data_found(log, [PHONE, "+447700900461"]) == [PHONE, "+447700900461"]
    assert personal_data_found(log.replace("461", "462"), [PHONE]) == []


def test_the_log_scan_finds_text_in_json_and_bytes_reprs() -> None:
    name = "Zoë O'Brien"
    in_json = json.dumps({"text": f"I'm {name}"})
    in_bytes = repr(json.dumps({"text": f"I'm {name}"}, ensure_ascii=False).encode())
    assert personal_data_found(in_json, [f"I'm {name}", "zoë"]) == [f"I'm {name}", "zoë"]
    assert personal_data_found(in_bytes, [name, "zoë"]) == [name, "zoë"]
    assert personal_data_found("[redacted] [email]", [name, EMAIL]) == []
