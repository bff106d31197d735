"""Bowout's ASGI application as `make bench` serves it, plus a count of database statements.

Every statement this worker runs is counted, and every INSERT, UPDATE and DELETE again as a write (an
execute wrapper on each connection); the counts are written to $BENCH_STATS_DIR/writes-<pid>.json twice a
second, so the harness can sum them over workers. Nothing else differs from config.asgi.
"""

import json
import os
import threading
import time
from pathlib import Path

from django.db.backends.signals import connection_created

from config.asgi import application  # noqa: F401  (builds Django first)

_writes = 0
_queries = 0
_lock = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE")


def _count_writes(execute, sql, params, many, context):
    global _writes, _queries
    with _lock:
        _queries += 1
        if sql.lstrip()[:6].upper() in _WRITES:
            _writes += 1
    return execute(sql, params, many, context)


def _on_connection(sender, connection, **kwargs) -> None:
    if _count_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_writes)


connection_created.connect(_on_connection)


def _dump_forever(directory: Path) -> None:
    path, written = directory / f"writes-{os.getpid()}.json", (-1, -1)
    while True:
        if (_writes, _queries) != written:
            written = (_writes, _queries)
            path.write_text(json.dumps({"writes": written[0], "queries": written[1]}))
        time.sleep(0.5)


if os.environ.get("BENCH_STATS_DIR"):
    threading.Thread(target=_dump_forever, args=(Path(os.environ["BENCH_STATS_DIR"]),), daemon=True).start()
