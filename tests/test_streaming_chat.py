"""The main flow: a message sent over the websocket, a reply streamed from the offline model through
the real SDK, fragments reaching every open tab, and everything saved."""

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async

from chat.models import Message
from tests.conftest import reply_finished, stream_frame

pytestmark = pytest.mark.django_db(transaction=True)


def saved(conversation):
    return list(conversation.messages.order_by("id"))


async def test_a_sent_message_streams_a_reply_that_is_saved_with_usage(alice, conversation, open_socket):
    connected, tab = await open_socket(alice, conversation.pk)
    assert connected

    await tab.send(action="send", text="How do tides work?", client_id=str(uuid.uuid4()))

    first = await tab.receive()
    assert 'data-role="user"' in first and "How do tides work?" in first
    assert 'data-status="streaming"' in first  # the empty reply is announced at once
    final = await tab.receive_until(reply_finished)
    streamed = [f for f in tab.frames if stream_frame(f)]
    assert streamed, "the reply should arrive in pieces before it is finished"

    user_message, reply = await sync_to_async(saved)(conversation)
    assert user_message.role == "user" and user_message.content == "How do tides work?"
    assert reply.role == "assistant"
    assert reply.status == Message.Status.COMPLETE
    assert reply.stop_reason == "end_turn"
    assert len(reply.content.split()) > 10 and "How do tides work?" not in reply.content
    assert reply.input_tokens > 0 and reply.output_tokens > 0
    assert reply.model_name
    assert 'data-status="complete"' in final


