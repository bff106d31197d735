"""Without JavaScript the chat still works: the form posts, the reply is on the page after the redirect."""

import uuid

import pytest
from django.urls import reverse

from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def test_posting_the_form_shows_the_reply_after_the_redirect(alice_client, conversation):
    url = reverse("chat:post_message", args=[conversation.pk])
    response = alice_client.post(
        url, {"text": "What is a haiku?", "client_id": str(uuid.uuid4())}, follow=True
    )

    assert response.status_code == 200
    html = response.content.decode()
    reply = conversation.messages.get(role="assistant")
    assert reply.status == Message.Status.COMPLETE
    assert response.redirect_chain[-1][0].endswith(f"#msg-{reply.pk}")
    assert "What is a haiku?" in html
    assert f'id="msg-{reply.pk}"' in html and 'data-status="complete"' in html


def test_a_double_submitted_form_makes_one_message(alice_client, conversation):
    url = reverse("chat:post_message", args=[conversation.pk])
    client_id = str(uuid.uuid4())
    alice_client.post(url, {"text": "Once only", "client_id": client_id})
    alice_client.post(url, {"text": "Once only", "client_id": client_id})
    assert conversation.messages.filter(role="user").count() == 1
    assert conversation.messages.filter(role="assistant").count() == 1


def test_the_page_shows_a_fresh_client_id_for_the_form(alice_client, conversation):
    html = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()
    assert 'name="client_id" value="' in html
