"""Search and export: only ever the user's own chats; search with a highlighted snippet, export without
Claude's reasoning; bad input gets a clear error."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, Message

pytestmark = pytest.mark.django_db


def _chat(user, title: str, *texts: str) -> Conversation:
    conversation = Conversation.objects.create(user=user, title=title)
    for index, text in enumerate(texts):
        Message.objects.create(
            conversation=conversation, role="user" if index % 2 == 0 else "assistant", content=text
        )
    return conversation


def _search(client: Client, query: str):
    return client.get(reverse("chat:search"), {"q": query})


def test_it_finds_the_users_own_messages_with_a_highlighted_snippet(alice_client, alice, bob):
    mine = _chat(alice, "Biology homework", "Why is the mitochondria called the powerhouse?", "Because…")
    _chat(bob, "Bob's secrets", "mitochondria are my password hint")

    response = _search(alice_client, "mitochondria")

    html = response.content.decode()
    assert response.status_code == 200
    message = mine.messages.get(role="user")
    assert f'href="/c/{mine.pk}/#msg-{message.pk}"' in html
    assert "<mark>mitochondria</mark>" in html
    assert "password hint" not in html and "Bob&#x27;s secrets" not in html


def test_titles_match_too_and_deleted_chats_never_do(alice_client, alice):
    found = _chat(alice, "Sourdough starter", "hello")
    gone = _chat(alice, "Sourdough disaster", "hello")
    Conversation.objects.filter(pk=gone.pk).update(deleted_at=found.created_at)

    html = _search(alice_client, "sourdough").content.decode()

    assert f'href="/c/{found.pk}/"' in html and str(gone.pk) not in html


def test_the_snippet_shows_markup_as_text(alice_client, alice):
    _chat(alice, "", "what does <script>alert(1)</script> do near the word pelican")

    html = _search(alice_client, "pelican").content.decode()

    # Escaped (SQLite's snippet) or left out (PostgreSQL's headline drops tags): never markup.
    assert "<script>alert(1)</script>" not in html
    assert "<mark>pelican</mark>" in html


def test_a_search_too_long_is_refused_with_a_reason(alice_client):
    response = _search(alice_client, "x" * 201)

    assert response.status_code == 400
    assert "A search can be at most 200 characters" in response.content.decode()


def test_the_sidebar_has_a_search_form_that_works_without_javascript(alice_client):
    html = alice_client.get(reverse("chat:home")).content.decode()

    assert 'role="search"' in html and 'method="get" action="/search/"' in html and 'name="q"' in html


def _reply_with_reasoning(conversation: Conversation) -> None:
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        # As a reply is saved: its words, and its reasoning kept apart in the API messages.
        content="Tides come from the moon.",
        api_messages=[
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "PRIVATE REASONING", "signature": "sig"},
                    {"type": "text", "text": "Tides come from the moon."},
                ],
            }
        ],
    )


def test_one_chat_exports_as_markdown_and_json_without_reasoning(alice_client, alice):
    conversation = _chat(alice, "Tides", "How do tides work?")
    _reply_with_reasoning(conversation)

    markdown = alice_client.get(reverse("chat:export", args=[conversation.pk, "md"]))
    data = alice_client.get(reverse("chat:export", args=[conversation.pk, "json"]))

    assert markdown["Content-Type"].startswith("text/markdown")
    assert "attachment" in markdown["Content-Disposition"]
    text = markdown.content.decode()
    assert "# Tides" in text and "How do tides work?" in text and "Tides come from the moon." in text
    assert "PRIVATE REASONING" not in text
    record = json.loads(data.content)["conversations"][0]
    assert [m["text"] for m in record["messages"]] == ["How do tides work?", "Tides come from the moon."]
    assert "PRIVATE REASONING" not in data.content.decode()


def test_export_all_holds_only_the_users_own_chats(alice_client, alice, bob):
    _chat(alice, "Mine one", "first")
    _chat(alice, "Mine two", "second")
    _chat(bob, "Not hers", "bob's words")

    data = json.loads(alice_client.get(reverse("chat:export_all", args=["json"])).content)
    markdown = alice_client.get(reverse("chat:export_all", args=["md"])).content.decode()

    assert sorted(c["title"] for c in data["conversations"]) == ["Mine one", "Mine two"]
    assert "Not hers" not in markdown and "bob's words" not in markdown


def test_another_users_chat_cannot_be_exported(alice, bob):
    conversation = _chat(alice, "Private", "secret words")
    intruder = Client()
    intruder.force_login(bob)

    assert intruder.get(reverse("chat:export", args=[conversation.pk, "md"])).status_code == 404
    assert intruder.get(reverse("chat:export", args=[conversation.pk, "json"])).status_code == 404


def test_an_unknown_export_format_is_refused_with_a_reason(alice_client, alice):
    conversation = _chat(alice, "Tides", "hi")

    response = alice_client.get(reverse("chat:export", args=[conversation.pk, "pdf"]))

    assert response.status_code == 400 and "Export as md (Markdown) or json" in response.content.decode()
