"""A reply whose server died or stopped does not hold the chat hostage: real uvicorn processes are killed
(-9) or stopped (SIGTERM) mid-reply, restarted, and the page is read the way a person would see it."""

import re
import socket
import subprocess
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async

from chat.models import Message
from tests.live_server import Server, Visitor, migrate, reply_ids, server_env, streaming_text

RESTARTED = Message.WRITER_GONE_ERROR  # "Bowout restarted while Claude was writing — Retry"
WRITING = "Claude is writing…"


@pytest.fixture
def server(tmp_path):
    env = server_env(BOWOUT_SQLITE_PATH=str(tmp_path / "db.sqlite3"), BOWOUT_DRAIN_SECONDS="1")
    migrate(env)
    server = Server(env, tmp_path / "server.log")
    yield server.start()
    server.stop()


def _last_reply(html: str) -> str:
    """The HTML of the last message on the page."""
    return html[html.rindex('<article id="msg-') :]


def _start_slow_reply(visitor: Visitor, server: Server) -> tuple[str, object]:
    conversation = visitor.new_chat(server)
    tab = visitor.socket(server, conversation)
    tab.say("[fault:slow] tell me a long story")
    tab.receive_until(streaming_text)
    return conversation, tab


def test_a_reply_cut_by_kill_9_shows_interrupted_at_once_after_restart_and_retry_works(server):
    visitor = Visitor(server)
    conversation, tab = _start_slow_reply(visitor, server)
    tab.receive_until(streaming_text)  # a few words are saved
    server.kill()
    tab.close()

    server.start()
    began = time.monotonic()
    page = visitor.page(server, conversation)
    shown_after = time.monotonic() - began

    last = _last_reply(page)
    assert RESTARTED in last
    assert WRITING not in page
    assert re.search(r'name="action" value="retry"', last) and ">Retry</button>" in last
    assert shown_after < 5, f"the page took {shown_after:.1f} s"
    assert 'data-status="interrupted"' in last

    # Retry streams a new reply through the restarted server, and the chat takes messages again after it.
    tab = visitor.socket(server, conversation)
    [interrupted_id] = reply_ids(last)
    tab.send(action="retry", message_id=str(interrupted_id))
    tab.receive_until(streaming_text)
    tab.send(action="stop")
    tab.receive_until(lambda frame: 'data-status="stopped"' in frame)
    tab.say("Thanks, that is enough")
    tab.receive_until(lambda frame: 'data-status="complete"' in frame, timeout=30)
    tab.close()
    page = visitor.page(server, conversation)
    assert page.count('data-role="assistant"') == 3
    assert "Thanks, that is enough" in page


def test_a_socket_connecting_after_a_kill_gets_the_reply_interrupted(server):
    visitor = Visitor(server)
    conversation, tab = _start_slow_reply(visitor, server)
    server.kill()
    tab.close()

    server.start()
    tab = visitor.socket(server, conversation)
    snapshot = tab.receive_until(lambda frame: 'id="messages"' in frame or "msg-" in frame)
    assert RESTARTED in snapshot
    # The composer is free: a new message is accepted, not refused as "still writing".
    tab.say("Are you back?")
    tab.receive_until(lambda frame: 'data-status="complete"' in frame, timeout=30)
    tab.close()


def test_sigterm_interrupts_a_long_reply_after_the_drain_timeout_and_keeps_its_text(server):
    visitor = Visitor(server)
    conversation, tab = _start_slow_reply(visitor, server)
    took = server.terminate()
    tab.close()
    assert took < 15, f"shutdown took {took:.1f} s with a 1 s drain"
    assert "Draining 1 streaming reply" in server.log()

    server.start()
    began = time.monotonic()
    last = _last_reply(visitor.page(server, conversation))
    assert time.monotonic() - began < 5
    assert 'data-status="interrupted"' in last
    assert RESTARTED in last
    body = re.search(r'id="msg-\d+-body">(.*?)</div>', last, re.S).group(1)
    assert body.strip(), "the words written before the shutdown are kept"


def test_sigterm_lets_a_short_reply_finish_before_the_server_exits(tmp_path):
    env = server_env(BOWOUT_SQLITE_PATH=str(tmp_path / "db.sqlite3"), BOWOUT_DRAIN_SECONDS="30")
    migrate(env)
    server = Server(env, tmp_path / "server.log").start()
    try:
        visitor = Visitor(server)
        conversation = visitor.new_chat(server)
        tab = visitor.socket(server, conversation)
        tab.say("How do tides work?")
        tab.receive_until(streaming_text)
        server.terminate()
        tab.close()
        server.start()
        last = _last_reply(visitor.page(server, conversation))
        assert 'data-status="complete"' in last
        assert RESTARTED not in last
    finally:
        server.stop()


# --- The liveness rule, on rows as a worker leaves them (both databases) ---------------------------


