"""``make report``: what patients asked that went unanswered, and the clinic's figures.

    python -m scripts.report [--days N] [--csv FILE] [--groups N]

Deletes the stored conversations past the retention period first (as the web app does
hourly), then prints the same figures and groups as the ``/staff/report`` page; ``--csv``
writes the unanswered messages as CSV too. Reads the conversation database of
``$CLINIC_CONVERSATIONS_URL`` / ``$CLINIC_CONVERSATIONS_DB`` and the tickets' of
``$CLINIC_TICKETS_DB`` (counts only).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from clinic.conversation_log import delete_older_than
from clinic.frontdesk import get_store
from clinic.patient_questions import REASONS, load_report, report_text, write_csv
from clinic.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    retention = get_settings().retention_days
    parser = argparse.ArgumentParser(prog="make report", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days", type=int, default=None,
        help=f"the period, in days (default and at most the retention period, {retention})",
    )  # fmt: skip
    parser.add_argument("--csv", type=Path, help="also write the unanswered messages to FILE")
    parser.add_argument("--reason", choices=sorted(REASONS), help="only messages with this reason")
    parser.add_argument("--treatment", help="only messages about this treatment (its id)")
    parser.add_argument("--groups", type=int, default=10, help="how many groups to print")
    args = parser.parse_args(argv)
    if args.days is not None and not 1 <= args.days <= retention:
        parser.error(f"--days must be 1 to {retention} (the retention period)")
    deleted = delete_older_than(retention)
    try:
        report = load_report(
            days=args.days, reason=args.reason, treatment=args.treatment, ticket_store=get_store()
        )
    except ValueError as bad:
        parser.error(str(bad))
    sys.stdout.write(report_text(report, top_groups=args.groups))
    if deleted:
        print(f"\n(Deleted {deleted} stored events older than {retention} days.)")
    if args.csv is not None:
        with args.csv.open("w", encoding="utf-8", newline="") as out:
            rows = write_csv(report, out)
        print(f"Wrote {rows} messages to {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
