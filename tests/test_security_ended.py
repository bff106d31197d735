"""After an end, nothing changes: not even the title staff audit the conversation under."""

import pytest
from django.urls import reverse

from chat import flow

pytestmark = pytest.mark.django_db


def test_renaming_an_ended_chat_is_refused(alice_client, alice, conversation):
    conversation.title = "Original title"
    conversation.save()
    flow.end_by_user(alice, conversation.pk, "")
    response = alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": "Something else"})
    assert response.status_code == 409
    assert "This conversation has ended" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Original title"


def test_renaming_an_ended_chat_through_htmx_gets_the_error_fragment(alice_client, alice, conversation):
    flow.end_by_user(alice, conversation.pk, "")
    response = alice_client.post(
        reverse("chat:rename", args=[conversation.pk]), {"title": "Renamed"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409 and "This conversation has ended" in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == ""


def test_an_open_chat_can_still_be_renamed(alice_client, conversation):
    response = alice_client.post(reverse("chat:rename", args=[conversation.pk]), {"title": "  My   chat "})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "My chat"
