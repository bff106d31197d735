"""Who may see and touch a conversation: alice owns it, bob and staff get nothing from chat routes,
strangers are sent to log in. Unknown and foreign ids look the same (404), sockets just close."""

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def chat_routes(conversation_id):
    return [
        ("get", reverse("chat:conversation", args=[conversation_id])),
        ("post", reverse("chat:post_message", args=[conversation_id])),
        ("post", reverse("chat:retry", args=[conversation_id])),
        ("post", reverse("chat:stop", args=[conversation_id])),
        ("post", reverse("chat:rename", args=[conversation_id])),
        ("post", reverse("chat:delete", args=[conversation_id])),
    ]


def test_it_sends_strangers_to_log_in(conversation):
    client = Client()
    for path in [reverse("chat:home"), reverse("chat:conversation", args=[conversation.pk])]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("persona", ["bob", "staff"])
def test_someone_elses_conversation_is_not_found_on_every_route(request, persona, conversation):
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    for method, path in chat_routes(conversation.pk):
        response = getattr(client, method)(path, {"text": "hi", "title": "mine now"})
        assert response.status_code == 404, (method, path)
    conversation.refresh_from_db()
    assert conversation.title == "" and conversation.deleted_at is None
    assert not conversation.messages.exists()


def test_an_unknown_conversation_is_not_found_either(alice_client):
    for method, path in chat_routes(uuid.uuid4()):
        assert getattr(alice_client, method)(path, {"text": "hi"}).status_code == 404


def test_the_owner_sees_their_chat_and_only_theirs_in_the_sidebar(alice_client, conversation, bob):
    Conversation.objects.create(user=bob, title="Bob's secret plans")
    conversation.title = "Alice's chat"
    conversation.save()
    response = alice_client.get(reverse("chat:conversation", args=[conversation.pk]))
    assert response.status_code == 200
    assert "Alice&#x27;s chat" in response.content.decode()
    assert "Bob&#x27;s secret plans" not in response.content.decode()


def test_the_chat_page_has_an_accessible_composer_and_live_message_list(alice_client, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Hello <b>there</b>")
    html = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'aria-live="polite"' in html
    assert '<label for="message-text"' in html and ">Message</label>" in html
    assert ">Send</button>" in html
    assert 'data-role="user"' in html
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html  # user text is escaped
    assert f'ws-connect="/ws/c/{conversation.pk}/?v=' in html


def test_the_sidebar_lists_newest_first(alice_client, alice):
    from django.utils import timezone

    now = timezone.now()
    Conversation.objects.create(user=alice, title="Older", updated_at=now - timezone.timedelta(hours=1))
    Conversation.objects.create(user=alice, title="Newer", updated_at=now)
    html = alice_client.get(reverse("chat:home")).content.decode()
    assert html.index("Newer") < html.index("Older")


def test_rename_and_delete(alice_client, conversation):
    alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": "  Trip   ideas "})
    conversation.refresh_from_db()
    assert conversation.title == "Trip ideas"

    response = alice_client.post(reverse("chat:delete", args=[conversation.pk]))
    assert response.status_code == 302
    # Hidden from its owner, kept for audit.
    assert alice_client.get(reverse("chat:conversation", args=[conversation.pk])).status_code == 404
    assert "Trip ideas" not in alice_client.get(reverse("chat:home")).content.decode()
    assert Conversation.objects.filter(pk=conversation.pk, deleted_at__isnull=False).exists()


def test_an_empty_title_is_refused(alice_client, conversation):
    conversation.title = "Keep me"
    conversation.save()
    response = alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": "   "})
    assert response.status_code == 400
    assert "A title cannot be empty." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Keep me"


def test_new_chat_creates_one_and_reuses_an_empty_one(alice_client, alice):
    first = alice_client.post(reverse("chat:new"))
    assert first.status_code == 302
    conversation = Conversation.objects.get(user=alice)
    assert first["Location"] == reverse("chat:conversation", args=[conversation.pk])
    again = alice_client.post(reverse("chat:new"))
    assert again["Location"] == first["Location"]
    assert Conversation.objects.filter(user=alice).count() == 1
    assert alice_client.get(reverse("chat:new")).status_code == 405


def test_posts_without_a_csrf_token_are_refused(alice, conversation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("chat:post_message", args=[conversation.pk]), {"text": "hi"})
    assert response.status_code == 403
    assert not conversation.messages.exists()


@pytest.mark.django_db(transaction=True)
class TestSockets:
    async def test_the_owner_connects(self, alice, conversation, open_socket):
        connected, _ = await open_socket(alice, conversation.pk)
        assert connected

    async def test_another_user_is_closed_without_a_hint(self, bob, staff, conversation, open_socket):
        for persona in (bob, staff):
            connected, socket = await open_socket(persona, conversation.pk)
            assert not connected and not socket.snapshot
            assert socket.close_code == 4404  # the same as for a chat that does not exist
        connected, socket = await open_socket(bob, uuid.uuid4())
        assert not connected and socket.close_code == 4404

    async def test_an_unauthenticated_socket_is_closed_as_signed_out(self, conversation, open_socket):
        connected, socket = await open_socket(None, conversation.pk)
        assert not connected and not socket.snapshot
        assert socket.close_code == 4401  # the page says "Log in again" instead of reconnecting

    async def test_a_cross_origin_socket_is_rejected(self, alice, conversation, open_socket):
        connected, _ = await open_socket(alice, conversation.pk, origin="https://evil.example")
        assert not connected
