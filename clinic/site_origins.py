"""The web origins of the pages that embed the chat widget (``$CLINIC_SITE_ORIGINS``).

Browsers send a page's origin (``scheme://host[:port]``) with every cross-origin request and
websocket; the Rasa server accepts the widget's socket.io connections from these origins only,
and the launcher gives the same list to Rasa's ``--cors`` for the REST channel.

``CLINIC_SITE_ORIGINS`` is comma-separated, e.g.
``https://www.clinic.example,https://clinic.example``; unset or blank means the demo page
(``http://localhost:8000``, ``http://127.0.0.1:8000``).
Origins are normalised as browsers send them (lower case, no default port, no trailing
slash); anything that is not an ``http``/``https`` origin, ``*`` included, is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

SITE_ORIGINS_ENV = "CLINIC_SITE_ORIGINS"
DEFAULT_SITE_ORIGINS = ("http://localhost:8000", "http://127.0.0.1:8000")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def site_origins(environ: Mapping[str, str]) -> list[str]:
    """The allowed origins from ``environ[CLINIC_SITE_ORIGINS]``, else the demo page's.

    Raises ``ValueError`` naming the variable and the bad entry.
    """
    raw = environ.get(SITE_ORIGINS_ENV) or ""
    if not raw.strip():
        return list(DEFAULT_SITE_ORIGINS)
    origins: list[str] = []
    for entry in raw.split(","):
        if not entry.strip():
            continue  # "a,,b" and a trailing comma are harmless
        origin = normalised_origin(entry)
        if origin not in origins:
            origins.append(origin)
    if not origins:
        raise ValueError(f"${SITE_ORIGINS_ENV} lists no origin: {raw!r}")
    return origins


def normalised_origin(entry: str) -> str:
    """``entry`` as a browser's ``Origin`` header would spell it; ``ValueError`` if it is not
    an ``http``/``https`` origin."""
    text = entry.strip()
    problem = f"${SITE_ORIGINS_ENV}: {text!r} is not a web origin such as https://clinic.example"
    if text == "*":
        raise ValueError(f"{problem}; list the site's origins instead of '*'")
    try:
        parts = urlsplit(text.removesuffix("/"))
        port = parts.port
    except ValueError as error:  # a port that is not a number, or out of range
        raise ValueError(problem) from error
    if (
        parts.scheme.lower() not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or "*" in text
    ):
        raise ValueError(problem)
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"
