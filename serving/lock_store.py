"""A Redis lock store that keeps one conversation's turns apart across several Rasa servers.

Rasa loads it from ``endpoints.yml``::

    lock_store:
      type: serving.lock_store.ClinicRedisLockStore
      url: redis://127.0.0.1:6379/0   # omitted: $CLINIC_LOCK_STORE_URL, else this default
      key_prefix: clinic_lock         # optional, as are the settings below

Why not Rasa's own ``RedisLockStore``: Rasa 3.6 issues a ticket by reading the conversation's
serialised ``TicketLock``, appending a ticket in Python and writing the whole lock back
(``get_or_create_lock`` -> ``issue_ticket`` -> ``save_lock``). Two servers that do this at the
same moment read the same lock, hand out the same ticket number and both process the
conversation at once; finishing a ticket writes the whole lock back again, which can drop
another server's ticket. That is the race reported upstream as RasaHQ/rasa#9213 ("RedisLockStore
don't tread safe": two Rasa servers, one user's two messages); its fix, a
``ConcurrentRedisLockStore`` (RasaHQ/rasa#11256), was reverted (RasaHQ/rasa#11428) and Rasa
3.6.21 still has the race. A server killed while it holds a lock also stalls the conversation
until the ticket's 60 s lifetime runs out.

The algorithm: a FIFO ticket queue per conversation, every step one Lua script, so each step
is atomic in Redis whichever server runs it. Tickets rather than a plain mutex (SET NX) because
a mutex polled by several waiters lets whichever polls first win, so a patient's second message
could be answered before the first; a queue serves messages in the order they reached Redis.

- Keys: ``<prefix>:{<digest>}:queue`` (a list of tickets ``<number>:<random>``, head = holder),
  ``...:leases`` (a hash: ticket -> lease end in Redis server milliseconds) and ``...:seq`` (the
  ticket counter). ``<digest>`` is a SHA-256 of the conversation id: sender ids can be phone
  numbers, which do not belong in key names or logs; the braces keep one conversation's keys
  in one Redis Cluster slot. The keys disappear when the queue empties.
- ``enqueue``: INCR the counter, RPUSH the ticket, set its lease; ``poll``: renew the caller's
  lease and report whether its ticket is at the head; ``release``: remove the caller's ticket
  wherever it is. ``enqueue`` and ``poll`` first drop tickets at the head whose lease has run
  out (a killed server's), so a dead holder frees the conversation within one lease
  (``lease_seconds``, default 5 s), not 60 s; a waiter killed in the queue is dropped when it
  reaches the head. Lease ends are read from Redis's own clock (``TIME``), never a server's.
- Holding: a background task renews the lease every third of it. The last lease ends with
  ``lock_lifetime`` (Rasa's 60 s, ``TICKET_LOCK_LIFETIME``), so a turn stuck that long (a hung
  call) lets the next message through, as Rasa's ticket lifetime does; the stuck turn logs a
  warning when it finally ends.
- Waiting: polls every ``poll_seconds`` (default 0.02 s; Rasa's ``wait_time_in_seconds``, the
  pause between attempts, is honoured when shorter) for at most ``max_wait_seconds`` (default
  ``lock_lifetime + lease_seconds``: enough for the turn in front to run out its whole
  lifetime), then raises ``LockError``, as Rasa does. Rasa calls ``lock()`` with the default
  1 s ``wait_time_in_seconds``; it is not a total wait: a second message that gave up after 1 s
  behind a slow turn would be lost.
- Failure: a Redis that refuses or does not answer raises ``LockError`` naming the URL
  (password hidden) within the connect / socket timeout (``socket_timeout``, default 2 s)
  instead of hanging. Once a turn holds the lock, failed renewals or a failed release are only
  logged: the reply is already being made, and the lease expires by itself.
- Cancelled waiters (a client that hung up) remove their ticket at once, so the queue behind
  them does not wait for a lease. Each Redis call runs in a shielded task of its own: on Python
  3.10 a cancellation landing inside redis-py's ``wait_for`` could be swallowed (seen here
  under load: the cancelled waiter went on waiting and would have taken its turn).

Limits: a lease is not a fence. A server whose event loop stalls longer than a lease (5 s) while
it holds a conversation can lose it to another server; it then logs a warning. Keep the lease
above the longest stall you expect, and below how long a conversation may wait after a crash.
Needs Redis 5 or newer (``TIME`` before writes in a script).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import string
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio
from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)

URL_ENV = "CLINIC_LOCK_STORE_URL"
DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_KEY_PREFIX = "clinic_lock"
DEFAULT_LEASE_SECONDS = 5.0
DEFAULT_POLL_SECONDS = 0.02
DEFAULT_SOCKET_TIMEOUT_SECONDS = 2.0
KEY_PREFIX_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-:.")

# Status of a ticket, as the scripts report it.
YOUR_TURN = 0
WAITING = 1
TICKET_GONE = -1

# KEYS = queue, seq, leases. Shared by every script below.
_LUA_PRELUDE = """
local queue, seq, leases = KEYS[1], KEYS[2], KEYS[3]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A safety net for when every server died: keys outlive the longest lease, never shrink.
local function keep_keys(ttl_ms)
  for _, key in ipairs(KEYS) do
    if redis.call('PTTL', key) < ttl_ms then redis.call('PEXPIRE', key, ttl_ms) end
  end
