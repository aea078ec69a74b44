"""How the Rasa server and the action server are run: stores, resilient action calls,
log privacy and the launchers (an adapter around the core, like ``actions`` or ``channels``).

- ``tracker_store``: Rasa's SQL tracker store on a SQLite file by default, PostgreSQL by URL;
- ``lock_store``: a Redis lock store that is correct when several Rasa servers take messages
  of one conversation at the same time;
- ``action_calls``: custom-action calls that retry once on a dropped connection and, when the
  action server fails, still answer the patient;
- ``rasa_server`` / ``action_server``: ``python -m serving.rasa_server run ...`` and
  ``python -m serving.action_server``, the servers with the above installed.
"""
