"""The cut tracker the policies and action calls see: the same state, built once per turn."""

from __future__ import annotations

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from serving import recent_history
from serving.recent_history import recent

DOMAIN = Domain.from_yaml(
    """
    version: "3.1"
    intents: [ask_cost, request_booking]
    slots:
      treatments:
        type: list
        mappings: [{type: custom}]
      topic:
        type: text
        mappings: [{type: custom}]
    """
)


def long_tracker(turns: int) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events("patient", [], DOMAIN.slots)
    for turn in range(turns):
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered(f"question {turn}", {"name": "ask_cost", "confidence": 0.9}))
        tracker.update(ActionExecuted("action_answer_question"))
        tracker.update(SlotSet("topic", f"topic-{turn}"))
        if turn == 2:
            tracker.update(SlotSet("treatments", ["prp"]))
            tracker.update(ActiveLoop("booking_form"))
        tracker.update(BotUttered(f"answer {turn}"))
    tracker.update(ActionExecuted("action_listen"))
    return tracker


def state(tracker: DialogueStateTracker) -> tuple:
    return (
        {name: slot.value for name, slot in tracker.slots.items()},
        tracker.active_loop_name,
        tracker.latest_message.text,
    )


def test_the_cut_tracker_keeps_the_state_and_the_last_turns() -> None:
    tracker = long_tracker(30)
    cut = recent(tracker, turns=4)
    assert state(cut) == state(tracker)
    assert [e.text for e in cut.events if isinstance(e, UserUttered)] == [
        f"question {turn}" for turn in range(26, 30)
    ]


def test_the_older_events_are_replayed_once_per_turn(monkeypatch) -> None:
    tracker = long_tracker(30)
    replayed: list[int] = []
    original = DialogueStateTracker.from_events.__func__

    def counting(cls, sender_id, events, *args, **kwargs):
        replayed.append(len(events))
        return original(cls, sender_id, events, *args, **kwargs)

    monkeypatch.setattr(DialogueStateTracker, "from_events", classmethod(counting))
    first = recent(tracker, turns=4)
    # Within the turn the tracker grows by actions, not messages: the same cut, no replay.
    tracker.update(ActionExecuted("action_answer_question"))
    tracker.update(SlotSet("topic", "cost"))
    second = recent(tracker, turns=4)
    long_replays = [count for count in replayed if count > 40]
    assert len(long_replays) == 1
    assert state(second) == state(tracker)
    assert len(second.events) == len(first.events) + 2

    # A new message moves the cut: the state is rebuilt, and still right.
    tracker.update(UserUttered("and for exosomes?", {"name": "ask_cost", "confidence": 0.9}))
    third = recent(tracker, turns=4)
    assert len([count for count in replayed if count > 40]) == 2
    assert state(third) == state(tracker)


def test_history_turns_is_read_from_the_environment_with_a_floor(monkeypatch) -> None:
    monkeypatch.setenv(recent_history.HISTORY_TURNS_ENV, "2")
    assert recent_history.history_turns() == 4
    monkeypatch.setenv(recent_history.HISTORY_TURNS_ENV, "not a number")
    assert recent_history.history_turns() == recent_history.DEFAULT_HISTORY_TURNS
