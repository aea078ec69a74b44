"""The cached action-response validation behaves exactly like Rasa's own."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

import clinic_nlu  # noqa: F401  (installs the speed-up, as when Rasa loads the model)
from clinic_nlu import rasa_speedups

VALID = {
    "events": [{"event": "slot", "name": "topic", "value": "cost", "timestamp": None}],
    "responses": [{"text": "hi", "buttons": [], "custom": {"reply": {"type": "answer"}}}],
}
INVALID = [
    {"events": "not a list", "responses": []},
    {"events": [{"event": "slot", "name": 3}], "responses": []},
    {"events": [], "responses": ["not an object"]},
]


def test_installed_on_the_pinned_rasa() -> None:
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result


def test_accepts_a_valid_response() -> None:
    assert RemoteAction("action_x", None)._validate_action_result(VALID) is True


@pytest.mark.parametrize("response", INVALID)
def test_rejects_what_rasa_rejects_with_the_same_message(response, monkeypatch) -> None:
    action = RemoteAction("action_x", None)
    with pytest.raises(ValidationError) as patched:
        action._validate_action_result(response)
    original = RemoteAction.__dict__["_validate_action_result"]
    monkeypatch.setattr(RemoteAction, "_validate_action_result", _rasa_original)
    with pytest.raises(ValidationError) as rasas:
        action._validate_action_result(response)
    assert patched.value.message == rasas.value.message
    assert original is rasa_speedups.validate_action_result


def _rasa_original(self, result):
    # Rasa 3.6.21's implementation, for comparison.
    from jsonschema import validate

    try:
        validate(result, self.action_response_format_spec())
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            "For more information about the format visit "
            "https://rasa.com/docs/rasa/custom-actions"
        )
        raise e
