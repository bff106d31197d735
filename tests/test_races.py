"""Racing sends against an end: none may be accepted after the end commits. Real threads, each with its
own database connection, on SQLite (IMMEDIATE transactions) and on PostgreSQL when DATABASE_URL is set."""

import random
import threading
import time
import uuid

import pytest
from django.db import connection

from chat import flow
from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

SENDERS = 8
# A bound on how long a sender keeps trying, not on how many times: with persistent connections a
# refused send takes well under a millisecond, and a count ran out before the end came.
SEND_FOR_SECONDS = 30
ACCEPTED_BEFORE_END = 3


@pytest.fixture(autouse=True)
def roomy_quotas(settings):
    """The senders here race the end, not the per-user quotas (tests/test_quotas.py)."""
    settings.BOWOUT_MESSAGES_PER_MINUTE = 1_000_000
    settings.BOWOUT_CONCURRENT_REPLIES = 1_000_000


def test_no_send_is_accepted_after_an_end(alice, conversation):
    start = threading.Barrier(SENDERS + 1)
    enough_accepted = threading.Event()
    accepted: list[Message] = []
    refused_after_end = []
    lock = threading.Lock()

    def sender() -> None:
        try:
            start.wait()
            # Keep sending until the end refuses us, so sends surely race the end however the threads run.
            deadline = time.monotonic() + SEND_FOR_SECONDS
            while time.monotonic() < deadline:
                try:
                    posted = flow.post_user_message(alice, conversation.pk, "racing", uuid.uuid4())
                    with lock:
                        accepted.append(posted.user_message)
                        if len(accepted) >= ACCEPTED_BEFORE_END:
                            enough_accepted.set()
                    # Free the one-reply-at-a-time slot the way a user would: Stop.
                    flow.request_stop(alice, conversation.pk)
                except flow.ReplyInProgress:
                    pass
                except flow.ConversationEnded:
                    with lock:
                        refused_after_end.append(1)
                    return
        finally:
            connection.close()

    def ender() -> None:
        try:
            start.wait()
            enough_accepted.wait(timeout=30)
            threading.Event().wait(random.uniform(0, 0.02))
            flow.end_by_user(alice, conversation.pk, "racing the senders")
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(SENDERS)] + [threading.Thread(target=ender)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    conversation.refresh_from_db()
    assert conversation.is_ended
    saved_user_messages = list(conversation.messages.filter(role="user"))
    # Every accepted send is saved, every saved message was accepted, and none is later than the end.
    assert {m.pk for m in saved_user_messages} == {m.pk for m in accepted}
    assert all(m.created_at <= conversation.ended_at for m in saved_user_messages)
    assert not conversation.messages.filter(created_at__gt=conversation.ended_at).exists()
    assert len(accepted) >= ACCEPTED_BEFORE_END
    assert len(refused_after_end) == SENDERS  # every sender ran into the end and was refused
    assert not conversation.messages.filter(status=Message.Status.STREAMING).exists()


def test_two_tabs_sending_at_once_get_one_reply(alice, conversation):
    start = threading.Barrier(2)
    outcomes = []

    def send(text: str) -> None:
        try:
            start.wait()
            flow.post_user_message(alice, conversation.pk, text, uuid.uuid4())
            outcomes.append("accepted")
        except flow.ReplyInProgress:
            outcomes.append("wait")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(f"tab {n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "wait"]
    assert conversation.messages.filter(role="user").count() == 1
    assert conversation.messages.filter(status=Message.Status.STREAMING).count() == 1
