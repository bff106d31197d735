"""Every audit page costs the same number of queries with 5 rows as with 50: annotations and
select_related, never a query per row."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chat.models import ConversationEvent, EndedBy, EndReason, UserRequest
from tests.welfare_admin import builders
from welfare_admin import audit
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db


def populate(count: int, users, auditor, reopener) -> None:
    """`count` ended conversations of every sort, with events, requests, reviews and reopens."""
    for i in range(count):
        user = users[i % len(users)]
        by, reason = [
            (EndedBy.ASSISTANT, EndReason.ABUSIVE_USER),
            (EndedBy.ASSISTANT, EndReason.USER_REQUESTED),
            (EndedBy.USER, EndReason.USER_REQUESTED),
        ][i % 3]
        c = builders.ended(user, title=f"Conversation {i}", by=by, reason=reason, turns=1 + i % 4)
        builders.declined(c, "too_early")
        builders.request(c, [UserRequest.Kind.APPEAL, UserRequest.Kind.THUMBS_DOWN][i % 2])
        builders.review(auditor, c, [AuditEntry.Action.UPHELD, AuditEntry.Action.MISTAKEN][i % 2])
        if i % 5 == 0:
            audit.reopen_conversation(reopener, c, "Reopened for the count")


def queries(client, url: str) -> int:
    client.get(url)  # warm caches (content types, the session) so both counts measure the page alone
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(captured)


PAGES = {
    "ended list": reverse("admin:welfare_admin_endedconversation_changelist"),
    "ended list, filtered and searched": reverse("admin:welfare_admin_endedconversation_changelist")
    + "?ended_by=assistant&review=mistaken&feedback=yes&turns=1-2&q=Conversation",
    "csv export": reverse("admin:welfare_admin_endedconversation_export_csv"),
    "requests": reverse("admin:welfare_admin_welfarerequest_changelist"),
    "audit log": reverse("admin:welfare_admin_auditentry_changelist"),
    "dashboard": reverse("welfare_admin:dashboard"),
}


def test_pages_cost_the_same_with_5_and_50_rows(
    auditor_client, auditor, reopener, alice, bob, django_assert_num_queries
):
    populate(5, [alice, bob], auditor, reopener)
    small = {name: queries(auditor_client, url) for name, url in PAGES.items()}
    populate(45, [alice, bob], auditor, reopener)
    for name, url in PAGES.items():
        auditor_client.get(url)
        with django_assert_num_queries(small[name]):
            response = auditor_client.get(url)
            if response.streaming:
                b"".join(response.streaming_content)
    # And the list pages really show 50 rows (the requests list 100: two per conversation).
    assert auditor_client.get(PAGES["ended list"]).context["cl"].result_count == 50


def test_the_transcript_costs_the_same_with_5_and_50_messages(
    auditor_client, auditor, alice, django_assert_num_queries
):
    short = builders.ended(alice, title="short", turns=3)
    long = builders.ended(alice, title="long", turns=25)
    for c in (short, long):
        ConversationEvent.objects.create(conversation=c, kind=ConversationEvent.Kind.CRISIS_DETECTED)
        builders.review(auditor, c)
    url = reverse("admin:welfare_admin_endedconversation_change", args=[short.pk])
    expected = queries(auditor_client, url)
    with django_assert_num_queries(expected):
        auditor_client.get(reverse("admin:welfare_admin_endedconversation_change", args=[long.pk]))
