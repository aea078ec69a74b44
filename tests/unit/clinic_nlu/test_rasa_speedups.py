"""The measured Rasa speed-ups behave exactly like Rasa's own code: the cached action-response
validation and the cached event-type lookup."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, UserUttered, deserialise_events

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


def _every_event_type() -> list[str]:
    from rasa.shared.utils.common import all_subclasses

    return sorted({cls.type_name for cls in all_subclasses(Event)})


def test_the_event_type_lookup_is_installed() -> None:
    assert Event.resolve_by_type is rasa_speedups.resolve_event_type


@pytest.mark.parametrize("type_name", _every_event_type())
def test_every_event_type_resolves_to_rasas_class(type_name: str) -> None:
    assert rasa_speedups.resolve_event_type(type_name) is rasa_speedups._resolve_by_walking(
        type_name
    )


def test_unknown_event_types_behave_as_in_rasa() -> None:
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        rasa_speedups.resolve_event_type("no_such_event")
    assert rasa_speedups.resolve_event_type("no_such_event", default=UserUttered) is UserUttered
    assert "no_such_event" not in rasa_speedups._event_classes
    assert rasa_speedups.resolve_event_type("topic") is None


def test_a_whole_conversation_deserialises_to_the_same_events() -> None:
    serialised = [
        {"event": "action", "name": "action_listen"},
        {
            "event": "user",
            "text": "what is prp",
            "parse_data": {"intent": {"name": "ask_overview"}},
        },
        {"event": "bot", "text": "PRP is ...", "data": {}},
        {"event": "slot", "name": "topic", "value": "overview"},
        {"event": "active_loop", "name": "booking_form"},
        {"event": "followup", "name": "booking_form"},
    ]
    events = deserialise_events(serialised)
    assert [type(event).__name__ for event in events] == [
        "ActionExecuted", "UserUttered", "BotUttered", "SlotSet", "ActiveLoop", "FollowupAction",
    ]  # fmt: skip
