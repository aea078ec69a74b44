"""Custom-action calls that never leave a patient with silence.

Rasa 3.6 calls the action server with a 300 s timeout and, when the call fails, logs the
error and carries on with the action's events lost: the patient gets an empty reply (HTTP 200
``[]``), a breathing emergency included. :func:`install` wraps ``RemoteAction.run`` so that:

- a dropped connection (``ClientConnectionError``: reset, refused, "Cannot write to closing
  transport") is retried once; the actions are idempotent (tickets carry idempotency keys);
- the whole call has a budget (``CLINIC_ACTION_TIMEOUT_SECONDS``, default 4 s), so the patient
  hears back within 5 s;
- when the call still fails, the Rasa server answers itself with
  :func:`clinic.direct_replies.unavailable_reply`: the urgent advice (with its numbers to
  call, the reply contract's ``call``) for a message the complication check marked urgent,
  else an apology with the clinic's phone number, with the reply contract, once per turn (a
  form's validation and its question failing in one turn give one reply).

A rejection (the form's validation handing a question back, HTTP 400) is not a failure and
passes through unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic import clock
from clinic.contract import REPLY_KEY, TRIAGE_KEY
from clinic.direct_replies import UNAVAILABLE_REASON, unavailable_reply
from clinic.settings import get_settings

logger = logging.getLogger(__name__)

TIMEOUT_ENV = "CLINIC_ACTION_TIMEOUT_SECONDS"
DEFAULT_TIMEOUT_SECONDS = 4.0

RunAction = Callable[..., Awaitable[list[Event]]]
_ORIGINAL_RUN_ATTRIBUTE = "_clinic_original_run"


def action_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        return max(0.5, float(raw)) if raw else DEFAULT_TIMEOUT_SECONDS
    except ValueError:
        logger.warning("$%s is not a number; using %s", TIMEOUT_ENV, DEFAULT_TIMEOUT_SECONDS)
        return DEFAULT_TIMEOUT_SECONDS


def install() -> None:
    """Wrap ``RemoteAction.run`` (idempotent)."""
    if hasattr(RemoteAction, _ORIGINAL_RUN_ATTRIBUTE):
        return
    original: RunAction = RemoteAction.run
    setattr(RemoteAction, _ORIGINAL_RUN_ATTRIBUTE, original)

    async def run(
        self: RemoteAction,
        output_channel: Any,
        nlg: Any,
        tracker: DialogueStateTracker,
        domain: Any,
    ) -> list[Event]:
        return await run_or_answer(
            lambda: original(self, output_channel, nlg, tracker, domain), self.name(), tracker
        )

    RemoteAction.run = run  # type: ignore[method-assign]


def uninstall() -> None:
    original = getattr(RemoteAction, _ORIGINAL_RUN_ATTRIBUTE, None)
    if original is not None:
        RemoteAction.run = original  # type: ignore[method-assign]
        delattr(RemoteAction, _ORIGINAL_RUN_ATTRIBUTE)


async def run_or_answer(
    call: Callable[[], Awaitable[list[Event]]], action_name: str, tracker: DialogueStateTracker
) -> list[Event]:
    """``call()``'s events; on failure, the reply the patient gets instead."""
    budget = action_timeout()
    started = time.monotonic()
    try:
        try:
            return await asyncio.wait_for(call(), timeout=budget)
        except ActionExecutionRejection:
            raise
        except Exception as error:
            if not _dropped_connection(error):
                raise
            remaining = budget - (time.monotonic() - started)
            logger.warning("Action '%s': connection dropped, retrying once.", action_name)
            return await asyncio.wait_for(call(), timeout=max(remaining, 0.5))
    except ActionExecutionRejection:
        raise
    except Exception as error:
        logger.error(
            "Action '%s' failed (%s); the Rasa server answers without the action server.",
            action_name,
            _failure(error),
        )
        return reply_without_action_server(tracker)


def reply_without_action_server(tracker: DialogueStateTracker) -> list[Event]:
    """The turn's reply from the Rasa server itself, unless this turn already got one."""
    if _unavailable_reply_sent_this_turn(tracker):
        return []
    message = tracker.latest_message
    parse_data = message.parse_data if message is not None else {}
    intent = (parse_data.get("intent") or {}).get("name")
    reply = unavailable_reply(intent, parse_data.get(TRIAGE_KEY), get_settings(), clock.now())
    contract = {REPLY_KEY: {"type": reply.reply_type, **reply.fields}}
    return [BotUttered(text=reply.text, data={"custom": contract})]


def _unavailable_reply_sent_this_turn(tracker: DialogueStateTracker) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered):
            reply = ((event.data or {}).get("custom") or {}).get(REPLY_KEY) or {}
            if reply.get("reason") == UNAVAILABLE_REASON:
                return True
    return False


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < 5:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return chain


def _failure(error: BaseException) -> str:
    """The failure in a few words, for the log: exception names and an HTTP status, never
    the response body (rasa_sdk sends the request, tracker included, back in it)."""
    parts = []
    for link in _chain(error):
        status = getattr(link, "status", None)
        parts.append(f"{type(link).__name__} {status}" if status else type(link).__name__)
    return " <- ".join(parts)


def _dropped_connection(error: BaseException) -> bool:
    """Whether ``error`` (Rasa wraps aiohttp's errors in RasaException) is a dropped or
    refused connection, which a second attempt may get past."""
    return any(isinstance(link, aiohttp.ClientConnectionError) for link in _chain(error))
