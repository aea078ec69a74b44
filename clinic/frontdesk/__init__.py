"""The front desk: tickets the assistant triages to staff, and urgent alerts about them.

``store`` keeps the tickets (SQLite by default, PostgreSQL by URL); ``notify`` POSTs an alert
for each urgent one; :func:`get_store` wires the two, in this one place above both, so neither
module imports the other's wiring.
"""

from __future__ import annotations

from functools import cache

from clinic.frontdesk.notify import Notifier
from clinic.frontdesk.store import TicketStore


@cache
def get_store() -> TicketStore:
    """The process's store from the environment, notifying urgent tickets when
    ``$CLINIC_NOTIFY_URL`` is set. Cached: one connection pool and notifier per process."""
    notifier = Notifier.from_env()
    return TicketStore.from_env(on_created=notifier.notify_if_urgent if notifier else None)
