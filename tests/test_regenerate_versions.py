"""Regenerate: another version of the last reply, the earlier ones kept and paged between (‹ 1/2 ›); the
version shown is the one the model is sent as history; never on an ended chat, by any route."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat import generation
from chat.models import Conversation, EndedBy, EndReason, Message
from tests.conftest import reply_finished

pytestmark = pytest.mark.django_db(transaction=True)


def _send(client, conversation: Conversation, text: str) -> Message:
    url = reverse("chat:post_message", args=[conversation.pk])
    client.post(url, {"text": text, "client_id": str(uuid.uuid4())})
    return conversation.messages.filter(role="assistant").last()


def _regenerate(client, conversation: Conversation, reply: Message):
    url = reverse("chat:regenerate", args=[conversation.pk])
    return client.post(url, {"message_id": reply.pk}, follow=True)


def test_it_keeps_the_earlier_version_and_shows_the_new_one(alice_client, conversation):
    first = _send(alice_client, conversation, "How do tides work?")

    response = _regenerate(alice_client, conversation, first)

    assert response.status_code == 200
    second = conversation.messages.filter(role="assistant").last()
    assert second.pk != first.pk and second.status == Message.Status.COMPLETE
    first.refresh_from_db()
    assert first.content and not first.version_shown  # kept, not shown
    html = response.content.decode()
    assert f'id="msg-{second.pk}"' in html and f'id="msg-{first.pk}"' not in html
    assert 'aria-label="Version 2 of 2"' in html and 'aria-label="Previous version"' in html


def test_paging_back_shows_the_earlier_version_and_makes_it_the_history(alice_client, conversation):
    first = _send(alice_client, conversation, "How do tides work?")
    _regenerate(alice_client, conversation, first)
    second = conversation.messages.filter(role="assistant").last()
    Message.objects.filter(pk=first.pk).update(
        content="FIRST VERSION", content_html="<p>FIRST VERSION</p>", api_messages=[]
    )
    Message.objects.filter(pk=second.pk).update(
        content="SECOND VERSION", content_html="<p>SECOND VERSION</p>", api_messages=[]
    )

    url = reverse("chat:show_version", args=[conversation.pk, first.pk])
    html = alice_client.post(url, follow=True).content.decode()

    assert "FIRST VERSION" in html and "SECOND VERSION" not in html
    assert 'aria-label="Version 1 of 2"' in html and 'aria-label="Next version"' in html
    # What the model is sent for the next message: the version shown, and only it.
    Message.objects.create(conversation=conversation, role="user", content="and then?")
    sent = generation.history_of(conversation.messages.all())
    texts = str(sent)
    assert "FIRST VERSION" in texts and "SECOND VERSION" not in texts


def test_only_the_last_finished_reply_can_be_regenerated(alice_client, conversation):
    first = _send(alice_client, conversation, "How do tides work?")
    _send(alice_client, conversation, "And the moon?")

    response = _regenerate(alice_client, conversation, first)

    assert response.status_code == 400
    assert "Only the last reply can be regenerated" in response.content.decode()
    assert conversation.messages.filter(role="assistant").count() == 2


def test_an_ended_chat_accepts_no_regenerate_over_http(alice_client, conversation):
    reply = _send(alice_client, conversation, "How do tides work?")
    conversation.end(by=EndedBy.USER, reason=EndReason.USER_REQUESTED)

    response = _regenerate(alice_client, conversation, reply)

    assert response.status_code == 409
    assert "This conversation has ended" in response.content.decode()
    assert conversation.messages.filter(role="assistant").count() == 1
    html = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'data-role="regenerate"' not in html


async def test_an_ended_chat_accepts_no_regenerate_over_the_socket(alice, conversation, open_socket):
    connected, tab = await open_socket(alice, conversation.pk)
    await tab.send(action="send", text="How do tides work?", client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)
    reply = await sync_to_async(lambda: conversation.messages.filter(role="assistant").last())()
    await sync_to_async(conversation.end)(by=EndedBy.USER, reason=EndReason.USER_REQUESTED)

    await tab.send(action="regenerate", message_id=reply.pk)

    error = await tab.receive_until(lambda frame: 'id="composer-error"' in frame)
    assert "This conversation has ended" in error
    assert await sync_to_async(conversation.messages.filter(role="assistant").count)() == 1


async def test_regenerating_over_the_socket_streams_a_new_version(alice, conversation, open_socket):
    connected, tab = await open_socket(alice, conversation.pk)
    await tab.send(action="send", text="How do tides work?", client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)
    first = await sync_to_async(lambda: conversation.messages.filter(role="assistant").last())()

    await tab.send(action="regenerate", message_id=first.pk)

    finished = await tab.receive_until(lambda f: reply_finished(f) and f'id="msg-{first.pk}"' not in f)
    assert 'aria-label="Version 2 of 2"' in finished
    assert await sync_to_async(conversation.messages.filter(role="assistant").count)() == 2


def test_another_users_chat_cannot_be_regenerated_or_paged(alice_client, conversation, bob):
    reply = _send(alice_client, conversation, "How do tides work?")
    from django.test import Client

    intruder = Client()
    intruder.force_login(bob)

    assert _regenerate(intruder, conversation, reply).status_code == 404
    assert intruder.post(reverse("chat:show_version", args=[conversation.pk, reply.pk])).status_code == 404
    assert conversation.messages.filter(role="assistant").count() == 1


def test_an_earlier_version_paged_back_to_can_be_regenerated(alice_client, conversation):
    first = _send(alice_client, conversation, "How do tides work?")
    _regenerate(alice_client, conversation, first)
    alice_client.post(reverse("chat:show_version", args=[conversation.pk, first.pk]))

    html = _regenerate(alice_client, conversation, first).content.decode()

    assert conversation.messages.filter(role="assistant").count() == 3
    assert 'aria-label="Version 3 of 3"' in html and 'data-role="regenerate"' in html
