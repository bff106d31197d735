"""How the async side (the socket consumer, the reply task) reaches the database.

Channels' `database_sync_to_async` runs every call of a process on one thread, so a burst of sends
waited in one line, each for its own round trips to the database (the PostgreSQL + Redis profile: the
database thread mostly waiting on PostgreSQL, and the first words waiting on it). With a connection
pool (PostgreSQL, config/settings.py) calls run on up to BOWOUT_DB_POOL_SIZE threads at once, each with a
pooled connection it hands back when the call ends (CONN_MAX_AGE is 0 with a pool): a worker never holds
more than BOWOUT_DB_POOL_SIZE connections, and its sends no longer wait for each other. SQLite, which
takes one writer at a time anyway, keeps the one thread.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import DatabaseSyncToAsync, database_sync_to_async
from django.conf import settings
from django.db import connections

_executor: ThreadPoolExecutor | None = None


def is_pooled() -> bool:
    return bool(connections["default"].settings_dict.get("OPTIONS", {}).get("pool"))


def _threads() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        # No more threads than pooled connections: a thread never waits for a connection.
        _executor = ThreadPoolExecutor(settings.BOWOUT_DB_POOL_SIZE, thread_name_prefix="bowout-db")
    return _executor


def in_database(func: Callable[..., Any]) -> Callable[..., Any]:
    """`database_sync_to_async(func)`, on the pool's threads when there is a pool."""
    if is_pooled():
        return DatabaseSyncToAsync(func, thread_sensitive=False, executor=_threads())
    return database_sync_to_async(func)
