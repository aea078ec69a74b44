"""Rasa input/output channels used by the clinic assistant (see ``credentials.yml``)."""
