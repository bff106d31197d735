"""Per-user limits on what costs model calls, rows and sockets.

Counters live in the shared cache (Redis, or the database cache table), so a limit counted on one worker
holds on every other and survives a restart. Each counter is a fixed window aligned to the clock, which
makes "when can I go on" exact: the end of the window. Tokens and concurrent replies are read from the
saved messages themselves, which every worker shares already.

A function here returns a `Refusal` (what to tell the user) or None; the write paths in `flow` turn a
refusal into an HTTP 429 or a socket error, before anything is saved or any model call is made.
"""

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db.models import F, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.models import Message

MINUTE = 60
HOUR = 60 * 60


@dataclass(frozen=True)
class Refusal:
    message: str
    retry_at: dt.datetime | None = None


def _spend(name: str, user_id: int, period: int) -> tuple[int, dt.datetime]:
    """Count one more in the user's current window and return the total and when the window ends.

    A window opens with the first count and lasts `period`. The count is atomic on Redis (INCR); on the
    database cache one thread per process does all database work, so only several processes sharing the
    database cache could lose a count.
    """
    key, ends_key = f"quota:{name}:{user_id}", f"quota:{name}:{user_id}:ends"
    now = time.time()
    if cache.add(key, 1, timeout=period):
        cache.set(ends_key, now + period, timeout=period)
        return 1, dt.datetime.fromtimestamp(now + period, dt.UTC)
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between add() and incr()
        cache.set(key, 1, timeout=period)
        cache.set(ends_key, now + period, timeout=period)
        return 1, dt.datetime.fromtimestamp(now + period, dt.UTC)
    ends = cache.get(ends_key) or now + period
    # The database cache's incr() writes with the default timeout; put the window's own end back.
    cache.touch(key, timeout=max(1, ends - now))
    return count, dt.datetime.fromtimestamp(ends, dt.UTC)


def when(moment: dt.datetime) -> str:
    """'in 35 seconds (at 09:14:05 UTC)': a person's way of saying when a limit lifts."""
    seconds = max(1, int((moment - timezone.now()).total_seconds() + 0.999))
    if seconds < 120:
        span = f"{seconds} seconds"
    elif seconds < 2 * HOUR:
        span = f"{seconds // MINUTE} minutes"
    else:
        span = f"{seconds // HOUR} hours {seconds % HOUR // MINUTE} minutes"
    return f"in {span} (at {moment.astimezone(dt.UTC):%H:%M:%S} UTC)"


# A token bucket per user in the shared store: full, it holds a minute's messages, and it refills evenly
# over the minute. A burst of quick messages ("ok", "thanks", "and?") passes; a steady flood is held to
# the rate; the day's token quota (below) is the real guard on what replies cost. On Redis one script
# reads and writes the bucket, so two workers spending at once cannot both take the last message.
_TAKE = """
local capacity = tonumber(ARGV[1])
local per_second = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_second)
local taken = 0
if tokens >= 1 then
  tokens = tokens - 1
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / per_second) + 1)
return {taken, tostring(tokens)}
"""


def _take_from_bucket(name: str, user_id: int, capacity: int, per_second: float) -> tuple[bool, float]:
    """Take one from the user's bucket; returns whether there was one and how many are left."""
    key = f"quota:{name}:{user_id}"
    now = time.time()
    redis = _redis_client(key)
    if redis is not None:
        client, full_key = redis
        taken, left = client.eval(_TAKE, 1, full_key, capacity, per_second, now)
        return bool(taken), float(left)
    with _local_lock:
        tokens, at = cache.get(key, (capacity, now))
        tokens = min(capacity, tokens + max(0.0, now - at) * per_second)
        taken = tokens >= 1
        tokens -= 1 if taken else 0
        cache.set(key, (tokens, now), timeout=int(capacity / per_second) + 1)
    return taken, tokens


def spend_model_call(user) -> Refusal | None:
    """One more message, retry or edit (each one calls the model): up to BOWOUT_MESSAGES_PER_MINUTE at
    once, then as fast as the bucket refills."""
    limit = settings.BOWOUT_MESSAGES_PER_MINUTE
    per_second = limit / MINUTE
    taken, left = _take_from_bucket("messages", user.pk, limit, per_second)
    if taken:
        return None
    reset = timezone.now() + dt.timedelta(seconds=(1 - left) / per_second)
    return Refusal(
        f"You have sent {limit} messages in a minute, the most allowed. "
        f"You can send again {when(reset)}. Your text is kept.",
        reset,
    )


def spend_feedback(user) -> Refusal | None:
    """One more rating, feedback or appeal this minute: each writes a row staff read."""
    limit = settings.BOWOUT_FEEDBACK_PER_MINUTE
    count, reset = _spend("feedback", user.pk, MINUTE)
    if count > limit:
        return Refusal(
            f"You have sent {limit} ratings or feedback notes in a minute, the most allowed. "
            f"You can send more {when(reset)}.",
            reset,
        )
    return None


