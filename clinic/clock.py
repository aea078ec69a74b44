"""The current time, as an aware UTC datetime.

``$CLINIC_FIXED_NOW`` (ISO 8601 with an offset, e.g. ``2026-12-01T21:22:00+00:00``) pins it:
the end-to-end tests start real servers and check the out-of-hours advice at a known time.
Never set it in production.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

FIXED_NOW_ENV = "CLINIC_FIXED_NOW"


def now() -> datetime:
    fixed = os.environ.get(FIXED_NOW_ENV, "").strip()
    if fixed:
        moment = datetime.fromisoformat(fixed)
        if moment.tzinfo is None:
            raise ValueError(f"${FIXED_NOW_ENV} needs a UTC offset, e.g. +00:00: {fixed!r}")
        return moment.astimezone(timezone.utc)
    return datetime.now(timezone.utc)
