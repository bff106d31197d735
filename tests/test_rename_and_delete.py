"""Renaming or deleting a chat reaches the chat's other open tabs: the new title at once; a deleted chat's
sockets are closed with a code the page explains ("This chat was deleted.") instead of reconnecting."""

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_rename_reaches_the_chats_open_tabs(alice, alice_client, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)

    response = await sync_to_async(alice_client.post)(
        reverse("chat:rename", args=[conversation.pk]), {"title": "Owls  and   larks"}
    )

    assert response.status_code == 302
    frame = await tab.receive()
    assert 'id="conversation-title"' in frame and "Owls and larks" in frame
    assert f'id="sidebar-{conversation.pk}"' in frame


async def test_a_refused_rename_reaches_no_tab(alice, alice_client, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)

    response = await sync_to_async(alice_client.post)(
        reverse("chat:rename", args=[conversation.pk]), {"title": "   "}
    )

    assert response.status_code == 400
    assert await tab.communicator.receive_nothing(timeout=0.3)


async def test_a_delete_closes_the_chats_open_tabs_as_deleted(alice, alice_client, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    _, other_tab = await open_socket(alice, conversation.pk)

    response = await sync_to_async(alice_client.post)(reverse("chat:delete", args=[conversation.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("chat:home")
    assert await tab.closed_with() == 4404
    assert await other_tab.closed_with() == 4404
    # A tab that reconnects later is told the same.
    connected, late = await open_socket(alice, conversation.pk)
    assert not connected and late.close_code == 4404


async def test_deleting_one_chat_leaves_the_others_tabs_open(alice, alice_client, conversation, open_socket):
    other = await sync_to_async(type(conversation).objects.create)(user=alice)
    _, tab = await open_socket(alice, other.pk)

    await sync_to_async(alice_client.post)(reverse("chat:delete", args=[conversation.pk]))

    assert await tab.communicator.receive_nothing(timeout=0.3)
