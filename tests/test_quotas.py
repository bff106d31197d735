"""Per-user quotas: over a limit the user is told why and when they can go on, nothing saved is lost and no
model call is made; the counts live in the shared cache, so another process sees them."""

import asyncio
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse

from chat import close_codes, flow, quotas
from chat.models import Conversation, Message, UserRequest
from tests.conftest import reply_finished, stream_frame

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


def contents(conversation) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in conversation.messages.order_by("id")]


def is_error(frame: str) -> bool:
    return 'id="composer-error"' in frame and "<p>" in frame


async def send_and_finish(tab, text: str) -> None:
    await tab.send(text=text, client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)


async def test_the_socket_refuses_a_message_over_the_per_minute_limit(
    alice, conversation, open_socket, settings
):
    settings.BOWOUT_MESSAGES_PER_MINUTE = 2
    _, tab = await open_socket(alice, conversation.pk)
    await send_and_finish(tab, "Hello")
    await send_and_finish(tab, "How do tides work?")

    await tab.send(text="One more", client_id=str(uuid.uuid4()))
    frame = await tab.receive_until(is_error)
    assert "You have sent 2 messages in a minute, the most allowed." in frame
    assert "You can send again in " in frame and " UTC)" in frame

    saved = await sync_to_async(contents)(conversation)
    assert [role for role, _ in saved] == ["user", "assistant", "user", "assistant"]
    assert "One more" not in [text for _, text in saved]


