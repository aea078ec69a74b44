"""Custom actions of the clinic assistant (run with `rasa run actions`).

Modules by responsibility:
- ``yaml_source``: reading the clinic's YAML files with line numbers for errors;
- ``knowledge`` / ``clinic_settings``: loading and validating the clinic's two files;
- ``intents``: the intent and topic names the NLU model and the actions share;
- ``reply``: the reply contract (the ``{"reply": {...}}`` custom payload on every turn);
- ``answering``: composing answers from knowledge and settings (no Rasa types);
- ``answer_actions``, ``clinic_actions``, ``fallback_actions``: the Rasa actions;
- ``tickets``: front-desk tickets (model, SQL store, ``python -m actions.tickets list``);
- ``notify``: urgent-ticket alerts POSTed in the background, with retries.
"""
