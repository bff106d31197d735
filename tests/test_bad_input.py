"""Bad input gets a clear error and changes nothing, over the socket and over HTTP."""

import uuid

import pytest
from asgiref.sync import sync_to_async
from django.urls import reverse

from chat import flow
from chat.models import Conversation, Message, UserRequest

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


# --- Frames and posts that used to crash ----------------------------------------------------------

DEEP_ARRAY = "[" * 100_000
DEEP_OBJECT = '{"a":' * 50_000


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ('{"action": ["send"], "text": "Hello"}', "Unknown action."),
        ('{"action": {"send": true}, "text": "Hello"}', "Unknown action."),
        (DEEP_ARRAY, "That message could not be read."),
        (DEEP_OBJECT, "That message could not be read."),
        ('{"action": "send", "text": "Hi \\ud800 there"}', "a lone UTF-16 surrogate"),
        ('{"action": "send", "text": "Hi \\u0000 there"}', "contains a NUL character"),
    ],
    ids=["action-list", "action-object", "deep-array", "deep-object", "lone-surrogate", "nul"],
)
async def test_the_socket_answers_frames_that_used_to_crash_it(
    alice, conversation, open_socket, raw, error, caplog
):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send_raw(raw)
    frame = await tab.receive()
    assert 'id="composer-error"' in frame and error in frame
    assert any(r.levelname == "WARNING" and r.name.startswith("bowout") for r in caplog.records)
    assert await sync_to_async(count)(conversation) == 0
    # The socket still works afterwards.
    await tab.send(text="Hello", client_id=str(uuid.uuid4()))
    assert 'data-role="user"' in await tab.receive()


NUL_TEXT = "before\x00after"


def test_http_send_with_a_nul_is_refused(alice_client, conversation):
    response = alice_client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": NUL_TEXT})
    assert response.status_code == 400
    assert "contains a NUL character" in response.content.decode()
    assert count(conversation) == 0


def test_rename_with_a_nul_is_refused(alice_client, conversation):
    response = alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": NUL_TEXT})
    assert response.status_code == 400 and "The title contains a NUL character" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == ""


def test_edit_with_a_nul_is_refused(alice_client, alice, conversation):
    first = Message.objects.create(conversation=conversation, role="user", content="Hello")
    response = alice_client.post(reverse("chat:edit", args=[conversation.pk, first.pk]), {"text": NUL_TEXT})
    assert response.status_code == 400 and "contains a NUL character" in response.content.decode()
    assert Conversation.objects.filter(user=alice).count() == 1


def test_feedback_with_a_nul_is_refused(alice_client, alice, conversation):
    flow.end_by_user(alice, conversation.pk, "")
    for name in ("chat:feedback", "chat:appeal"):
        response = alice_client.post(
            reverse(name, args=[conversation.pk]), {"text": NUL_TEXT, "mistaken": "1"}
        )
        assert (
            response.status_code == 400
            and "The feedback contains a NUL character" in response.content.decode()
        )
    assert not UserRequest.objects.filter(conversation=conversation).exclude(kind="end_request").exists()


def test_end_chat_with_a_nul_in_the_note_is_refused_and_leaves_the_chat_open(alice_client, conversation):
    response = alice_client.post(reverse("chat:end", args=[conversation.pk]), {"note": NUL_TEXT})
    assert response.status_code == 400 and "The note contains a NUL character" in response.content.decode()
    conversation.refresh_from_db()
    assert not conversation.is_ended
    assert not conversation.events.exists() and not conversation.requests.exists()
    # Without the NUL the same End goes through.
    assert alice_client.post(reverse("chat:end", args=[conversation.pk]), {"note": "bye"}).status_code == 302
    conversation.refresh_from_db()
    assert conversation.is_ended and conversation.end_summary == "bye"


async def test_a_flood_of_bad_frames_logs_one_line_per_kind_a_minute(
    alice, conversation, open_socket, caplog
):
    """An operator reads one line per kind of rejected frame per socket per minute, with a count, not one
    line per frame (a flood wrote 19k lines in 45 s)."""
    _, tab = await open_socket(alice, conversation.pk)
    for _ in range(100):
        await tab.send_raw("not json")
        await tab.receive()
        await tab.send_raw('{"action": "explode"}')
        await tab.receive()
    lines = [record for record in caplog.records if "socket frame" in record.getMessage()]
    assert len(lines) == 2
    assert {record.user_id for record in lines} == {alice.pk}
    assert {record.conversation_id for record in lines} == {str(conversation.pk)}
