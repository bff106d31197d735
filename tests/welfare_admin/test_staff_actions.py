"""Reviewing and reopening: each action needs its permission and a note, and leaves an immutable entry."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from chat.models import ConversationEvent, EndedBy
from tests.welfare_admin import builders
from tests.welfare_admin.conftest import client_for
from welfare_admin.models import AuditEntry, EndedConversation, ImmutableAuditEntry

pytestmark = pytest.mark.django_db


def url(name: str, conversation) -> str:
    return reverse(f"admin:welfare_admin_endedconversation_{name}", args=[conversation.pk])


@pytest.fixture
def ended(alice):
    return builders.ended(alice, title="Ended by Claude")


@pytest.mark.parametrize("verdict", [AuditEntry.Action.UPHELD, AuditEntry.Action.MISTAKEN])
def test_an_auditor_records_a_review_with_a_note(auditor_client, auditor, ended, verdict):
    response = auditor_client.post(url("review", ended), {"verdict": verdict, "note": "Read the whole thing"})
    assert response.status_code == 302 and response["Location"] == url("change", ended)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.actor_email, entry.note, entry.conversation_id) == (
        verdict,
        auditor,
        "welfare-auditor@example.com",
        "Read the whole thing",
        ended.pk,
    )
    assert entry.created_at is not None
    page = auditor_client.get(url("change", ended)).content.decode()
    assert "Read the whole thing" in page and 'data-role="audit-entry"' in page
    assert EndedConversation.objects.for_audit().get(pk=ended.pk).review == verdict
    # Reviewing does not change the conversation itself.
    ended.refresh_from_db()
    assert ended.is_ended


@pytest.mark.parametrize(
    "data", [{"verdict": "upheld", "note": "   "}, {"verdict": "upheld"}, {"verdict": "maybe", "note": "x"}]
)
def test_a_review_needs_a_verdict_and_a_note(auditor_client, ended, data):
    response = auditor_client.post(url("review", ended), data)
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not AuditEntry.objects.exists()


def test_review_and_reopen_take_posts_only(reopener_client, ended):
    assert reopener_client.get(url("review", ended)).status_code == 405
    assert reopener_client.get(url("reopen", ended)).status_code == 405


def test_actions_need_the_csrf_token(auditor, ended):
    client = Client(enforce_csrf_checks=True)
    client.force_login(auditor)
    response = client.post(url("review", ended), {"verdict": "upheld", "note": "x"})
    assert response.status_code == 403
    assert not AuditEntry.objects.exists()
    page = client.get(url("change", ended)).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page


def test_reopen_reopens_for_the_user_and_is_audited(reopener_client, reopener, ended, alice_client):
    response = reopener_client.post(url("reopen", ended), {"note": "Sarcasm, not abuse"})
    assert response.status_code == 302
    ended.refresh_from_db()
    assert not ended.is_ended and ended.reopened_at is not None
    entry = AuditEntry.objects.get(action=AuditEntry.Action.REOPENED)
    assert (entry.actor, entry.note, entry.conversation_id) == (reopener, "Sarcasm, not abuse", ended.pk)
    assert entry.detail["previous_end"]["ended_by"] == EndedBy.ASSISTANT
    event = ConversationEvent.objects.get(kind=ConversationEvent.Kind.STAFF_ACTION)
    assert (event.actor, event.detail["note"]) == (reopener, "Sarcasm, not abuse")

    # The user's own page: the reopened line and the composer are back.
    page = alice_client.get(reverse("chat:conversation", args=[ended.pk])).content.decode()
    assert 'data-role="reopened"' in page and "Bowout's staff reopened this conversation" in page
    assert 'id="composer"' in page


# A superuser reopens: the auditors group comes from a data migration, which this test's flush removes.
@pytest.mark.django_db(transaction=True)
async def test_a_reopen_gives_the_users_open_tab_its_composer_back(superuser_client, alice, open_socket):
    ended = await sync_to_async(builders.ended)(alice)
    _, tab = await open_socket(alice, ended.pk)
    assert 'id="composer"' not in tab.snapshot

    response = await sync_to_async(superuser_client.post)(
        url("reopen", ended), {"note": "Sarcasm, not abuse"}
    )

    assert response.status_code == 302
    frame = await tab.receive()
    assert 'id="composer"' in frame and 'data-role="reopened"' in frame


def test_reopen_needs_a_note(reopener_client, ended):
    response = reopener_client.post(url("reopen", ended), {"note": "  "})
    assert response.status_code == 400
    ended.refresh_from_db()
    assert ended.is_ended
    assert not AuditEntry.objects.exists()


def test_reopening_an_open_conversation_changes_nothing(reopener_client, reopener, ended):
    reopener_client.post(url("reopen", ended), {"note": "first"})
    response = reopener_client.post(url("reopen", ended), {"note": "second"}, follow=True)
    assert "not ended" in response.content.decode()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.REOPENED).count() == 1


def test_the_reopen_form_shows_only_to_those_who_may_reopen(auditor_client, reopener_client, ended):
    assert 'data-role="reopen-form"' not in auditor_client.get(url("change", ended)).content.decode()
    assert 'data-role="review-form"' in auditor_client.get(url("change", ended)).content.decode()
    assert 'data-role="reopen-form"' in reopener_client.get(url("change", ended)).content.decode()


def test_an_auditor_without_the_reopen_permission_is_refused(auditor_client, ended):
    response = auditor_client.post(url("reopen", ended), {"note": "Let me"})
    assert response.status_code == 403
    ended.refresh_from_db()
    assert ended.is_ended
    assert not AuditEntry.objects.exists()


def test_a_superuser_may_reopen(superuser_client, ended):
    assert superuser_client.post(url("reopen", ended), {"note": "Mistake"}).status_code == 302
    ended.refresh_from_db()
    assert not ended.is_ended


def test_audit_entries_cannot_be_changed_or_deleted(auditor, ended, superuser):
    entry = builders.review(auditor, ended)
    entry.note = "rewritten"
    with pytest.raises(ImmutableAuditEntry):
        entry.save()
    with pytest.raises(ImmutableAuditEntry):
        entry.delete()
    assert AuditEntry.objects.get().note == "Checked"
    # Nor through the admin, even for a superuser.
    model_admin = admin.site._registry[AuditEntry]
    request = type("Request", (), {"user": superuser})()
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, entry)
    assert not model_admin.has_delete_permission(request, entry)
    client = client_for(superuser)
    change = reverse("admin:welfare_admin_auditentry_change", args=[entry.pk])
    page = client.get(change)
    assert page.status_code == 200 and "Checked" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()  # view only: no save button
    assert client.post(change, {"note": "rewritten"}).status_code == 403
    delete = reverse("admin:welfare_admin_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get().note == "Checked"


def test_the_audit_log_lists_every_action(superuser_client, auditor, reopener, ended):
    builders.review(auditor, ended, AuditEntry.Action.MISTAKEN, "Too quick")
    from welfare_admin import audit

    audit.reopen_conversation(reopener, ended, "Reopening")
    response = superuser_client.get(reverse("admin:welfare_admin_auditentry_changelist"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Too quick" in html and "Reopening" in html and "reopener@example.com" in html


def test_a_conversation_that_has_not_ended_cannot_be_reviewed(auditor_client, alice):
    from chat.models import UserRequest

    c = builders.conversation(alice, title="Open, with a thumbs-down")
    builders.request(c, UserRequest.Kind.THUMBS_DOWN, message=c.messages.last())
    page = auditor_client.get(url("change", c)).content.decode()
    assert 'data-role="review-form"' not in page and "no end to review" in page
    response = auditor_client.post(url("review", c), {"verdict": "upheld", "note": "x"}, follow=True)
    assert "no end to review" in response.content.decode()
    assert not AuditEntry.objects.exists()
