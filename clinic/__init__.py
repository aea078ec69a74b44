"""The clinic assistant's core: plain Python, no Rasa, no web framework.

Everything here is what the clinic's assistant *knows and decides*; the adapters around it
(``actions/`` for the Rasa action server, ``clinic_nlu/`` for the Rasa NLU pipeline,
``channels/`` for messaging channels, ``webapp/`` for the website and staff inbox) translate
between it and their framework. Dependencies point inward only: nothing here imports an
adapter, rasa, rasa_sdk, sanic or aiohttp (``make lint`` checks this with import-linter).

- ``paths``: where the project's files are;
- ``yaml_source``: reading the clinic's YAML files with line numbers for errors;
- ``contract``: the reply contract (reply key, reply types), topic ids and intent names;
- ``knowledge`` / ``settings``: the clinic's two files, loaded and validated;
  ``python -m clinic.check`` checks both;
- ``answering``: composing answers from knowledge and settings;
- ``red_flags``: the auditable complication rules;
- ``frontdesk``: tickets (``store``), urgent alerts (``notify``) and the wiring of the two;
  ``python -m clinic.frontdesk list`` prints the open tickets.
"""
