"""Turns that do not get slower as a conversation grows: policies and actions see the recent
history, not all of it.

Rasa 3.6 featurises the whole conversation for every policy at every prediction
(``tracker.past_states``) and sends every event to the action server with every action call,
so each turn cost more than the last (about 40 ms at turn 1, 65 ms at turn 50 and growing on a
quiet 2-core machine, `make bench`). Nothing here needs that much history:

- the policies are the RulePolicy (rules of one or two turns, no ``conversation_start`` rule)
  and the MemoizationPolicy with ``max_history: 3``; no slot influences the conversation
  (``domain.yml``), so a state is the intent, entities, the previous action and the active
  loop;
- the actions read the slots (sent whole, separately) and at most the last few patient
  messages (``actions.common.MESSAGES_ON_TICKET``), the current turn and the previous one.

:func:`install` gives the policies a copy of the tracker that starts :data:`HISTORY_TURNS` user
messages back (``$CLINIC_HISTORY_TURNS``, default 12), with the slot values and the active loop
as they were at that point, and cuts the events sent to the action server at the same place.
The stored conversation is never shortened. ``tests/e2e/test_long_conversation.py`` plays long
conversations (questions, a booking form, fallbacks, a complication) on a server that keeps 4
turns and on one that keeps everything, and checks that every reply is the same.
"""

from __future__ import annotations

import os
from typing import Any

from rasa.core.actions.action import RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import ActiveLoop, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

HISTORY_TURNS_ENV = "CLINIC_HISTORY_TURNS"
DEFAULT_HISTORY_TURNS = 12
_ORIGINALS_ATTRIBUTE = "_clinic_recent_history_originals"
_STATE_ATTRIBUTE = "_clinic_recent_history_state"


def history_turns() -> int:
    raw = os.environ.get(HISTORY_TURNS_ENV, "").strip()
    return max(4, int(raw)) if raw.isdigit() else DEFAULT_HISTORY_TURNS


HISTORY_TURNS = history_turns()  # read once, at import: a server's environment is fixed


def cut_index(events: list[Any], turns: int, is_user: Any) -> int:
    """Where the last ``turns`` user messages begin (0: keep everything), one event early
    when that event is the ``action_listen`` the message answered."""
    seen = 0
    for index in range(len(events) - 1, -1, -1):
        if is_user(events[index]):
            seen += 1
            if seen == turns:
                return index - 1 if index > 0 else 0
    return 0


def recent(tracker: DialogueStateTracker, turns: int | None = None) -> DialogueStateTracker:
    """``tracker`` from ``turns`` user messages back, starting in the state it had then."""
    events = list(tracker.events)
    cut = cut_index(events, turns or HISTORY_TURNS, lambda e: isinstance(e, UserUttered))
    if cut == 0:
        return tracker
    slots = list(tracker.slots.values())
    return DialogueStateTracker.from_events(
        tracker.sender_id, _state_at(tracker, events, cut, slots) + events[cut:], slots
    )


def _state_at(
    tracker: DialogueStateTracker, events: list[Event], cut: int, slots: list[Any]
) -> list[Event]:
    """The slot values and active loop before ``events[cut]``, as events. Replaying the
    older events is the O(length) part: it is done once per turn, not once for each
    prediction and action call of the turn (the same tracker object, the same cut)."""
    remembered = getattr(tracker, _STATE_ATTRIBUTE, None)
    if remembered is not None and remembered[0] == cut and remembered[1] is events[cut - 1]:
        return list(remembered[2])
    before = DialogueStateTracker.from_events(tracker.sender_id, events[:cut], slots)
    start: list[Event] = [
        SlotSet(name, slot.value)
        for name, slot in before.slots.items()
        if slot.value != slot.initial_value
    ]
    if before.active_loop_name:
        start.append(ActiveLoop(before.active_loop_name))
    setattr(tracker, _STATE_ATTRIBUTE, (cut, events[cut - 1], tuple(start)))
    return start


def install() -> None:
    """Wrap the prediction and the action-call payload (idempotent)."""
    if hasattr(MessageProcessor, _ORIGINALS_ATTRIBUTE):
        return
    predict = MessageProcessor._predict_next_with_tracker
    call_format = RemoteAction._action_call_format
    setattr(MessageProcessor, _ORIGINALS_ATTRIBUTE, (predict, call_format))

    def predict_from_recent(self: MessageProcessor, tracker: DialogueStateTracker) -> Any:
        if tracker.followup_action:  # no policy runs; the original clears it on `tracker`
            return predict(self, tracker)
        return predict(self, recent(tracker))

    def recent_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Any) -> Any:
        # Cut before serialising: the whole conversation as JSON was 4 ms an action call at
        # turn 50. The cut tracker has the same slots, active loop and latest message.
        return call_format(self, recent(tracker), domain)

    MessageProcessor._predict_next_with_tracker = predict_from_recent  # type: ignore[method-assign]
    RemoteAction._action_call_format = recent_call_format  # type: ignore[method-assign]


def uninstall() -> None:
    originals = getattr(MessageProcessor, _ORIGINALS_ATTRIBUTE, None)
    if originals is None:
        return
    MessageProcessor._predict_next_with_tracker, RemoteAction._action_call_format = originals
    delattr(MessageProcessor, _ORIGINALS_ATTRIBUTE)
