"""A long conversation's page costs the same number of queries as a short one."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import Message, MessageRating

pytestmark = pytest.mark.django_db


def fill(conversation, pairs: int, *, rate: bool = False) -> None:
    rows = []
    for i in range(pairs):
        rows.append(Message(conversation=conversation, role=Message.Role.USER, content=f"Question {i}"))
        rows.append(
            Message(
                conversation=conversation,
                role=Message.Role.ASSISTANT,
                content=f"Answer {i}",
                content_html=f"<p>Answer {i}</p>",
                status=Message.Status.COMPLETE,
            )
        )
    Message.objects.bulk_create(rows)
    if not rate:
        return
    replies = conversation.messages.filter(role=Message.Role.ASSISTANT)[:3]
    MessageRating.objects.bulk_create(
        MessageRating(message=m, user=conversation.user, rating="up") for m in replies
    )


def queries_for_page(client, conversation) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/c/{conversation.pk}/")
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_page_of_a_long_conversation_takes_as_many_queries_as_a_short_one(alice_client, conversation):
    fill(conversation, 5, rate=True)
    short, _ = queries_for_page(alice_client, conversation)
    fill(conversation, 495)
    long, page = queries_for_page(alice_client, conversation)

    assert page.count('data-role="assistant"') == 500 and page.count('data-role="user"') == 500
    assert "Question 494" in page and "Answer 494" in page
    assert page.count('aria-pressed="true"') == 3  # the viewer's own ratings, from one query
    assert long == short
