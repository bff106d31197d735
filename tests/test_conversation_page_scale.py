"""A long conversation's page costs the same number of queries as a short one."""

import html
import re

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
    fill(conversation, 50, rate=True)  # 100 messages
    short, _ = queries_for_page(alice_client, conversation)
    fill(conversation, 450)  # 1,000
    long, page = queries_for_page(alice_client, conversation)

    assert long == short
    # The latest 50, newest last, and the way to the rest.
    assert page.count('data-role="assistant"') == 25 and page.count('data-role="user"') == 25
    assert "Question 425<" in page and "Answer 449<" in page and "Question 424<" not in page
    assert page.count('data-role="load-earlier"') == 1


def earlier_link(page: str) -> str:
    links = re.findall(r'<a href="([^"]+)"[^>]*data-role="load-earlier"', page)
    assert len(links) == 1, links
    return html.unescape(links[0])


def test_load_earlier_messages_brings_the_older_ones_with_htmx_and_as_a_link(alice_client, conversation):
    fill(conversation, 60, rate=True)  # 120 messages: pages of 50, 50 and 20
    _, page = queries_for_page(alice_client, conversation)

    with CaptureQueriesContext(connection) as queries:
        older = alice_client.get(earlier_link(page), headers={"HX-Request": "true"}).content.decode()
    assert len(queries) < 15
    # Only the fragment that takes the control's place: the 50 before, and a control for the 20 before them.
    assert "<html" not in older and 'id="messages"' not in older
    assert older.count('data-role="user"') == 25 and "Question 10" in older and "Answer 34" in older
    assert "Question 9<" not in older and "Answer 35" not in older

    oldest = alice_client.get(earlier_link(older), headers={"HX-Request": "true"}).content.decode()
    assert oldest.count('data-role="user"') == 10 and "Question 0<" in oldest
    assert 'data-role="load-earlier"' not in oldest  # nothing before the first message
    assert oldest.count('aria-pressed="true"') == 3  # the viewer's own ratings, on the oldest replies

    # Without JavaScript the link is a whole page of those messages, with the composer.
    plain = alice_client.get(earlier_link(page)).content.decode()
    assert "<html" in plain and 'id="messages"' in plain and "Question 10" in plain
    assert "Answer 35" not in plain and 'data-role="load-earlier"' in plain
    assert 'name="text"' in plain


def test_a_page_asked_for_before_something_that_is_not_a_message_number_is_refused(
    alice_client, conversation
):
    fill(conversation, 2)
    response = alice_client.get(f"/c/{conversation.pk}/?before=abc")
    assert response.status_code == 400
    assert alice_client.get(f"/c/{conversation.pk}/?before=999999").status_code == 200