end

-- Drops tickets at the head whose lease ran out; 0 when `ticket` is at the head, else 1.
local function turn_of(ticket, now)
  while true do
    local head = redis.call('LINDEX', queue, 0)
    if not head then return -1 end
    if head == ticket then return 0 end
    local lease_end = tonumber(redis.call('HGET', leases, head) or '0')
    if lease_end > now then return 1 end
    redis.call('LPOP', queue)
    redis.call('HDEL', leases, head)
  end
end
"""

# ARGV = random part, lease ms, key ttl ms -> {ticket, status}
_ENQUEUE = (
    _LUA_PRELUDE
    + """
local now = now_ms()
local ticket = redis.call('INCR', seq) .. ':' .. ARGV[1]
redis.call('RPUSH', queue, ticket)
redis.call('HSET', leases, ticket, now + tonumber(ARGV[2]))
keep_keys(tonumber(ARGV[3]))
return {ticket, turn_of(ticket, now)}
"""
)

# ARGV = ticket, lease ms, key ttl ms -> status. Waiters poll with it, holders renew with it.
_POLL = (
    _LUA_PRELUDE
    + """
local now = now_ms()
if redis.call('HEXISTS', leases, ARGV[1]) == 0 then return -1 end
redis.call('HSET', leases, ARGV[1], now + tonumber(ARGV[2]))
keep_keys(tonumber(ARGV[3]))
return turn_of(ARGV[1], now)
"""
)

# ARGV = 'suffix' | 'prefix', text -> tickets removed. By suffix (the random part): a caller
# cancelled while `enqueue` ran knows only that. By prefix (`<number>:`): Rasa's ticket API.
_RELEASE = (
    _LUA_PRELUDE
    + """
local removed = 0
for _, ticket in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  local matches
  if ARGV[1] == 'suffix' then
    matches = string.sub(ticket, -string.len(ARGV[2])) == ARGV[2]
  else
    matches = string.sub(ticket, 1, string.len(ARGV[2])) == ARGV[2]
  end
  if matches then
    redis.call('LREM', queue, 1, ticket)
    redis.call('HDEL', leases, ticket)
    removed = removed + 1
  end
end
if redis.call('LLEN', queue) == 0 then redis.call('DEL', queue, seq, leases) end
return removed
"""
)

# -> {now ms, ticket, lease end, ticket, lease end, ...} in queue order; reads only.
_SNAPSHOT = (
    _LUA_PRELUDE
    + """
local reply = {now_ms()}
for _, ticket in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  table.insert(reply, ticket)
  table.insert(reply, redis.call('HGET', leases, ticket) or '0')
