"""PostgreSQL connections under load: N uvicorn workers with BOWOUT_DB_POOL_SIZE each, many visitors
loading pages and starting chats at once. Prints the most connections PostgreSQL saw for the database
and the count of HTTP 500s. Needs PostgreSQL and Redis (PG_URL, REDIS_URL as in the Makefile).

    .venv/bin/python benchmarks/db_pool.py [--workers 2] [--pool 5] [--visitors 60] [--seconds 20]
"""

import argparse
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tests.live_server  # noqa: E402
from tests.live_server import Server, Visitor, migrate, server_env  # noqa: E402

tests.live_server.START_TIMEOUT = 120  # several workers start slower than one


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pool", type=int, default=5)
    parser.add_argument("--visitors", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    base = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/bowout").rsplit("/", 1)[0]
    name = f"bowout_pool_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(base + "/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = server_env(
        DATABASE_URL=f"{base}/{name}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/7"),
        BOWOUT_DB_POOL_SIZE=str(args.pool),
        BOWOUT_MESSAGES_PER_MINUTE="1000",
        BOWOUT_NEW_CHATS_PER_HOUR="100000",
    )
    migrate(env)
    log = Path(f"/tmp/{name}.log")
    server = Server(env, log)
    server.extra_args = ["--workers", str(args.workers)]
    server.start()
    peak, errors, requests = 0, 0, 0
    lock = threading.Lock()
    stop = 0.0
    try:
        visitors = [Visitor(server) for _ in range(min(args.visitors, 15))]  # signup is rate limited per IP

        def load(visitor: Visitor) -> None:
            nonlocal errors, requests
            chat = visitor.new_chat(server)
            while time.monotonic() < stop:
                status = visitor.http.get(f"/c/{chat}/").status_code
                with lock:
                    requests += 1
                    errors += status >= 500

        stop = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=load, args=(visitors[n % len(visitors)],)) for n in range(args.visitors)
        ]
        for thread in threads:
            thread.start()
        with psycopg.connect(base + "/postgres", autocommit=True) as watcher:
            while any(thread.is_alive() for thread in threads):
                count = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
                ).fetchone()
                peak = max(peak, count[0] if count else 0)
                time.sleep(0.05)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.terminate()  # SIGTERM: uvicorn stops its worker processes too (SIGKILL would orphan them)
        server.stop()
        with psycopg.connect(base + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"workers={args.workers} pool={args.pool} ceiling={args.workers * args.pool} visitors={args.visitors} "
        f"requests={requests} http_500={errors} peak_postgres_connections={peak}"
    )


if __name__ == "__main__":
    main()
