"""The clinic's small web app: the demo page and the chat widget (``python -m webapp``)."""

from webapp.app import create_app

__all__ = ["create_app"]
