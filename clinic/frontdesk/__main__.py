"""``python -m clinic.frontdesk list``: print the front-desk tickets, most urgent first."""

from __future__ import annotations

import argparse

from clinic.frontdesk.store import STATUSES, Ticket, TicketStore


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
    lines = [
        f"#{ticket.id}  {ticket.urgency.upper():7}  {ticket.category:12}  "
        f"{_printable(ticket.treatment or '-')}  {ticket.created_at:%Y-%m-%d %H:%M} UTC  "
        f"via {_printable(ticket.channel)}  [{ticket.status}]",
        f"    contact: {contact or '(none given)'}",
    ]
    lines.extend(f"    > {_printable(message)}" for message in ticket.messages)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clinic.frontdesk", description="Front-desk tickets."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print tickets, most urgent first")
    listing.add_argument(
        "--status", choices=STATUSES, default="open", help="which tickets (default: open)"
    )
    args = parser.parse_args(argv)
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