def test_http_refuses_over_the_limit_with_429_and_keeps_the_draft(
    alice_client, alice, conversation, settings
):
    settings.BOWOUT_MESSAGES_PER_MINUTE = 1
    url = reverse("chat:post_message", args=[conversation.pk])
    assert alice_client.post(url, {"text": "Hello"}).status_code == 302
    response = alice_client.post(url, {"text": "A second message"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "You have sent 1 messages in a minute" in html and "You can send again in" in html
    assert ">A second message</textarea>" in html
    assert conversation.messages.count() == 2  # the first message and its reply, nothing more


def test_retry_and_edit_count_as_model_calls(alice_client, alice, conversation, settings):
    settings.BOWOUT_MESSAGES_PER_MINUTE = 1
    first = Message.objects.create(conversation=conversation, role="user", content="Hello")
    failed = Message.objects.create(
        conversation=conversation, role="assistant", status="failed", error="Overloaded"
    )
    other = Conversation.objects.create(user=alice)
    assert alice_client.post(reverse("chat:post_message", args=[other.pk]), {"text": "Hi"}).status_code == 302

    retry = alice_client.post(reverse("chat:retry", args=[conversation.pk]), {"message_id": failed.pk})
    assert retry.status_code == 429 and "messages in a minute" in retry.content.decode()
    edit = alice_client.post(reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": "Hello again"})
    assert edit.status_code == 429 and "messages in a minute" in edit.content.decode()
    assert conversation.messages.count() == 2  # no new reply
    assert Conversation.objects.filter(user=alice).count() == 2  # no branch


def test_a_reply_in_another_chat_counts_towards_concurrent_replies(
    alice_client, alice, conversation, settings
):
    settings.BOWOUT_CONCURRENT_REPLIES = 1
    elsewhere = Conversation.objects.create(user=alice, title="Elsewhere")
    Message.objects.create(conversation=elsewhere, role="user", content="Write a long story")
    Message.objects.create(conversation=elsewhere, role="assistant", status="streaming")

    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "Hello"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "Claude is already writing replies in 1 of your chats" in html
    assert "as soon as one of them finishes" in html
    assert conversation.messages.count() == 0


def test_tokens_per_day_are_counted_from_saved_replies(alice_client, alice, conversation, settings):
    settings.BOWOUT_TOKENS_PER_DAY = 1000
    earlier = Conversation.objects.create(user=alice)
    Message.objects.create(conversation=earlier, role="user", content="Hello")
    Message.objects.create(
        conversation=earlier, role="assistant", content="Hi", input_tokens=900, output_tokens=100
    )
    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "Hello"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "You have used today&#x27;s 1,000 model tokens." in html and "You can go on in " in html
    assert conversation.messages.count() == 0


def test_prompt_cache_tokens_count_towards_the_day(alice_client, alice, conversation, settings):
    """With caching on, most of a turn's input is read from the cache: it is still the model's work."""
    settings.BOWOUT_TOKENS_PER_DAY = 1000
    earlier = Conversation.objects.create(user=alice)
    Message.objects.create(conversation=earlier, role="user", content="Hello")
    Message.objects.create(
        conversation=earlier,
        role="assistant",
        content="Hi",
        input_tokens=5,
        cache_read_tokens=800,
        cache_creation_tokens=100,
        output_tokens=100,
    )
    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "Hello"})
    assert response.status_code == 429
    assert conversation.messages.count() == 0


def test_messages_copied_into_a_branch_are_not_counted_twice(alice_client, alice, conversation, settings):
    settings.BOWOUT_TOKENS_PER_DAY = 199_999
    first = Message.objects.create(conversation=conversation, role="user", content="Hello")
    Message.objects.create(
        conversation=conversation, role="assistant", content="Hi", input_tokens=90_000, output_tokens=10_000
    )
    edit = alice_client.post(reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": "Hello there"})
    assert edit.status_code == 302
    branch = Conversation.objects.get(parent=conversation)
    # The copy carries the same 100,000 tokens; counted twice, this send would be over the limit.
    send = alice_client.post(reverse("chat:post_message", args=[branch.pk]), {"text": "Go on"})
    assert send.status_code == 302
    assert branch.messages.filter(role="user", content="Go on").exists()


def test_new_chats_and_branches_per_hour(alice_client, alice, conversation, settings):
    settings.BOWOUT_NEW_CHATS_PER_HOUR = 1
    first = Message.objects.create(conversation=conversation, role="user", content="Hello")
    Message.objects.create(conversation=conversation, role="assistant", content="Hi")
    assert (
        alice_client.post(reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": "Hey"}).status_code
        == 302
    )
    assert Conversation.objects.filter(user=alice).count() == 2

    page = alice_client.post(reverse("chat:new"), follow=True)
    html = page.content.decode()
    assert "You have started 1 new chats or branches in an hour, the most allowed." in html
    assert "You can start another in " in html
    assert Conversation.objects.filter(user=alice).count() == 2

    again = alice_client.post(reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": "Hey you"})
    assert again.status_code == 429
    assert Conversation.objects.filter(user=alice).count() == 2


def test_a_quota_is_per_user(alice_client, bob, conversation, settings):
    settings.BOWOUT_MESSAGES_PER_MINUTE = 1
    assert (
        alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "Hi"}).status_code
        == 302
    )
    bobs = Conversation.objects.create(user=bob)
    client = Client()
    client.force_login(bob)
    assert client.post(reverse("chat:post_message", args=[bobs.pk]), {"text": "Hi"}).status_code == 302


async def test_opening_more_sockets_than_allowed_closes_the_oldest(
    alice, conversation, open_socket, settings
):
    settings.BOWOUT_OPEN_SOCKETS = 2
    _, oldest = await open_socket(alice, conversation.pk)
    _, middle = await open_socket(alice, conversation.pk)
    _, newest = await open_socket(alice, conversation.pk)

    frame = await oldest.receive()
    assert "This tab was disconnected because you opened 2 chats at once" in frame
    closed = await oldest.communicator.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": close_codes.FORBIDDEN}
    # The two newest still work.
    for tab in (middle, newest):
        await tab.send(action="stop")
        assert await tab.communicator.receive_nothing(timeout=0.2)
    await newest.send(text="Hello", client_id=str(uuid.uuid4()))
    assert 'data-role="user"' in await newest.receive()


def test_one_open_appeal_per_conversation_and_repeats_update_it(alice_client, alice, conversation):
    flow.end_by_user(alice, conversation.pk, "")
    url = reverse("chat:appeal", args=[conversation.pk])
    for text in ["Please look at this", "Please look at this again", "And again"]:
        assert alice_client.post(url, {"text": text}).status_code == 302
    feedback = reverse("chat:feedback", args=[conversation.pk])
    for text in ["Wrong", "Still wrong"]:
        assert alice_client.post(feedback, {"text": text, "mistaken": "1"}).status_code == 302
    appeals = UserRequest.objects.filter(conversation=conversation, kind=UserRequest.Kind.APPEAL)
    assert [a.text for a in appeals] == ["And again"]
    feedbacks = UserRequest.objects.filter(conversation=conversation, kind=UserRequest.Kind.END_FEEDBACK)
    assert [(f.text, f.end_was_mistake) for f in feedbacks] == [("Still wrong", True)]
    # Once staff resolve it, a new appeal opens a new request.
    appeals.update(status=UserRequest.Status.RESOLVED)
    alice_client.post(url, {"text": "New facts"})
    assert UserRequest.objects.filter(conversation=conversation, kind=UserRequest.Kind.APPEAL).count() == 2


def test_a_count_made_by_another_process_holds_here(alice_client, alice, conversation, settings):
    """Two workers share the cache: what one counted, the other refuses."""
    settings.BOWOUT_MESSAGES_PER_MINUTE = 2
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings", BOWOUT_MESSAGES_PER_MINUTE="2")
    database = django_settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        env["BOWOUT_SQLITE_PATH"] = database["NAME"]
    else:
        env["DATABASE_URL"] = (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        )
    script = (
        "import django; django.setup()\n"
        "from accounts.models import User; from chat import quotas\n"
        f"user = User.objects.get(pk={alice.pk})\n"
        "print([quotas.spend_model_call(user) is None for _ in range(2)])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, True]"

    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "Hello"})
    assert response.status_code == 429
    assert conversation.messages.count() == 0


def test_two_chats_sending_at_once_count_one_after_the_other(alice, conversation, settings):
    """Replies at once are counted under the user's row lock, so a race cannot slip past the limit."""
    settings.BOWOUT_CONCURRENT_REPLIES = 1
    chats = [conversation, Conversation.objects.create(user=alice)]
    start = threading.Barrier(len(chats))
    outcomes: list[str] = []

    def send(chat) -> None:
        try:
            start.wait()
            flow.post_user_message(alice, chat.pk, "racing", uuid.uuid4())
            outcomes.append("accepted")
        except flow.QuotaExceeded:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(chat,)) for chat in chats]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["accepted", "refused"]
    assert Message.objects.filter(conversation__user=alice, status="streaming").count() == 1


