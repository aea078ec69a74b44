"""The front desk: tickets the assistant triages to staff, and urgent alerts about them.

``store`` keeps the tickets (SQLite by default, PostgreSQL by URL); ``notify`` POSTs an alert
for each urgent one; ``outbox`` keeps the requests the store could not take until it can.
This module wires them, in this one place above all three, so none imports another's wiring:
:func:`get_store` (the store with its notifier), :func:`get_desk` (what the actions file
requests through) and :func:`start_outbox_retries` (the action server's background retries).
"""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

from clinic.frontdesk.notify import DEFAULT_STAFF_URL, NOTIFY_URL_ENV, STAFF_URL_ENV, Notifier
from clinic.frontdesk.outbox import FrontDesk, Outbox, outbox_path, retry_seconds
from clinic.frontdesk.store import SCHEMA_ENV, TicketStore, database_url

logger = logging.getLogger(__name__)


@cache
def get_store() -> TicketStore:
    """The process's store from the environment, notifying urgent tickets when
    ``$CLINIC_NOTIFY_URL`` is set. Cached: one connection pool and notifier per process."""
    notifier = Notifier.from_env()
    return TicketStore.from_env(on_created=notifier.notify_if_urgent if notifier else None)


def get_desk() -> FrontDesk:
    """The front desk for the environment's settings (database, outbox directory, alerts).

    One per set of settings, so its store and its outbox always belong together: the retries
    never write one configuration's outbox into another's database."""
    url, schema = database_url(), os.environ.get(SCHEMA_ENV) or None
    return _desk_for(
        url,
        schema,
        outbox_path(url, schema),
        (os.environ.get(NOTIFY_URL_ENV) or "").strip(),
        os.environ.get(STAFF_URL_ENV) or DEFAULT_STAFF_URL,
        retry_seconds(),
    )


@cache
def _desk_for(
    url: str,
    schema: str | None,
    outbox_file: Path,
    notify_url: str,
    staff_url: str,
    every_seconds: float,
) -> FrontDesk:
    notifier = None
    if notify_url:
        try:
            notifier = Notifier(notify_url, staff_url=staff_url)
        except ValueError as error:
            # A wrong alert setting must not stop a patient's request from being filed.
            logger.error("Alerts are off: %s", error)
    on_created = notifier.notify_if_urgent if notifier else None
    return FrontDesk(
        lambda: TicketStore(url, schema=schema, on_created=on_created),
        Outbox(outbox_file),
        notifier=notifier,
        retry_seconds=every_seconds,
    )


def start_outbox_retries() -> FrontDesk:
    """Starts writing what the outbox keeps in the background: now (requests kept before a
    restart), then every ``$CLINIC_OUTBOX_RETRY_SECONDS``. The action server calls it when it
    loads the actions; calling it again does nothing."""
    desk = get_desk()
    desk.start_retrying()
    others = desk.outbox.others_waiting()
    if others:
        logger.warning(
            "%d other outbox file(s) in %s hold requests for another ticket database; they are "
            "not written to this one (python -m clinic.frontdesk outbox, with that database's "
            "settings, shows them)",
            len(others),
            desk.outbox.path.parent,
        )
    return desk
