"""``python -m clinic.frontdesk list``: print the front-desk tickets, most urgent first.

``python -m clinic.frontdesk outbox`` prints the requests waiting in the outbox (the database
could not be written); ``--retry`` writes them to the database first.
"""

from __future__ import annotations

import argparse

from clinic.frontdesk import get_desk
from clinic.frontdesk.outbox import Outbox, OutboxEntry
from clinic.frontdesk.store import STATUSES, Ticket, TicketStore
from clinic.payloads import payload_words, treatment_name


def _printable(text: str) -> str:
    # Patient text is untrusted: no terminal escape sequences or line breaks reach the screen.
    return "".join(c if c.isprintable() else " " for c in text)


def format_ticket(ticket: Ticket) -> str:
    """A few lines describing one ticket for the terminal."""
    contact = " | ".join(
        _printable(part)
        for part in (ticket.contact_name, ticket.contact_phone, ticket.contact_email)
        if part
    )
    # Names, not ids; button payloads in words, as in the inbox.
    treatment = treatment_name(ticket.treatment) if ticket.treatment else "-"
    lines = [
        f"#{ticket.id}  {ticket.urgency.upper():7}  {ticket.category:12}  "
        f"{_printable(treatment)}  {ticket.created_at:%Y-%m-%d %H:%M} UTC  "
        f"via {_printable(ticket.channel)}  [{ticket.status}]",
        f"    contact: {contact or '(none given)'}",
    ]
    lines.extend(f"    > {_printable(payload_words(message))}" for message in ticket.messages)
    if ticket.staff_note:
        lines.append(f"    note: {_printable(ticket.staff_note)}")
    return "\n".join(lines)


def format_entry(entry: OutboxEntry) -> str:
    """A few lines describing one waiting request for the terminal."""
    queued = f"{entry.queued_at:%Y-%m-%d %H:%M} UTC"
    request = entry.request
    if request is None:
        return (
            f"waiting {entry.id[:8]}  call-back number for ticket #{entry.ticket_id}  "
            f"queued {queued}\n    phone: {_printable(entry.phone or '')}"
        )
    contact = " | ".join(
        _printable(part) for part in (request.name, request.phone, request.email) if part
    )
    lines = [
        f"waiting {entry.id[:8]}  {request.urgency.upper():7}  {request.category:12}  "
        f"{_printable(request.treatment or '-')}  queued {queued}  "
        f"via {_printable(request.channel)}",
        f"    contact: {contact or '(none given)'}",
    ]
    lines.extend(f"    > {_printable(message)}" for message in request.messages)
    return "\n".join(lines)


def show_outbox(retry: bool) -> None:
    if retry:
        desk = get_desk()
        try:
            desk.retry_pending()
        finally:
            desk.close()
    entries = Outbox.from_env().pending()
    if not entries:
        print("No requests waiting in the outbox.")
    for entry in entries:
        print(format_entry(entry))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clinic.frontdesk", description="Front-desk tickets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print tickets, most urgent first")
    listing.add_argument(
        "--status", choices=STATUSES, default="open", help="which tickets (default: open)"
    )
    outbox = commands.add_parser(
        "outbox", help="print the requests waiting for the database (kept in the outbox)"
    )
    outbox.add_argument("--retry", action="store_true", help="write them to the database first")
    args = parser.parse_args(argv)
    if args.command == "outbox":
        show_outbox(args.retry)
        return 0
    store = TicketStore.from_env()
    try:
        tickets = store.list_tickets((args.status,))
    finally:
        store.close()
    if not tickets:
        print(f"No {args.status} tickets.")
    for ticket in tickets:
        print(format_ticket(ticket))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
