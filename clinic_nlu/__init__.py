"""Custom Rasa NLU components of the clinic assistant (spaCy alias recognition)."""