async def test_the_title_is_set_from_the_first_message(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Plan a three day trip to Lisbon", client_id=str(uuid.uuid4()))
    first = await tab.receive()
    assert 'id="conversation-title"' in first and "Plan a three day trip to Lisbon" in first
    await tab.receive_until(reply_finished)
    await sync_to_async(conversation.refresh_from_db)()
    assert conversation.title == "Plan a three day trip to Lisbon"


async def test_a_second_tab_sees_the_same_stream(alice, conversation, open_socket):
    _, tab1 = await open_socket(alice, conversation.pk)
    _, tab2 = await open_socket(alice, conversation.pk)

    await tab1.send(text="Tell me about owls", client_id=str(uuid.uuid4()))

    seen_by_2 = await tab2.receive_until(reply_finished)
    assert "Tell me about owls" in tab2.frames[0]
    assert 'data-status="complete"' in seen_by_2
    await tab1.receive_until(reply_finished)


async def test_a_resent_message_is_not_a_second_message(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    client_id = str(uuid.uuid4())
    await tab.send(text="Hello there", client_id=client_id)
    await tab.receive_until(reply_finished)

    # htmx resends queued frames after a reconnect: the same id again.
    _, reconnected = await open_socket(alice, conversation.pk)
    await reconnected.send(text="Hello there", client_id=client_id)
    resync = await reconnected.receive()
    assert 'id="messages"' in resync  # the tab is brought up to date instead

    messages = await sync_to_async(saved)(conversation)
    assert [m.role for m in messages] == ["user", "assistant"]


async def test_one_reply_at_a_time(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write something long [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive()  # the user message and the empty reply

    await tab.send(text="And another thing", client_id=str(uuid.uuid4()))
    error = await tab.receive_until(lambda f: 'id="composer-error"' in f)
    assert "still writing a reply" in error

    await tab.send(action="stop")
    await tab.receive_until(reply_finished)
    messages = await sync_to_async(saved)(conversation)
    assert [m.content for m in messages if m.role == "user"] == ["Write something long [fault:slow]"]


async def test_stop_keeps_the_text_so_far_and_marks_it_stopped(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write an essay [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)

    await tab.send(action="stop")
    final = await tab.receive_until(reply_finished)

    assert 'data-status="stopped"' in final and "Stopped" in final
    reply = await sync_to_async(lambda: conversation.messages.get(role="assistant"))()
    assert reply.status == Message.Status.STOPPED
    assert reply.content  # the text written before Stop is kept
    assert not reply.error
    # The slow script would write ~400 words; Stop cut it short.
    assert len(reply.content.split()) < 400


async def test_a_closed_tab_loses_nothing(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Explain photosynthesis", client_id=str(uuid.uuid4()))
    await tab.receive()
    await tab.close()

    async def reply_status():
        return await sync_to_async(lambda: conversation.messages.get(role="assistant").status)()

    async with asyncio.timeout(10):
        while await reply_status() == Message.Status.STREAMING:
            await asyncio.sleep(0.05)
    assert await reply_status() == Message.Status.COMPLETE


async def test_a_reconnecting_tab_is_shown_what_it_missed(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="What is a black hole?", client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)
    await tab.close()

    _, again = await open_socket(alice, conversation.pk)
    assert "What is a black hole?" in again.snapshot
    assert again.snapshot.count('data-role="assistant"') == 1
    assert 'data-status="complete"' in again.snapshot


@pytest.mark.parametrize(
    ("marker", "status", "words"),
    [
        ("[fault:overloaded]", Message.Status.FAILED, "overloaded"),
        ("[fault:server]", Message.Status.FAILED, "internal error"),
        ("[fault:midstream]", Message.Status.INTERRUPTED, "overloaded"),
        ("[fault:disconnect]", Message.Status.INTERRUPTED, "connection to Claude was lost"),
    ],
)
async def test_a_model_error_is_explained_and_can_be_retried(
    alice, conversation, open_socket, marker, status, words
):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text=f"Hello {marker}", client_id=str(uuid.uuid4()))
    final = await tab.receive_until(reply_finished)

    assert words in final and "Retry" in final
    failed = await sync_to_async(lambda: conversation.messages.get(role="assistant"))()
    assert failed.status == status
    assert words in failed.error


async def test_retry_after_the_model_service_comes_back(alice, conversation, open_socket, settings):
    settings.ANTHROPIC_BASE_URL = "http://127.0.0.1:9"  # nothing listens there: the service is down
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Are you there?", client_id=str(uuid.uuid4()))
    failed_frame = await tab.receive_until(reply_finished)
    assert "connection to Claude was lost" in failed_frame and "Retry" in failed_frame
    failed = await sync_to_async(lambda: conversation.messages.get(role="assistant"))()
    assert failed.status == Message.Status.FAILED and failed.content == ""

    settings.ANTHROPIC_BASE_URL = ""  # back to the offline model
    await tab.send(action="retry", message_id=str(failed.pk))
    retried = await tab.receive_until(lambda f: reply_finished(f) and f'id="msg-{failed.pk}"' not in f)

    assert 'data-status="complete"' in retried
    replies = await sync_to_async(lambda: list(conversation.messages.filter(role="assistant")))()
    assert [r.status for r in replies] == [Message.Status.FAILED, Message.Status.COMPLETE]
    assert replies[1].content


async def test_only_the_last_failed_reply_can_be_retried(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Hi there", client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)
    reply = await sync_to_async(lambda: conversation.messages.get(role="assistant"))()

    await tab.send(action="retry", message_id=str(reply.pk))
    error = await tab.receive_until(lambda f: 'id="composer-error"' in f)
    assert "Only the last reply can be retried" in error
    assert await sync_to_async(conversation.messages.count)() == 2


@pytest.mark.parametrize(
    ("marker", "note"),
    [
        ("[fault:refusal]", "stopped by Claude's safety systems"),
        ("[fault:max_tokens]", "reached the length limit"),
    ],
)
async def test_unusual_stop_reasons_are_shown(alice, conversation, open_socket, marker, note):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text=f"Hello {marker}", client_id=str(uuid.uuid4()))
    final = await tab.receive_until(reply_finished)
    assert note in final


async def test_the_sidebar_entry_takes_the_new_title(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Bread baking basics", client_id=str(uuid.uuid4()))
    first = await tab.receive()
    assert f'<a id="sidebar-{conversation.pk}"' in first and ">Bread baking basics</a>" in first
    await tab.receive_until(reply_finished)


async def test_a_resend_of_a_message_saved_just_before_an_end_is_answered(alice, conversation, open_socket):
    from chat import flow

    client_id = str(uuid.uuid4())
    posted = await sync_to_async(flow.post_user_message)(alice, conversation.pk, "Last words", client_id)
    await sync_to_async(flow.end_by_user)(alice, conversation.pk, "")
    again = await sync_to_async(flow.post_user_message)(alice, conversation.pk, "Last words", client_id)
    assert not again.created and again.user_message.pk == posted.user_message.pk


async def test_a_tab_that_is_up_to_date_gets_no_snapshot_and_a_stale_one_does(
    alice, conversation, open_socket
):
    import re

    from django.test import AsyncClient

    client = AsyncClient()
    await sync_to_async(client.force_login)(alice)
    page = (await client.get(f"/c/{conversation.pk}/")).content.decode()
    shown = re.search(r'ws-connect="/ws/c/[0-9a-f-]+/\?v=([0-9a-f]+)"', page).group(1)

    connected, fresh = await open_socket(alice, conversation.pk, shown=shown)
    assert connected
    # Nothing changed since the page was rendered: the message list (and any open Edit) is left alone.
    assert await fresh.communicator.receive_nothing(timeout=0.3)

    _, other = await open_socket(alice, conversation.pk)
    await other.send(text="Anything new?", client_id=str(uuid.uuid4()))
    await other.receive_until(reply_finished)
    # A tab that reconnects with the old page's token is shown what it missed.
    _, stale = await open_socket(alice, conversation.pk, shown=shown)
    snapshot = await stale.receive()
    assert 'id="messages"' in snapshot and "Anything new?" in snapshot