def spend_new_chat(user) -> Refusal | None:
    """One more new chat or branch this hour."""
    limit = settings.BOWOUT_NEW_CHATS_PER_HOUR
    count, reset = _spend("new_chats", user.pk, HOUR)
    if count > limit:
        return Refusal(
            f"You have started {limit} new chats or branches in an hour, the most allowed. "
            f"You can start another {when(reset)}; your existing chats are all still there.",
            reset,
        )
    return None


def concurrent_replies(user) -> Refusal | None:
    """Replies being written for this user in any chat, read from the saved rows (the truth on every
    worker). Called inside the write transaction, after the conversation row is taken."""
    limit = settings.BOWOUT_CONCURRENT_REPLIES
    writing = Message.objects.filter(conversation__user=user, status=Message.Status.STREAMING).count()
    if writing >= limit:
        return Refusal(
            f"Claude is already writing replies in {writing} of your chats, the most at once. "
            "You can send again as soon as one of them finishes (or press Stop on one)."
        )
    return None


def tokens_used_today(user) -> int:
    """Tokens of the user's replies written since midnight UTC: input (uncached, read from and written to
    the prompt cache: with caching on, most of a turn's input is a cache read) and output. Messages copied
    into a branch keep their original created_at, older than the branch, so they are not counted twice."""
    midnight = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    used = (
        Message.objects.filter(conversation__user=user, role=Message.Role.ASSISTANT, created_at__gte=midnight)
        .filter(created_at__gte=F("conversation__created_at"))
        .aggregate(
            total=Coalesce(
                Sum(
                    Coalesce("input_tokens", 0)
                    + Coalesce("cache_read_tokens", 0)
                    + Coalesce("cache_creation_tokens", 0)
                    + Coalesce("output_tokens", 0)
                ),
                0,
            )
        )["total"]
    )
    return int(used)


def tokens_left(user) -> Refusal | None:
    limit = settings.BOWOUT_TOKENS_PER_DAY
    if tokens_used_today(user) < limit:
        return None
    tomorrow = timezone.now().astimezone(dt.UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) + dt.timedelta(days=1)
    return Refusal(
        f"You have used today's {limit:,} model tokens. You can go on {when(tomorrow)}; "
        "everything you wrote is saved.",
        tomorrow,
    )


# --- Open sockets ---------------------------------------------------------------------------------
# The registry is one cache entry per user: the channel names of their open sockets, oldest first. A
# socket over the limit closes the oldest one instead of refusing the new tab, so an entry left behind by
# a crashed worker cannot lock anyone out: it is simply the first to go.

SOCKETS_TTL = 24 * HOUR


def _sockets_key(user_id: int) -> str:
    return f"quota:sockets:{user_id}"


# On Redis the registry is a sorted set (score: when the socket opened) changed by one script per call, so
# workers registering at once cannot lose each other's sockets. The database cache serves one process
# only (several workers need Redis for the channel layer anyway), where a lock makes each change whole.
_REGISTER = """
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if over > 0 then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, over - 1)
  return oldest
end
return {}
"""
_local_lock = threading.Lock()


def _redis_client(key: str) -> tuple[Any, str] | None:
    """The Redis connection behind the shared cache and the key as stored there, or None off Redis."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    full_key = backend.make_and_validate_key(key)
    return backend._cache.get_client(full_key, write=True), full_key


def register_socket(user_id: int, channel_name: str) -> list[str]:
    """Record an open socket; returns the channel names that must now be closed (the oldest ones)."""
    key = _sockets_key(user_id)
    redis = _redis_client(key)
    if redis is not None:
        client, full_key = redis
        evicted = client.eval(
            _REGISTER, 1, full_key, time.time(), channel_name, settings.BOWOUT_OPEN_SOCKETS, SOCKETS_TTL
        )
        return [name.decode() if isinstance(name, bytes) else name for name in evicted]
    with _local_lock:
        open_ = [name for name in cache.get(key, []) if name != channel_name] + [channel_name]
        overflow = len(open_) - settings.BOWOUT_OPEN_SOCKETS
        evicted, kept = (open_[:overflow], open_[overflow:]) if overflow > 0 else ([], open_)
        cache.set(key, kept, timeout=SOCKETS_TTL)
    return evicted


def unregister_socket(user_id: int, channel_name: str) -> None:
    key = _sockets_key(user_id)
    redis = _redis_client(key)
    if redis is not None:
        client, full_key = redis
        client.zrem(full_key, channel_name)
        return
    with _local_lock:
        open_ = cache.get(key, [])
        if channel_name in open_:
            cache.set(key, [name for name in open_ if name != channel_name], timeout=SOCKETS_TTL)
