"""``python -m serving.rasa_server run ...``: Rasa's own command line, with the clinic's
serving additions installed first.

- log privacy (``clinic.log_privacy``): no message text, slot value, sender id or tracker
  dump reaches a log;
- action calls that retry once on a dropped connection and answer the patient when the
  action server fails (``serving.action_calls``);
- policies and actions that see the recent history only, so turns do not get slower as a
  conversation grows (``serving.recent_history``);
- a message delivered twice (a proxy's retry) answered once (``serving.replay``);
- the message-length cap (``serving.message_cap``) and Sanic's request body limit
  (``$SANIC_REQUEST_MAX_SIZE``, default 64 KiB here instead of Sanic's 100 MB), refused as
  ``413 {"error": ...}`` like the channels' other refusals (Sanic's own body differs).

Every argument goes to ``rasa`` unchanged, e.g.
``python -m serving.rasa_server run --model models/clinic.tar.gz -i 127.0.0.1``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from clinic.log_privacy import install_log_privacy

REQUEST_MAX_SIZE_ENV = "SANIC_REQUEST_MAX_SIZE"
DEFAULT_REQUEST_MAX_BYTES = 64 * 1024


def install() -> None:
    """Everything the module docstring lists, idempotently."""
    os.environ.setdefault(REQUEST_MAX_SIZE_ENV, str(DEFAULT_REQUEST_MAX_BYTES))
    install_log_privacy()
    import rasa.core.run

    from serving import action_calls, message_cap, recent_history, replay

    if not getattr(rasa.core.run.configure_app, "_clinic", False):
        rasa.core.run.configure_app = _with_json_errors(rasa.core.run.configure_app)

    action_calls.install()
    message_cap.install()
    replay.install()
    recent_history.install()


def _with_json_errors(configure_app: Any) -> Any:
    """Rasa's ``configure_app``, with a too-large body answered ``{"error": ...}``."""
    from sanic import response
    from sanic.exceptions import PayloadTooLarge

    async def too_large(_request: Any, _error: Exception) -> Any:
        limit = os.environ.get(REQUEST_MAX_SIZE_ENV, str(DEFAULT_REQUEST_MAX_BYTES))
        return response.json({"error": f"the request body is over {limit} bytes"}, status=413)

    def configured(*args: Any, **kwargs: Any) -> Any:
        app = configure_app(*args, **kwargs)
        app.error_handler.add(PayloadTooLarge, too_large)
        return app

    configured._clinic = True  # type: ignore[attr-defined]
    return configured


def main(argv: list[str] | None = None) -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
