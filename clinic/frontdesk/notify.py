"""Urgent-ticket notifications: a JSON POST to ``$CLINIC_NOTIFY_URL`` for every urgent ticket.

- Sent from background threads, so the patient's reply never waits for the receiver;
- retried with exponential backoff on connection errors, timeouts and 5xx/408/429 answers
  (4 attempts: after 1 s, 2 s, 4 s by default); other 4xx answers are not retried;
- the payload holds the ticket id, category, urgency, treatment and a link to the staff
  inbox (``$CLINIC_STAFF_URL``, default ``http://localhost:8000/staff``), never contact details
  or message text: the receiver is typically a chat or paging service outside the clinic;
- logs name the ticket id only (not the URL either: webhook URLs often embed a secret).

Front-desk events that are not one ticket (``notify_event``) go the same way: the outbox
(``clinic.frontdesk.outbox``) reports ``{"event": "tickets.waiting", "waiting": 3, ...}`` when
the ticket database cannot be written, counts only.

A notification still being retried when the process exits gracefully is finished first;
if it is lost (a crash), the ticket itself is safe in the database and shows in the inbox.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from clinic.frontdesk.store import Ticket

logger = logging.getLogger(__name__)

NOTIFY_URL_ENV = "CLINIC_NOTIFY_URL"
STAFF_URL_ENV = "CLINIC_STAFF_URL"
DEFAULT_STAFF_URL = "http://localhost:8000/staff"
# Worth another try: the receiver is down, overloaded or rate-limiting.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def _http_url(name: str, url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    # urllib would also open file:// and ftp:// URLs; only a web receiver makes sense.
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"{name} must be an http(s) URL")
    return url


class Notifier:
    """POSTs ticket alerts in the background, with retries."""

    def __init__(
        self,
        url: str,
        *,
        staff_url: str = DEFAULT_STAFF_URL,
        attempts: int = 4,
        backoff: float = 1.0,
        timeout: float = 5.0,
        max_workers: int = 2,
    ) -> None:
        self.url = _http_url(NOTIFY_URL_ENV, url)
        self.staff_url = _http_url(STAFF_URL_ENV, staff_url).rstrip("/")
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self._executor = ThreadPoolExecutor(max_workers, thread_name_prefix="clinic-notify")
        self._pending: set[Future[bool]] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Notifier | None:
        """A notifier for ``$CLINIC_NOTIFY_URL``; ``None`` when it is not set."""
        url = (os.environ.get(NOTIFY_URL_ENV) or "").strip()
        if not url:
            return None
        return cls(url, staff_url=os.environ.get(STAFF_URL_ENV) or DEFAULT_STAFF_URL)

    def payload(self, ticket: Ticket) -> dict[str, Any]:
        """What the receiver gets: enough to act on, no personal data."""
        return {
            "event": "ticket.urgent" if ticket.urgency == "urgent" else "ticket.created",
            "ticket_id": ticket.id,
            "category": ticket.category,
            "urgency": ticket.urgency,
            "treatment": ticket.treatment,
            "created_at": ticket.created_at.isoformat(),
            "url": f"{self.staff_url}#ticket-{ticket.id}",
        }

    def notify_if_urgent(self, ticket: Ticket) -> Future[bool] | None:
        """Starts the notification for an urgent ticket and returns at once (``None`` for
        other tickets). The future's result says whether the receiver accepted it."""
        return self.notify(ticket) if ticket.urgency == "urgent" else None

    def notify(self, ticket: Ticket) -> Future[bool]:
        """Starts the notification for ``ticket`` in the background and returns at once."""
        return self._submit(f"ticket {ticket.id}", self.payload(ticket))

    def notify_event(self, event: str, **fields: Any) -> Future[bool]:
        """Starts a notification of a front-desk ``event`` (e.g. ``tickets.waiting``) with
        ``fields`` (counts, never personal data) and the time; returns at once."""
        payload = {"event": event, **fields, "at": datetime.now(timezone.utc).isoformat()}
        return self._submit(event, payload)

    def _submit(self, subject: str, payload: dict[str, Any]) -> Future[bool]:
        future = self._executor.submit(self._deliver, subject, payload)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, subject: str, payload: dict[str, Any]) -> bool:
        """POSTs ``payload``; ``subject`` ("ticket 12", or the event) names it in the logs."""
        body = json.dumps(payload).encode("utf-8")
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                self.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "clinic-assistant"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                logger.info("notification for %s delivered", subject)
                return True
            except urllib.error.HTTPError as error:
                reason, retry = f"HTTP {error.code}", error.code in RETRY_STATUSES
            except (urllib.error.URLError, OSError) as error:
                # The class name only: the message of a connection error includes the URL.
                reason, retry = type(error).__name__, True
            if not retry:
                logger.error("notification for %s refused (%s); not retrying", subject, reason)
                return False
            logger.warning(
                "notification for %s: attempt %d/%d failed (%s)",
                subject,
                attempt,
                self.attempts,
                reason,
            )
            if attempt < self.attempts:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        logger.error("notification for %s not delivered after %d attempts", subject, self.attempts)
        return False

    def wait(self, timeout: float | None = None) -> bool:
        """Waits for the notifications under way; ``True`` when none is left."""
        with self._lock:
            pending = list(self._pending)
        _done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        """Finishes the notifications under way, then stops the worker threads."""
        self._executor.shutdown(wait=True)
