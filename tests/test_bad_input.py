"""Bad input gets a clear error and changes nothing, over the socket and over HTTP."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

pytestmark = pytest.mark.django_db(transaction=True)


def count(conversation):
    return conversation.messages.count()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Type a message before sending."),
        ("   \n\t ", "Type a message before sending."),
        ("x" * 20_001, "Messages can be at most 20,000 characters; this one has 20,001."),
        (42, "A message must be text."),
    ],
)
async def test_the_socket_refuses_bad_messages(alice, conversation, open_socket, text, error):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(action="send", text=text, client_id=str(uuid.uuid4()))
    frame = await tab.receive()
    assert 'id="composer-error"' in frame and error in frame
    assert await sync_to_async(count)(conversation) == 0


@pytest.mark.parametrize("raw", ["not json", "[1, 2]", '"text"', "{", '{"action": "explode"}'])
async def test_the_socket_survives_malformed_frames(alice, conversation, open_socket, raw):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send_raw(raw)
    frame = await tab.receive()
    assert 'id="composer-error"' in frame
    # The socket still works afterwards.
    await tab.send(text="Hello", client_id=str(uuid.uuid4()))
    assert 'data-role="user"' in await tab.receive()


async def test_a_bad_client_id_is_refused(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Hello", client_id="not-a-uuid")
    assert "bad message id" in await tab.receive()
    assert await sync_to_async(count)(conversation) == 0


def test_http_refuses_an_empty_message_and_keeps_the_page(alice_client, conversation):
    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "  "})
    assert response.status_code == 400
    assert "Type a message before sending." in response.content.decode()
    assert count(conversation) == 0


def test_http_keeps_a_too_long_draft_in_the_box(alice_client, conversation, settings):
    settings.BOWOUT_MAX_MESSAGE_CHARS = 10
    response = alice_client.post(
        reverse("chat:post_message", args=[conversation.pk]), {"text": "far too long text"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "at most 10 characters" in html
    assert ">far too long text</textarea>" in html  # nothing the user typed is lost
    assert count(conversation) == 0


def test_htmx_requests_get_a_fragment(alice_client, conversation):
    response = alice_client.post(
        reverse("chat:post_message", args=[conversation.pk]), {"text": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert html.strip().startswith('<div id="composer-error"') and "<html" not in html
