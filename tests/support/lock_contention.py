"""Several "Rasa servers" locking one conversation at once, for the lock store tests.

``contend(stores, ...)`` runs each lock store in a thread of its own with its own event loop
(as separate servers would), starts them together, and has every server run many concurrent
tasks that each lock the same conversation and hold it for a moment. It returns every
critical section's entry and exit times (one monotonic clock for all threads) and every error,
so a test can check that no two sections overlapped and that every task had its turn.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rasa.core.lock_store import LockStore

JOIN_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Turn:
    """One critical section: which server and task held the lock with which ticket number
    (the yielded ``TicketLock``'s ``now_serving``), from when to when."""

    server: int
    task: int
    ticket: int | None
    entered: float
    left: float


@dataclass
class ContentionResult:
    turns: list[Turn] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def overlapping_pairs(self) -> list[tuple[Turn, Turn]]:
        """Pairs of turns whose critical sections overlapped in time."""
        ordered = sorted(self.turns, key=lambda turn: turn.entered)
        pairs = []
        for index, turn in enumerate(ordered):
            for later in ordered[index + 1 :]:
                if later.entered >= turn.left:
                    break
                pairs.append((turn, later))
        return pairs


def contend(
    stores: Sequence[LockStore],
    conversation_id: str,
    tasks_per_server: int,
    hold_seconds: float,
    lock_kwargs: Mapping[str, Any] | None = None,
    task_timeout: float = 30.0,
) -> ContentionResult:
    """Every store, in its own thread and event loop, runs ``tasks_per_server`` tasks at once,
    each holding ``conversation_id`` for ``hold_seconds``. A task that has not had its turn
    after ``task_timeout`` seconds ends with ``TimeoutError`` in ``errors``."""
    result = ContentionResult()
    record = threading.Lock()
    start_together = threading.Barrier(len(stores))

    async def one_turn(store: LockStore, server: int, task: int) -> None:
        async with store.lock(conversation_id, **(lock_kwargs or {})) as lock:
            entered = time.monotonic()
            await asyncio.sleep(hold_seconds)
            left = time.monotonic()
        with record:
            result.turns.append(Turn(server, task, lock.now_serving, entered, left))

    async def one_task(store: LockStore, server: int, task: int) -> None:
        await asyncio.wait_for(one_turn(store, server, task), task_timeout)

    async def one_server(store: LockStore, server: int) -> None:
        start_together.wait()
        outcomes = await asyncio.gather(
            *(one_task(store, server, task) for task in range(tasks_per_server)),
            return_exceptions=True,
        )
        close = getattr(store, "close", None)
        if close is not None:
            await close()
        with record:
            result.errors.extend(error for error in outcomes if isinstance(error, BaseException))

    def run(store: LockStore, server: int) -> None:
        try:
            asyncio.run(one_server(store, server))
        except BaseException as error:  # reported to the test, not lost in the thread
            with record:
                result.errors.append(error)

    threads = [
        threading.Thread(target=run, args=(store, server), daemon=True)
        for server, store in enumerate(stores)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise AssertionError(f"a server thread did not finish in {JOIN_TIMEOUT_SECONDS} s")
    return result
