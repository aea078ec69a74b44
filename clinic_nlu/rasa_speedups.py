"""Two measured fixes for Rasa 3.6's latency, found with the profiler.

1. After every custom action, Rasa validates the action server's response with
``jsonschema.validate``, which first re-checks the (large) response schema against the
JSON Schema meta-schema. On these 2-core machines that costs about 24 ms per action call,
most of a turn's latency (`make bench`); validating with one cached validator costs under
1 ms. Same schema, same errors, same message: only the repeated meta-check goes.
2. Reading a conversation from the tracker store deserialises every event of the session, and
   ``Event.resolve_by_type`` finds each event's class by walking all subclasses of ``Event``
   (``all_subclasses``) every time: about 0.17 ms per event, so 60 ms of a turn 50 turns into
   a conversation (two thirds of the tracker store's time, and why turns got slower as a
   conversation grew). The class for each type name is now looked up once and kept; unknown
   names and the ``default`` fallback behave exactly as before (never cached).

Applied once when Rasa imports this project's NLU components (``clinic_nlu``), and only to
the Rasa version it was measured on.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import jsonschema
import rasa
from jsonschema.exceptions import ValidationError, best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event

logger = logging.getLogger(__name__)
PATCHED_RASA_VERSION = "3.6.21"


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, instead of on every action call
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with a cached validator."""
    error = best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


_event_classes: dict[str, type[Event]] = {}
_resolve_by_walking = Event.resolve_by_type


def resolve_event_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` with each type name's class found once."""
    cls = _event_classes.get(type_name)
    if cls is not None:
        return cls
    cls = _resolve_by_walking(type_name, default)
    if cls is not None and cls is not default:
        _event_classes[type_name] = cls
    return cls


def apply() -> bool:
    """Install both fixes; returns whether they are in place."""
    if RemoteAction._validate_action_result is validate_action_result:
        return True
    if rasa.__version__ != PATCHED_RASA_VERSION:
        logger.warning(
            "Not speeding up action-response validation: measured on Rasa %s, running %s.",
            PATCHED_RASA_VERSION,
            rasa.__version__,
        )
        return False
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)  # type: ignore[method-assign]
    return True


__all__ = ["ValidationError", "apply", "resolve_event_type", "validate_action_result"]