@pytest.fixture
def streaming_reply(conversation):
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content="Tell me a story")
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        content="Once upon a time",
    )


def _stamp(reply: Message, writer: str, seconds_ago: float) -> None:
    from datetime import timedelta

    from django.utils import timezone

    Message.objects.filter(pk=reply.pk).update(
        writer=writer, heartbeat_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


@pytest.mark.django_db(transaction=True)
def test_a_reply_written_by_a_live_worker_on_another_host_stays_writing(alice_client, streaming_reply):
    _stamp(streaming_reply, "other-host:4242:abc", seconds_ago=1)
    page = alice_client.get(f"/c/{streaming_reply.conversation_id}/").content.decode()
    assert WRITING in page
    assert RESTARTED not in page


@pytest.mark.django_db(transaction=True)
def test_a_reply_whose_writer_stopped_beating_is_interrupted_on_page_load(
    alice_client, streaming_reply, settings
):
    settings.BOWOUT_HEARTBEAT_SECONDS = 5
    _stamp(streaming_reply, "other-host:4242:abc", seconds_ago=16)
    page = alice_client.get(f"/c/{streaming_reply.conversation_id}/").content.decode()
    assert RESTARTED in page and WRITING not in page
    assert "Once upon a time" in page
    # ...and the chat takes a message at once.
    response = alice_client.post(f"/c/{streaming_reply.conversation_id}/messages/", {"text": "Hello again"})
    assert response.status_code == 302


@pytest.fixture
def dead_pid() -> int:
    """A process of this host that has exited and been reaped."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.django_db(transaction=True)
async def test_a_socket_connect_interrupts_a_reply_of_a_dead_process_on_this_host(
    alice, streaming_reply, open_socket, dead_pid
):
    await sync_to_async(_stamp)(streaming_reply, f"{socket.gethostname()}:{dead_pid}:abc", seconds_ago=0)
    connected, tab = await open_socket(alice, streaming_reply.conversation_id)
    assert connected
    assert RESTARTED in tab.snapshot
    assert 'data-role="writing"' not in tab.snapshot


@pytest.mark.django_db(transaction=True)
async def test_a_reply_its_worker_keeps_writing_is_never_taken_for_orphaned(
    alice, conversation, open_socket, settings
):
    import asyncio

    from tests.conftest import reply_finished, stream_frame

    settings.BOWOUT_HEARTBEAT_SECONDS = 0.1  # stale after 0.3 s without a stamp
    connected, tab = await open_socket(alice, conversation.pk)
    await tab.send(action="send", text="[fault:slow] a long story please")
    await tab.receive_until(stream_frame)
    await asyncio.sleep(1.0)  # several heartbeats: without them the reply would look orphaned by now

    page = await sync_to_async(_page_of)(alice, conversation.pk)
    assert WRITING in page and RESTARTED not in page
    connected, other_tab = await open_socket(alice, conversation.pk)
    assert RESTARTED not in other_tab.snapshot
    await tab.send(action="stop")
    await tab.receive_until(reply_finished)


def _page_of(user, conversation_id) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/c/{conversation_id}/").content.decode()


@pytest.mark.django_db  # only so the shared cache table can be emptied afterwards
def test_a_reply_started_over_http_keeps_the_workers_heartbeat_going(tmp_path):
    """The no-JavaScript send starts its reply from a view whose executor quits with the response: the
    worker's heartbeat must not go with it, or after three missed beats every reply on the worker, other
    users' too, is taken for orphaned and interrupted."""
    env = server_env(BOWOUT_SQLITE_PATH=str(tmp_path / "db.sqlite3"), BOWOUT_HEARTBEAT_SECONDS="0.3")
    migrate(env)
    server = Server(env, tmp_path / "server.log").start()
    try:
        visitor = Visitor(server)
        conversation = visitor.new_chat(server)
        sent: list[int] = []
        without_javascript = threading.Thread(
            target=lambda: sent.append(
                visitor.post(
                    server,
                    f"/c/{conversation}/messages/",
                    {"text": "Hello there", "client_id": str(uuid.uuid4())},
                    page=f"/c/{conversation}/",
                ).status_code
            )
        )
        without_javascript.start()
        time.sleep(0.3)  # the send's reply is streaming: this worker's heartbeat started with it

        someone_else = Visitor(server)
        other_conversation, other_tab = _start_slow_reply(someone_else, server)
        without_javascript.join(timeout=30)
        assert sent == [302]  # the reply is written and the response sent: the view's executor is gone
        time.sleep(2.0)  # more than six heartbeats, twice the three that mark a writer gone
        last = _last_reply(someone_else.page(server, other_conversation))
        assert 'data-status="streaming"' in last, last[:300]
        assert RESTARTED not in last
        other_tab.close()
    finally:
        server.stop()
    assert "Heartbeat of replies" not in server.log(400)
