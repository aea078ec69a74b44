"""Custom actions of the clinic assistant (run with ``rasa run actions``): rasa_sdk only.

The clinic logic they call lives in the core package ``clinic``; this package translates
between it and Rasa. Modules:

- ``common``: what every action module shares (sending the reply contract, reading the
  tracker: entity values, the treatment in focus, intent name and confidence, the patient's
  last messages, the idempotency key); action modules import it, never each other;
- ``answer_actions``: treatment questions, with the conversation's context;
- ``clinic_actions``: hours, location and contact from the clinic settings;
- ``fallback_actions``: "did you mean ...?" and out-of-scope replies;
- ``booking_actions``: the booking / call-back form;
- ``triage_actions``: the urgent reply and ticket for a complication.
"""

from clinic.knowledge import get_knowledge
from clinic.settings import get_settings

# Validate the clinic's files when the action server loads this package, so a malformed
# file stops the server at start with file:line: field, not at a patient's first question.
get_knowledge()
get_settings()