async def test_a_stopped_reply_is_charged_for_what_the_model_was_asked_to_process(
    alice, conversation, open_socket, settings
):
    """Send, then Stop at the first words: the model had read the whole request (message_start's usage
    says how much) and written some words; the day's quota counts both, and holds the next send."""
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="[fault:slow] " + "Tell me a very long story. " * 200, client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)
    await tab.send(action="stop")
    await tab.receive_until(lambda frame: 'data-status="stopped"' in frame)

    reply = await Message.objects.aget(conversation=conversation, role="assistant")
    assert reply.input_tokens + reply.cache_creation_tokens + reply.cache_read_tokens > 1000  # the prompt
    assert reply.output_tokens > 0  # the words streamed before Stop
    used = await sync_to_async(quotas.tokens_used_today)(alice)
    assert (
        used
        == reply.input_tokens + reply.cache_creation_tokens + reply.cache_read_tokens + reply.output_tokens
    )

    settings.BOWOUT_TOKENS_PER_DAY = used
    await tab.send(text="Another one", client_id=str(uuid.uuid4()))
    frame = await tab.receive_until(is_error)
    assert "You have used today" in frame


def test_thumbs_down_and_feedback_are_limited_per_minute(alice_client, alice, conversation, settings):
    settings.BOWOUT_FEEDBACK_PER_MINUTE = 3
    Message.objects.create(conversation=conversation, role="user", content="Hello")
    reply = Message.objects.create(
        conversation=conversation, role="assistant", content="Hi", status="complete"
    )
    url = reverse("chat:rate", args=[conversation.pk, reply.pk])
    statuses = [alice_client.post(url, {"rating": rating}).status_code for rating in ["down", "up", "down"]]
    assert statuses == [302, 302, 302]
    refused = alice_client.post(url, {"rating": "down"})
    assert refused.status_code == 429
    assert "ratings or feedback notes in a minute" in refused.content.decode()
    assert "You can send more in " in refused.content.decode()


def test_sixteen_new_chat_clicks_at_once_make_one_chat(alice, settings):
    """Sixteen tabs pressing New chat at the same moment: one empty chat, which every tab is sent to."""
    clicks = 16
    start = threading.Barrier(clicks)
    locations: list[str] = []

    def click() -> None:
        try:
            client = Client()
            client.force_login(alice)
            # Back to the pool before waiting: sixteen waiting tabs must not hold more connections than
            # a worker's pool has (PostgreSQL), or the ones that wait for a connection never reach the start.
            connection.close()
            start.wait(timeout=60)
            locations.append(client.post(reverse("chat:new")).headers["Location"])
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(locations) == clicks
    assert Conversation.objects.filter(user=alice).count() == 1
    assert len(set(locations)) == 1


async def test_a_tab_asking_for_the_whole_text_again_and_again_is_answered_once_a_second(
    alice, conversation, open_socket
):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="[fault:slow] a long story please", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)
    for _ in range(50):
        await tab.send(action="resync")
    await asyncio.sleep(0.5)  # the writer answers what it was asked
    await tab.send(action="stop")
    await tab.receive_until(lambda frame: 'data-status="stopped"' in frame)
    assert sum('"whole":true' in frame for frame in tab.frames) == 1


async def test_a_quick_run_of_short_messages_is_never_limited(alice, conversation, open_socket):
    """Ordinary quick use with the default limits: twenty short messages in well under a minute."""
    _, tab = await open_socket(alice, conversation.pk)
    for text in ["ok", "thanks", "and?", "go on", "why?"] * 4:
        await send_and_finish(tab, text)
    assert not any(is_error(frame) for frame in tab.frames)
    assert await Message.objects.filter(conversation=conversation, role="user").acount() == 20
