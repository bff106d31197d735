"""The ended-conversations list: what auditors see, each filter, and search."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import EndedBy, EndReason, UserRequest
from tests.welfare_admin import builders
from welfare_admin import audit
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db

LIST = reverse("admin:welfare_admin_endedconversation_changelist")


def titles(response) -> set[str]:
    return {row.display_title for row in response.context["cl"].result_list}


@pytest.fixture
def mix(alice, bob, auditor):
    """One conversation of each sort the filters tell apart."""
    c = {
        "claude_abuse": builders.ended(alice, title="Claude ended abuse", turns=5),
        "claude_asked": builders.ended(
            alice,
            title="Claude ended on request",
            by=EndedBy.ASSISTANT,
            reason=EndReason.USER_REQUESTED,
            turns=2,
        ),
        "user_end": builders.ended(
            bob, title="Bob pressed End", by=EndedBy.USER, reason=EndReason.USER_REQUESTED
        ),
        "open": builders.conversation(alice, title="Still open"),
    }
    builders.request(c["user_end"], UserRequest.Kind.END_FEEDBACK, end_was_mistake=True)
    builders.review(auditor, c["claude_abuse"], AuditEntry.Action.UPHELD)
    builders.review(auditor, c["claude_asked"], AuditEntry.Action.UPHELD)
    builders.review(auditor, c["claude_asked"], AuditEntry.Action.MISTAKEN)  # the latest review counts
    return c


def test_it_lists_ended_conversations_only_with_their_columns(auditor_client, mix):
    response = auditor_client.get(LIST)
    assert response.status_code == 200
    assert titles(response) == {"Claude ended abuse", "Claude ended on request", "Bob pressed End"}
    html = response.content.decode()
    for column in [
        "Ended",
        "User",
        "Title",
        "Ended by",
        "Reason",
        "Summary or user",
        "Turns",
        "Review",
        "Feedback",
    ]:
        assert column in html
    row = next(r for r in response.context["cl"].result_list if r.display_title == "Claude ended abuse")
    assert (row.end_by, row.end_why, row.turns, row.review, row.has_feedback) == (
        "assistant",
        "abusive_user",
        5,
        "upheld",
        False,
    )
    assert builders.ABUSE_SUMMARY in html
    assert response.context["cl"].list_per_page == 100
    assert response.context["cl"].date_hierarchy == "ended_at"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ended_by=assistant", {"Claude ended abuse", "Claude ended on request"}),
        ("ended_by=user", {"Bob pressed End"}),
        ("reason=abusive_user", {"Claude ended abuse"}),
        ("reason=user_requested", {"Claude ended on request", "Bob pressed End"}),
        ("review=upheld", {"Claude ended abuse"}),
        ("review=mistaken", {"Claude ended on request"}),
        ("review=unreviewed", {"Bob pressed End"}),
        ("feedback=yes", {"Bob pressed End"}),
        ("feedback=mistake", {"Bob pressed End"}),
        ("feedback=no", {"Claude ended abuse", "Claude ended on request"}),
        ("turns=1-2", {"Claude ended on request", "Bob pressed End"}),
        ("turns=3-5", {"Claude ended abuse"}),
        ("turns=11-", set()),
        ("state=ended", {"Claude ended abuse", "Claude ended on request", "Bob pressed End"}),
        ("ended_by=assistant&reason=user_requested", {"Claude ended on request"}),
        ("ended_by=nonsense", {"Claude ended abuse", "Claude ended on request", "Bob pressed End"}),
    ],
)
def test_each_filter_narrows_the_list(auditor_client, mix, query, expected):
    response = auditor_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert titles(response) == expected


def test_date_filters_use_the_end_time(auditor_client, alice):
    just_now = timezone.now() - timedelta(seconds=5)
    builders.ended(alice, title="Ended today", at=just_now - timedelta(seconds=5), ended_at=just_now)
    long_ago = timezone.now() - timedelta(days=400)
    builders.ended(alice, title="Ended last year", at=long_ago - timedelta(hours=1), ended_at=long_ago)
    today = timezone.localtime(just_now).date()
    drill_down = f"ended_at__year={today.year}&ended_at__month={today.month}&ended_at__day={today.day}"
    assert titles(auditor_client.get(f"{LIST}?{drill_down}")) == {"Ended today"}
    assert "Ended last year" not in titles(auditor_client.get(f"{LIST}?ended_at__year={today.year}"))
    assert titles(auditor_client.get(f"{LIST}?ended_at__year={long_ago.year}")) == {"Ended last year"}


def test_reopened_conversations_stay_listed_with_their_former_end(auditor_client, reopener, mix):
    audit.reopen_conversation(reopener, mix["claude_abuse"], "Quoting a film, not abuse.")
    response = auditor_client.get(f"{LIST}?state=reopened")
    assert titles(response) == {"Claude ended abuse"}
    row = response.context["cl"].result_list[0]
    assert (row.ended_at, row.end_by, row.end_why, row.review) == (
        None,
        "assistant",
        "abusive_user",
        "reopened",
    )
    assert "reopened" in response.content.decode()
    # The end filters still find it, through the end kept in the reopen event.
    assert "Claude ended abuse" in titles(
        auditor_client.get(f"{LIST}?ended_by=assistant&reason=abusive_user")
    )
    assert titles(auditor_client.get(f"{LIST}?review=reopened")) == {"Claude ended abuse"}


def test_deleted_by_the_user_is_still_audited(auditor_client, alice):
    c = builders.ended(alice, title="Deleted later")
    type(c).objects.filter(pk=c.pk).update(deleted_at=timezone.now())
    assert titles(auditor_client.get(f"{LIST}?state=deleted")) == {"Deleted later"}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("bob@example", {"Bob pressed End"}),
        ("on request", {"Claude ended on request"}),
        ("insults after", {"Claude ended abuse"}),  # Claude's summary
        ("purple elephants", {"Claude ended abuse"}),  # message text
        ('"Purple ELEPHANTS"', {"Claude ended abuse"}),
        ("nothing-matches-this", set()),
    ],
)
def test_search_covers_email_title_summary_and_message_text(auditor_client, alice, bob, term, expected):
    builders.ended(
        alice, title="Claude ended abuse", texts=["I like purple elephants", "purple elephants again"]
    )
    builders.ended(
        alice, title="Claude ended on request", reason=EndReason.USER_REQUESTED, summary="Asked to end"
    )
    builders.ended(bob, title="Bob pressed End", by=EndedBy.USER, reason=EndReason.USER_REQUESTED)
    response = auditor_client.get(LIST, {"q": term})
    assert response.status_code == 200
    assert titles(response) == expected


def test_a_search_matching_many_messages_lists_the_conversation_once(auditor_client, alice):
    builders.ended(alice, title="Many matches", turns=6, texts=["needle"] * 6)
    response = auditor_client.get(LIST, {"q": "needle"})
    assert [r.display_title for r in response.context["cl"].result_list] == ["Many matches"]
    assert response.context["cl"].result_count == 1


def test_the_list_links_to_each_transcript_and_escapes_titles(auditor_client, alice):
    c = builders.ended(alice, title="<b>bold</b> title")
    html = auditor_client.get(LIST).content.decode()
    assert reverse("admin:welfare_admin_endedconversation_change", args=[c.pk]) in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_pages_keep_the_order_of_the_list(auditor_client, alice, monkeypatch):
    """Rows are sorted and paged on their ids, then fetched with their annotations: the order must hold."""
    from django.contrib import admin

    from welfare_admin.models import EndedConversation

    monkeypatch.setattr(admin.site._registry[EndedConversation], "list_per_page", 2)
    now = timezone.now()
    for i in range(5):
        builders.ended(
            alice, title=f"Ended {i}", at=now - timedelta(hours=10), ended_at=now - timedelta(hours=i)
        )
    first = auditor_client.get(LIST)
    second = auditor_client.get(f"{LIST}?p=2")
    assert [r.display_title for r in first.context["cl"].result_list] == ["Ended 0", "Ended 1"]
    assert [r.display_title for r in second.context["cl"].result_list] == ["Ended 2", "Ended 3"]
    assert second.context["cl"].result_list[0].turns == 2  # annotated after paging
    by_turns = auditor_client.get(f"{LIST}?o=-7.1")  # turns column, then ended
    assert by_turns.status_code == 200


def test_reopened_conversations_come_after_the_ended_ones_on_every_database(auditor_client, reopener, alice):
    """Sorting on `-ended_at` alone put the reopened (no current end) first on PostgreSQL, last on SQLite."""
    now = timezone.now()
    older = builders.ended(alice, title="Ended yesterday", ended_at=now - timedelta(days=1))
    builders.ended(alice, title="Ended today", ended_at=now - timedelta(hours=1))
    audit.reopen_conversation(reopener, older, "Ended by mistake.")
    builders.ended(alice, title="Ended last week", ended_at=now - timedelta(days=7))

    rows = auditor_client.get(LIST).context["cl"].result_list

    assert [r.display_title for r in rows] == ["Ended today", "Ended last week", "Ended yesterday"]
