"""A separate process that takes a conversation's lock and keeps it until it is killed.

``python -m tests.support.lock_holder URL KEY_PREFIX CONVERSATION_ID LEASE_SECONDS`` locks the
conversation with ``ClinicRedisLockStore``, prints ``holding`` on its own line, then holds the
lock (renewing its lease) for at most ``MAX_HOLD_SECONDS``. Tests kill it with SIGKILL to see
how soon a crashed server's conversation is free again.
"""

from __future__ import annotations

import asyncio
import sys

from serving.lock_store import ClinicRedisLockStore

HOLDING = "holding"
MAX_HOLD_SECONDS = 120.0  # a holder the test forgot to kill still ends


async def hold(url: str, key_prefix: str, conversation_id: str, lease_seconds: float) -> None:
    store = ClinicRedisLockStore(url=url, key_prefix=key_prefix, lease_seconds=lease_seconds)
    async with store.lock(conversation_id, lock_lifetime=MAX_HOLD_SECONDS):
        print(HOLDING, flush=True)
        await asyncio.sleep(MAX_HOLD_SECONDS)
    await store.close()


if __name__ == "__main__":
    url, key_prefix, conversation_id, lease = sys.argv[1:5]
    asyncio.run(hold(url, key_prefix, conversation_id, float(lease)))
