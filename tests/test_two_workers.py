"""Two real server processes on loopback, sharing PostgreSQL and Redis, as `make serve` runs them: what one
worker does reaches the tabs of the other. Runs in the PostgreSQL + Redis pass; skipped on SQLite."""

import os
import threading
import time
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import reply_finished
from tests.live_server import Server, Visitor, migrate, server_env, streaming_text

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not settings.REDIS_URL,
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: two workers share them",
)


POOL_SIZE = 3  # connections each worker may hold: small, so a burst of replies reaches it


def connections_to(database_prefix: str) -> int:
    admin_url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname LIKE %s", [database_prefix + "%"]
        ).fetchone()
    return row[0] if row else 0


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Servers A and B on their own fresh database, the suite's Redis."""
    admin_url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    name = f"bowout_two_workers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = server_env(
        DATABASE_URL=settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + name,
        REDIS_URL=settings.REDIS_URL,
        BOWOUT_DRAIN_SECONDS="0.5",
        # Low enough for the quota test to reach; the other tests send at most two messages a user.
        BOWOUT_MESSAGES_PER_MINUTE="3",
        BOWOUT_DB_POOL_SIZE=str(POOL_SIZE),
    )
    workdir = tmp_path_factory.mktemp("two-workers")
    servers = [Server(env, workdir / "a.log"), Server(env, workdir / "b.log")]
    try:
        migrate(env)
        yield [server.start() for server in servers]
    finally:
        for server in servers:
            server.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_reply_streamed_by_one_worker_reaches_a_tab_on_the_other(deployment):
    a, b = deployment
    visitor = Visitor(a)
    conversation = visitor.new_chat(a)
    tab_on_a = visitor.socket(a, conversation)
    tab_on_b = visitor.socket(b, conversation)
    try:
        tab_on_a.say("How do tides work?")
        tab_on_b.receive_until(lambda frame: "How do tides work?" in frame)
        tab_on_b.receive_until(streaming_text)
        finished = tab_on_b.receive_until(lambda frame: 'data-status="complete"' in frame, timeout=30)
        assert "tide" in finished.lower()
    finally:
        tab_on_a.close()
        tab_on_b.close()
    # The page served by the other worker shows the whole reply, saved.
    assert 'data-status="complete"' in visitor.page(b, conversation)


def test_an_end_through_one_worker_closes_the_composer_on_the_other_and_refuses_its_sends(deployment):
    a, b = deployment
    visitor = Visitor(a)
    conversation = visitor.new_chat(a)
    tab_on_b = visitor.socket(b, conversation)
    try:
        ended = visitor.post(a, f"/c/{conversation}/end/", {"note": "Done here"}, page=f"/c/{conversation}/")
        assert ended.status_code == 302
        banner = tab_on_b.receive_until(lambda frame: 'data-role="ended-banner"' in frame)
        assert 'id="composer"' not in banner
        tab_on_b.say("One more thing")
        refused = tab_on_b.receive_until(lambda frame: "This conversation has ended" in frame)
        assert "nothing more can be added" in refused
    finally:
        tab_on_b.close()
    page = visitor.page(b, conversation)
    assert "One more thing" not in page
    assert 'data-role="ended-banner"' in page


def test_a_worker_stopped_mid_reply_tells_the_tabs_on_the_other_worker(deployment):
    a, b = deployment
    visitor = Visitor(a)
    conversation = visitor.new_chat(a)
    tab_on_a = visitor.socket(a, conversation)
    tab_on_b = visitor.socket(b, conversation)
    try:
        tab_on_a.say("[fault:slow] a long story please")
        tab_on_b.receive_until(streaming_text)
        a.terminate()
        interrupted = tab_on_b.receive_until(lambda frame: 'data-status="interrupted"' in frame)
        assert "Bowout restarted while Claude was writing — Retry" in interrupted
        # The other worker takes the chat on at once: Retry there streams a new reply.
        tab_on_b.send(action="retry", message_id=interrupted.split('id="msg-', 1)[1].split('"', 1)[0])
        tab_on_b.receive_until(streaming_text)
        tab_on_b.send(action="stop")
        tab_on_b.receive_until(lambda frame: 'data-status="stopped"' in frame)
    finally:
        tab_on_a.close()
        tab_on_b.close()
        a.start()  # the deployment as the next test expects it


def test_a_quota_counted_on_one_worker_holds_on_the_other(deployment):
    a, b = deployment
    visitor = Visitor(a)
    conversation = visitor.new_chat(a)
    tab_on_a = visitor.socket(a, conversation)
    tab_on_b = visitor.socket(b, conversation)
    try:
        for number in range(3):
            tab_on_a.say(f"Question number {number}?")
            tab_on_a.receive_until(reply_finished, timeout=30)
        tab_on_b.say("One more through the other worker?")
        refused = tab_on_b.receive_until(lambda frame: "messages in a minute" in frame)
        assert "You can send again in" in refused
    finally:
        tab_on_a.close()
        tab_on_b.close()
    assert "One more through the other worker?" not in visitor.page(b, conversation)


def test_the_open_socket_limit_holds_across_workers_opened_at_once(deployment):
    """Twenty-four tabs of one person opening at the same moment on both workers: at most the limit (10)
    stay open, the rest are told why and closed."""
    from concurrent.futures import ThreadPoolExecutor

    from websockets.protocol import State

    a, b = deployment
    visitor = Visitor(a)
    conversation = visitor.new_chat(a)
    with ThreadPoolExecutor(max_workers=24) as pool:
        tabs = list(pool.map(lambda n: visitor.socket((a, b)[n % 2], conversation), range(24)))
    try:
        time.sleep(3)  # evictions reach their sockets
        still_open = sum(tab.connection.protocol.state is State.OPEN for tab in tabs)
        assert still_open <= settings.BOWOUT_OPEN_SOCKETS == 10
        assert still_open >= 1
    finally:
        for tab in tabs:
            tab.close()


def test_each_worker_holds_no_more_database_connections_than_its_pool(deployment):
    """BOWOUT_DB_POOL_SIZE is a worker's ceiling: replies started on both workers at once, more of them
    than the pools have connections, all finish, and PostgreSQL never sees more than the two pools."""
    a, b = deployment
    tabs = []
    for server in (a, b) * 4:
        visitor = Visitor(server)
        tabs.append(visitor.socket(server, visitor.new_chat(server)))
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, connections_to(f"bowout_two_workers_{os.getpid()}_"))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        for tab in tabs:
            tab.say("How do tides work?")
        for tab in tabs:
            assert "tide" in tab.receive_until(lambda f: 'data-status="complete"' in f, timeout=60).lower()
    finally:
        done.set()
        sampler.join()
        for tab in tabs:
            tab.close()
    assert 0 < peak <= 2 * POOL_SIZE
