"""Django's flash messages ("Thanks for the feedback.") show on the page that follows the action, once, and
a chat page never announces its own messages a second time as a status list."""

import re

import pytest
from django.urls import reverse

from chat.models import Message

pytestmark = pytest.mark.django_db


def flash_items(html: str) -> list[str]:
    """The texts of the page's flash list (the `role="status"` list under the header), if any."""
    found = re.search(r'<ul class="flash" role="status">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", found.group(1), re.S) if found else []


def test_a_chat_page_does_not_repeat_its_messages_as_a_status_list(alice_client, conversation):
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content="Tell me about owls")
    Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content="Owls are birds.")

    html = alice_client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()

    assert "Tell me about owls" in html
    assert flash_items(html) == []


def test_thanks_for_a_rating_shows_on_the_page_it_leads_to_and_only_there(alice_client, conversation):
    reply = Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content="Owls.")
    page = reverse("chat:conversation", args=[conversation.pk])

    response = alice_client.post(
        reverse("chat:rate", args=[conversation.pk, reply.pk]), {"rating": "up"}, follow=True
    )

    assert response.redirect_chain[-1][0] == f"{page}#msg-{reply.pk}"
    assert flash_items(response.content.decode()) == ["Thanks for the feedback."]
    assert flash_items(alice_client.get(reverse("chat:home")).content.decode()) == []
    assert flash_items(alice_client.get(page).content.decode()) == []
