"""The welfare dashboard: empty, with known data, and with demo data."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from chat.models import Conversation, ConversationEvent, EndedBy, EndReason, UserRequest
from tests.welfare_admin import builders
from welfare_admin import audit, charts
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("welfare_admin:dashboard")


def counts(items) -> dict[str, int]:
    return {c.key: c.count for c in items}


def test_it_works_with_no_data(auditor_client):
    response = auditor_client.get(DASHBOARD)
    assert response.status_code == 200
    stats = response.context["stats"]
    assert (stats.started_total, stats.ends_total, stats.claude_rate_per_1000, stats.alert) == (
        0,
        0,
        0.0,
        False,
    )
    assert len(stats.days) == 30 and stats.days[-1] == timezone.localdate()
    html = response.content.decode()
    assert "None in the last 30 days." in html
    assert html.count('role="img"') == 2 and "Data table" in html


@pytest.fixture
def known(alice, bob, auditor, reopener):
    """20 conversations in the window: 3 ended by Claude (one since reopened), 2 by users; one old end."""
    now = timezone.now()
    for i in range(15):
        builders.conversation(alice, title=f"ordinary {i}", at=now - timedelta(days=i % 10, hours=3))
    abusive = builders.ended(alice, title="abusive", at=now - timedelta(days=2, hours=3))
    reopened = builders.ended(alice, title="reopened", at=now - timedelta(days=3, hours=3))
    builders.ended(alice, title="asked", reason=EndReason.USER_REQUESTED, at=now - timedelta(days=1, hours=3))
    for i in range(2):
        builders.ended(bob, by=EndedBy.USER, reason=EndReason.USER_REQUESTED, at=now - timedelta(hours=3 + i))
    builders.ended(bob, title="too old", at=now - timedelta(days=60))
    builders.declined(abusive, "too_early")
    builders.declined(abusive, "too_early")
    builders.declined(abusive, "crisis")
    builders.declined(abusive, "too_early", at=now - timedelta(days=45))  # outside the window
    ConversationEvent.objects.create(conversation=abusive, kind=ConversationEvent.Kind.CRISIS_DETECTED)
    builders.request(abusive, UserRequest.Kind.APPEAL, end_was_mistake=True)
    builders.request(abusive, UserRequest.Kind.THUMBS_DOWN)
    builders.request(abusive, UserRequest.Kind.THUMBS_DOWN, status=UserRequest.Status.RESOLVED)
    builders.review(auditor, abusive, AuditEntry.Action.MISTAKEN)
    builders.review(auditor, abusive, AuditEntry.Action.UPHELD)  # changed their mind: counts as upheld
    builders.review(auditor, reopened, AuditEntry.Action.MISTAKEN)
    audit.reopen_conversation(reopener, reopened, "Mistake")


def test_it_counts_starts_ends_declines_requests_and_reviews(auditor_client, known):
    stats = auditor_client.get(DASHBOARD).context["stats"]
    assert stats.started_total == 20
    # The reopened conversation's end still counts: it happened, and it was a mistake.
    assert counts(stats.ends_by_series) == {
        "assistant-abusive_user": 2,
        "assistant-user_requested": 1,
        "user": 2,
    }
    assert stats.ends_total == 5 and stats.claude_ends == 3
    assert sum(stats.started) == 20 and sum(sum(day) for day in stats.ended.values()) == 5
    assert stats.claude_rate_per_1000 == 150.0 and stats.all_rate_per_1000 == 250.0
    assert counts(stats.declined) == {"too_early": 2, "crisis": 1} and stats.declined_total == 3
    assert stats.crisis_detections == 1
    assert counts(stats.open_requests) == {"end_request": 0, "end_feedback": 0, "thumbs_down": 1, "appeal": 1}
    assert stats.open_requests_total == 2 and stats.users_say_mistaken == 1
    assert counts(stats.reviews) == {"upheld": 1, "mistaken": 0, "reopened": 1}
    assert stats.mistaken_ends == 1
    assert [e.conversation.title for e in stats.recent_mistakes] == ["reopened", "reopened", "abusive"]


def test_the_alert_follows_the_configured_threshold(auditor_client, known, settings):
    settings.BOWOUT_END_RATE_ALERT_PER_1000 = 200
    html = auditor_client.get(DASHBOARD).content.decode()
    assert 'data-role="alert"' not in html and "Below the threshold." in html
    settings.BOWOUT_END_RATE_ALERT_PER_1000 = 5
    html = auditor_client.get(DASHBOARD).content.decode()
    assert 'data-role="alert"' in html and "150.0 per 1,000" in html


def test_the_charts_draw_and_tabulate_each_day(auditor_client, known):
    response = auditor_client.get(DASHBOARD)
    started, ended = response.context["charts"]
    assert sum(row.total for row in started.rows) == 20 and sum(row.total for row in ended.rows) == 5
    top = int(started.ticks[-1].label)
    assert top >= max(bar.total for bar in started.bars)
    for bar in started.bars:
        for segment in bar.segments:
            # Heights in proportion to the axis, and nothing above its top.
            assert segment.height == round(segment.value * charts.PLOT_HEIGHT / top, 2)
            assert segment.y >= started.ticks[-1].y
    html = response.content.decode()
    assert html.count("<rect class=") >= 10
    assert "Claude: abusive or harmful user" in html and "<desc" in html


def test_it_runs_on_demo_data_and_seed_demo_can_run_twice(auditor_client, settings):
    # force: the test runner turns DEBUG off, which seed_demo takes for production.
    output = io.StringIO()
    call_command("seed_demo", conversations=300, users=5, seed=1, force=True, stdout=output)
    assert "Added 300 conversations" in output.getvalue() and "Took" in output.getvalue()
    first = Conversation.objects.count()
    call_command("seed_demo", conversations=200, users=5, seed=2, force=True, stdout=output)
    assert first == 300 and Conversation.objects.count() == 500
    assert User.objects.filter(email__startswith="demo-user-").count() == 5
    every_kind = set(
        Conversation.objects.exclude(ended_by="").values_list("ended_by", "end_reason").distinct()
    )
    assert {
        ("assistant", "abusive_user"),
        ("assistant", "user_requested"),
        ("user", "user_requested"),
    } <= every_kind
    kinds = set(ConversationEvent.objects.values_list("kind", flat=True))
    assert {"end_confirm_requested", "end_honoured", "end_declined", "crisis_detected", "user_end"} <= kinds
    response = auditor_client.get(DASHBOARD)
    assert response.status_code == 200
    stats = response.context["stats"]
    assert stats.started_total > 0 and stats.claude_ends > 0 and stats.declined_total > 0
    list_page = auditor_client.get(reverse("admin:welfare_admin_endedconversation_changelist"))
    assert list_page.status_code == 200 and list_page.context["cl"].result_count > 0


def test_seed_demo_refuses_production_without_force(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", conversations=1)
