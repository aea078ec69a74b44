"""``python -m webapp [--host HOST] [--port PORT] [--rasa-url URL]``: serve the demo page."""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from webapp.app import DEFAULT_RASA_URL, RASA_URL_ENV, create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m webapp", description="Serve the demo clinic page with the chat widget."
    )
    parser.add_argument("--host", default="localhost", help="address to listen on (localhost)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--rasa-url",
        default=os.environ.get(RASA_URL_ENV) or DEFAULT_RASA_URL,
        help=f"the Rasa server the widget talks to (${RASA_URL_ENV}, else {DEFAULT_RASA_URL})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # Refused staff sign-ins are WARNINGs, sign-ins INFO; aiohttp's access log stays off.
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("webapp").setLevel(logging.INFO)
    try:
        app = create_app(args.rasa_url)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"Demo clinic page: http://{args.host}:{args.port}/ (chat answered by {args.rasa_url})")
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
