"""``python -m serving.action_server [--port 5055]``: the action server, closed to strangers.

``rasa run actions`` listens on every interface and runs any action for anyone who can reach
it: one forged request to ``/webhook`` stored a ticket with no consent. This server:

- listens on ``$CLINIC_ACTION_HOST`` (default ``127.0.0.1``; ``0.0.0.0`` only in a container
  network);
- runs actions only for a caller that sends the shared secret ``$CLINIC_ACTION_SECRET`` in
  the ``X-Clinic-Action-Secret`` header (the Rasa server does, from ``endpoints.yml``); it
  refuses to start without one of at least 32 characters (``make run`` makes one in
  ``build/action-secret``);
- answers a failing action with a plain 500 (rasa_sdk's own handler sends the whole request
  back, tracker included, and Rasa then logs it) and logs the action's name only.

``/health`` stays open for the health checks of ``make run`` and the proxy.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request

from clinic.log_privacy import install_log_privacy

logger = logging.getLogger(__name__)

HOST_ENV = "CLINIC_ACTION_HOST"
SECRET_ENV = "CLINIC_ACTION_SECRET"
SECRET_HEADER = "X-Clinic-Action-Secret"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5055
MIN_SECRET_CHARS = 32
OPEN_PATHS = frozenset({"/health"})


def checked_secret(secret: str | None) -> str:
    if not secret or len(secret.strip()) < MIN_SECRET_CHARS:
        raise ValueError(
            f"${SECRET_ENV} must be set to a random secret of at least {MIN_SECRET_CHARS} "
            "characters, the same for the Rasa server (make one with: python -c "
            '"import secrets; print(secrets.token_urlsafe(32))")'
        )
    return secret.strip()


def create_action_app(secret: str, action_package: str = "actions") -> Sanic:
    """rasa_sdk's app for ``action_package``, behind the shared secret."""
    secret = checked_secret(secret)
    app = create_app(action_package, cors_origins=None)
    expected = secret.encode()

    @app.middleware("request")
    async def require_secret(request: Request) -> response.HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        sent = (request.headers.get(SECRET_HEADER) or "").encode()
        if not hmac.compare_digest(sent, expected):
            logger.warning("Refused an action call without the shared secret.")
            return response.json({"error": "unauthorised"}, status=401)
        return None

    # Replaces rasa_sdk's handler, which returns (and gets logged) the whole request body.
    async def failed(request: Request, exception: Exception) -> response.HTTPResponse:
        action = (request.json or {}).get("next_action") if _is_json(request) else None
        logger.error("Action %r failed: %s", action, type(exception).__name__,
                     exc_info=exception)  # fmt: skip
        return response.json({"error": "the action failed"}, status=500)

    app.error_handler.add(Exception, failed)
    return app


def _is_json(request: Request) -> bool:
    try:
        return isinstance(request.json, dict)
    except Exception:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving.action_server")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args(argv)
    install_log_privacy()
    utils.configure_colored_logging("INFO")
    host = os.environ.get(HOST_ENV) or DEFAULT_HOST
    try:
        app = create_action_app(os.environ.get(SECRET_ENV, ""), args.actions)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    logger.info("Action server on http://%s:%s", host, args.port)
    app.run(host=host, port=args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