end
return reply
"""
)


@dataclass(frozen=True)
class _ConversationKeys:
    queue: str
    seq: str
    leases: str
    ref: str  # a short digest to name the conversation in logs and errors

    def as_list(self) -> list[str]:
        return [self.queue, self.seq, self.leases]


@dataclass
class _AsyncConnection:
    client: redis.asyncio.Redis
    enqueue: Any
    poll: Any
    release: Any


class ClinicRedisLockStore(LockStore):
    """Rasa's ``LockStore`` with an atomic FIFO ticket queue in Redis (see the module docs)."""

    def __init__(
        self,
        endpoint_config: EndpointConfig | None = None,
        *,
        url: str | None = None,
        key_prefix: str | None = None,
        lease_seconds: float | None = None,
        poll_seconds: float | None = None,
        max_wait_seconds: float | None = None,
        socket_timeout: float | None = None,
    ) -> None:
        """Settings: these arguments, else the endpoint config's ``url`` and keys of the same
        names, else ``$CLINIC_LOCK_STORE_URL`` for the URL, else the defaults."""
        options = dict(endpoint_config.kwargs) if endpoint_config else {}
        self.url = (
            url
            or (endpoint_config.url if endpoint_config else None)
            or os.environ.get(URL_ENV)
            or DEFAULT_URL
        )
        self.key_prefix = str(key_prefix or options.get("key_prefix") or DEFAULT_KEY_PREFIX)
        if not set(self.key_prefix) <= KEY_PREFIX_CHARACTERS:
            raise ValueError("key_prefix may hold only letters, digits and _ - : .")
        self.lease_seconds = _positive(
            "lease_seconds", lease_seconds, options.get("lease_seconds"), DEFAULT_LEASE_SECONDS
        )
        self.poll_seconds = _positive(
            "poll_seconds", poll_seconds, options.get("poll_seconds"), DEFAULT_POLL_SECONDS
        )
        configured_wait = max_wait_seconds or options.get("max_wait_seconds")
        self.max_wait_seconds = (
            _positive("max_wait_seconds", configured_wait, None, 1.0) if configured_wait else None
        )
        self.socket_timeout = _positive(
            "socket_timeout",
            socket_timeout,
            options.get("socket_timeout"),
            DEFAULT_SOCKET_TIMEOUT_SECONDS,
        )
        self.redacted_url = _redact(self.url)
        # redis.asyncio connections belong to the event loop that opened them.
        self._connections: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, _AsyncConnection
        ] = weakref.WeakKeyDictionary()
        self._sync_client: redis.Redis | None = None
        super().__init__()

    # -- what Rasa calls: lock() -------------------------------------------------------------

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: float = LOCK_LIFETIME,
        wait_time_in_seconds: float = 1,
    ) -> AsyncIterator[TicketLock]:
        """Hold ``conversation_id`` for the body of the ``async with``, after the turns that
        reached Redis before this one. Raises ``LockError`` when Redis fails or the turn waited
        longer than ``max_wait_seconds``."""
        keys = self._keys(conversation_id)
        connection = self._connection()
        loop = asyncio.get_running_loop()
        max_wait = self.max_wait_seconds or lock_lifetime + self.lease_seconds
        deadline = loop.time() + max_wait
        pause = min(self.poll_seconds, wait_time_in_seconds or self.poll_seconds)
        random_part = secrets.token_hex(8)
        release = True
        try:
            try:
                ticket, status = await self._enqueue(connection, keys, random_part)
            except LockError:
                # Redis failed: releasing would wait out another timeout. A ticket that a timed
                # out call may still have queued lapses after one lease.
                release = False
                raise
            while status != YOUR_TURN:
                if loop.time() >= deadline:
                    raise LockError(
                        f"Gave up waiting for conversation {keys.ref} after {max_wait:.1f} s: "
                        "earlier turns still hold it."
                    )
                await asyncio.sleep(pause)
                status = await self._call(
                    connection.poll, keys, [ticket, self._lease_ms(), self._ttl_ms()]
                )
                if status == TICKET_GONE:
                    # This process stalled longer than a lease and was taken for dead: queue
                    # again rather than drop the patient's message.
                    logger.warning("Ticket for conversation %s expired while waiting.", keys.ref)
                    random_part = secrets.token_hex(8)
                    ticket, status = await self._enqueue(connection, keys, random_part)
            held_since = loop.time()
            renewer = asyncio.create_task(
                self._keep_lease(connection, keys, ticket, held_since, lock_lifetime)
            )
            try:
                yield _ticket_lock(conversation_id, ticket, time.time() + lock_lifetime)
            finally:
                renewer.cancel()
                with suppress(asyncio.CancelledError):
                    await renewer
                held_for = loop.time() - held_since
                if held_for > lock_lifetime:
                    logger.warning(
                        "Conversation %s was held %.1f s, longer than its lock lifetime "
                        "(%.0f s): the next turn may have started before this one ended.",
                        keys.ref,
                        held_for,
                        lock_lifetime,
                    )
        finally:
            if release:
                # Shielded: a second cancellation must not leave the ticket for others to wait.
                await asyncio.shield(self._release_quietly(connection, keys, random_part))

    async def close(self) -> None:
        """Close this event loop's connections (and the synchronous client's)."""
        connection = self._connections.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            await connection.client.close(close_connection_pool=True)
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None

    # -- Rasa's synchronous ticket API, kept atomic --------------------------------------------
    # Nothing in Rasa 3.6 calls these once lock() is overridden; they are here so that code
    # written against LockStore still gets the same atomic queue instead of the race. They
    # block (a synchronous client): for scripts and operators, not for the event loop.

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Queue a ticket that lives ``lock_lifetime`` seconds (no renewal); its number."""
        keys = self._keys(conversation_id)
        lease_ms = max(1, round(lock_lifetime * 1000))
        reply = self._sync_call(
            _ENQUEUE, keys, [secrets.token_hex(8), lease_ms, max(lease_ms * 2, self._ttl_ms())]
        )
        return _ticket_number(reply[0])

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove ticket ``ticket_number``, wherever it is in the queue."""
        self._sync_call(_RELEASE, self._keys(conversation_id), ["prefix", f"{ticket_number}:"])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Same as ``finish_serving``: an empty queue deletes its keys by itself."""
        self.finish_serving(conversation_id, ticket_number)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The live tickets of ``conversation_id`` (a snapshot), or None when there are none."""
        tickets = self._live_tickets(conversation_id)
        return TicketLock(conversation_id, deque(tickets)) if tickets else None

    def is_someone_waiting(self, conversation_id: str) -> bool:
        """Whether any live ticket (holder or waiter) exists for ``conversation_id``."""
        return bool(self._live_tickets(conversation_id))

    def delete_lock(self, conversation_id: str) -> None:
        """Drop every ticket of ``conversation_id`` (an operator's reset of a stuck one)."""
        keys = self._keys(conversation_id)
        try:
            deleted = self._sync_redis().delete(*keys.as_list())
        except (redis.RedisError, OSError) as error:
            raise self._unreachable(error) from error
        self._log_deletion(keys.ref, deletion_successful=bool(deleted))

    def save_lock(self, lock: TicketLock) -> None:
        """Not supported: writing a whole lock back is the race this store exists to avoid."""
        raise NotImplementedError(
            "ClinicRedisLockStore changes tickets only through atomic scripts; "
            "use lock(), issue_ticket() and finish_serving()."
        )

    def update_lock(self, conversation_id: str) -> None:
        """Nothing to do: expired tickets are dropped atomically whenever a ticket polls."""

    # -- internals -------------------------------------------------------------------------

    def _keys(self, conversation_id: str) -> _ConversationKeys:
        digest = hashlib.sha256(conversation_id.encode()).hexdigest()[:32]
        base = f"{self.key_prefix}:{{{digest}}}"
        return _ConversationKeys(f"{base}:queue", f"{base}:seq", f"{base}:leases", digest[:12])

    def _lease_ms(self) -> int:
        return max(1, round(self.lease_seconds * 1000))

    def _ttl_ms(self) -> int:
        return self._lease_ms() * 2 + 1000

    def _connection(self) -> _AsyncConnection:
        loop = asyncio.get_running_loop()
        connection = self._connections.get(loop)
        if connection is None:
            client = redis.asyncio.Redis.from_url(
                self.url,
                socket_connect_timeout=self.socket_timeout,
                socket_timeout=self.socket_timeout,
                decode_responses=True,
            )
            connection = _AsyncConnection(
                client,
                client.register_script(_ENQUEUE),
                client.register_script(_POLL),
                client.register_script(_RELEASE),
            )
            self._connections[loop] = connection
        return connection

    def _sync_redis(self) -> redis.Redis:
        if self._sync_client is None:
            self._sync_client = redis.Redis.from_url(
                self.url,
                socket_connect_timeout=self.socket_timeout,
                socket_timeout=self.socket_timeout,
                decode_responses=True,
            )
        return self._sync_client

    async def _call(self, script: Any, keys: _ConversationKeys, args: list[Any]) -> Any:
        """Run ``script``; a cancellation waits for the script's reply, then is raised.

        The call runs in a task of its own: on Python 3.10, a cancellation that arrives while
        redis-py is inside ``asyncio.wait_for`` / ``async_timeout`` can be swallowed (seen
        here under load: a cancelled waiter went on waiting). And waiting for the reply means
        that what the script did in Redis (a ticket queued) is done before the release runs.
        """
        call = asyncio.ensure_future(script(keys=keys.as_list(), args=args))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await call
            raise
        except (redis.RedisError, OSError) as error:
            raise self._unreachable(error) from error

    def _sync_call(self, script: str, keys: _ConversationKeys, args: list[Any]) -> Any:
        try:
            return self._sync_redis().eval(script, 3, *keys.as_list(), *args)
        except (redis.RedisError, OSError) as error:
            raise self._unreachable(error) from error

    def _unreachable(self, error: Exception) -> LockError:
        return LockError(
            f"Lock store at {self.redacted_url} failed: {type(error).__name__}: {error}"
        )

    async def _enqueue(
        self, connection: _AsyncConnection, keys: _ConversationKeys, random_part: str
    ) -> tuple[str, int]:
        ticket, status = await self._call(
            connection.enqueue, keys, [random_part, self._lease_ms(), self._ttl_ms()]
        )
        return ticket, int(status)

    async def _keep_lease(
        self,
        connection: _AsyncConnection,
        keys: _ConversationKeys,
        ticket: str,
        held_since: float,
        lock_lifetime: float,
    ) -> None:
        """Renew the holder's lease until cancelled; the last lease ends with ``lock_lifetime``."""
        loop = asyncio.get_running_loop()
        interval = self.lease_seconds / 3
        while True:
            await asyncio.sleep(interval)
            remaining = held_since + lock_lifetime - loop.time()
            if remaining > 0:
                lease_ms = max(1, round(min(self.lease_seconds, remaining) * 1000))
                try:
                    status = await self._call(
                        connection.poll, keys, [ticket, lease_ms, self._ttl_ms()]
                    )
                except LockError as error:
                    logger.warning(
                        "Could not renew the lock of conversation %s: %s", keys.ref, error
                    )
                    continue
                if status != YOUR_TURN:
                    logger.warning(
                        "Lost the lock of conversation %s (lease ran out: event loop stalled?); "
                        "another server may be processing it.",
                        keys.ref,
                    )
                    return
            if remaining <= interval:  # the lease now ends with the lock lifetime
                return

    async def _release_quietly(
        self, connection: _AsyncConnection, keys: _ConversationKeys, random_part: str
    ) -> None:
        try:
            await self._call(connection.release, keys, ["suffix", f":{random_part}"])
        except LockError as error:
            logger.warning(
                "Could not release conversation %s (its lease will expire): %s", keys.ref, error
            )

    def _live_tickets(self, conversation_id: str) -> list[Ticket]:
        reply = self._sync_call(_SNAPSHOT, self._keys(conversation_id), [])
        now_ms = int(reply[0])
        pairs = zip(reply[1::2], reply[2::2], strict=True)
        return [
            Ticket(_ticket_number(ticket), int(lease_end) / 1000)
            for ticket, lease_end in pairs
            if int(lease_end) > now_ms
        ]


def _ticket_number(ticket: str) -> int:
    return int(ticket.split(":", 1)[0])


def _ticket_lock(conversation_id: str, ticket: str, expires: float) -> TicketLock:
    """What Rasa's ``lock()`` yields: the lock, here with the holder's ticket only."""
    return TicketLock(conversation_id, deque([Ticket(_ticket_number(ticket), expires)]))


def _positive(name: str, given: float | None, configured: Any, default: float) -> float:
    """A setting from the argument, else the endpoint config (YAML may give a string)."""
    raw = given if given is not None else configured
    value = default if raw in (None, "") else float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _redact(url: str) -> str:
    """``url`` without its password, to name the server in errors and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
