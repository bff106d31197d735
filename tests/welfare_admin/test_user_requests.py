"""User requests: one list of what users asked, filters and search, open → resolved with a staff note."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from chat.models import EndedBy, EndReason, UserRequest
from tests.welfare_admin import builders
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db

LIST = reverse("admin:welfare_admin_welfarerequest_changelist")
Kind, Source, Status = UserRequest.Kind, UserRequest.Source, UserRequest.Status


def texts(response) -> set[str]:
    return {r.text for r in response.context["cl"].result_list}


@pytest.fixture
def asked(alice, bob):
    ended_by_claude = builders.ended(alice, title="Claude ended it")
    user_ended = builders.ended(bob, title="Bob ended it", by=EndedBy.USER, reason=EndReason.USER_REQUESTED)
    open_chat = builders.conversation(alice, title="Still going")
    last_year = timezone.now() - timedelta(days=400)
    return {
        "appeal": builders.request(ended_by_claude, Kind.APPEAL, text="appeal: I was quoting"),
        "feedback": builders.request(
            ended_by_claude, Kind.END_FEEDBACK, text="feedback: harsh", end_was_mistake=True
        ),
        "button": builders.request(
            user_ended, Kind.END_REQUEST, source=Source.BUTTON, text="button: done", status=Status.RESOLVED
        ),
        "asked": builders.request(
            ended_by_claude,
            Kind.END_REQUEST,
            source=Source.ASKED_CLAUDE,
            text="asked: end",
            status=Status.RESOLVED,
        ),
        "thumbs": builders.request(
            open_chat,
            Kind.THUMBS_DOWN,
            message=open_chat.messages.last(),
            text="thumbs: wrong",
            created_at=last_year,
        ),
    }


def test_it_lists_every_kind_of_request_with_a_link_to_the_conversation(auditor_client, asked):
    response = auditor_client.get(LIST)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5
    html = response.content.decode()
    for r in asked.values():
        assert reverse("admin:welfare_admin_endedconversation_change", args=[r.conversation_id]) in html
    assert "alice@example.com" in html and "Thumbs-down on a reply" in html and "Asked Claude" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("kind__exact=appeal", {"appeal: I was quoting"}),
        ("kind__exact=end_request", {"button: done", "asked: end"}),
        ("kind__exact=thumbs_down", {"thumbs: wrong"}),
        ("source__exact=asked_claude", {"asked: end"}),
        ("source__exact=button", {"button: done"}),
        ("status__exact=open", {"appeal: I was quoting", "feedback: harsh", "thumbs: wrong"}),
        ("status__exact=resolved", {"button: done", "asked: end"}),
        ("end_was_mistake__exact=1", {"feedback: harsh"}),
        (
            "created_at__year={this_year}",
            {"appeal: I was quoting", "feedback: harsh", "button: done", "asked: end"},
        ),
        ("created_at__year={last_year}", {"thumbs: wrong"}),
    ],
)
def test_each_filter_narrows_the_list(auditor_client, asked, query, expected):
    today = timezone.localdate()
    query = query.format(this_year=today.year, last_year=(today - timedelta(days=400)).year)
    response = auditor_client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert texts(response) == expected


def test_the_link_from_a_transcript_lists_that_conversations_requests(auditor_client, asked):
    conversation_id = asked["appeal"].conversation_id
    response = auditor_client.get(LIST, {"conversation": str(conversation_id)})
    assert texts(response) == {"appeal: I was quoting", "feedback: harsh", "asked: end"}


@pytest.mark.parametrize(
    ("term", "expected"),
    [("bob@", {"button: done"}), ("quoting", {"appeal: I was quoting"}), ("Still going", {"thumbs: wrong"})],
)
def test_search_covers_email_text_and_conversation_title(auditor_client, asked, term, expected):
    assert texts(auditor_client.get(LIST, {"q": term})) == expected


def test_an_auditor_resolves_a_request_with_a_note(auditor_client, auditor, asked):
    appeal = asked["appeal"]
    page = reverse("admin:welfare_admin_welfarerequest_change", args=[appeal.pk])
    html = auditor_client.get(page).content.decode()
    assert 'data-role="resolve-form"' in html and 'data-role="transcript-link"' in html
    resolve = reverse("admin:welfare_admin_welfarerequest_resolve", args=[appeal.pk])
    assert auditor_client.post(resolve, {"note": " "}).status_code == 400
    response = auditor_client.post(resolve, {"note": "Reviewed the chat; end upheld, replied by email."})
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert (appeal.status, appeal.staff_note, appeal.resolved_by) == (
        Status.RESOLVED,
        "Reviewed the chat; end upheld, replied by email.",
        auditor,
    )
    assert appeal.resolved_at is not None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.user_request_id, entry.conversation_id) == (
        AuditEntry.Action.REQUEST_RESOLVED,
        auditor,
        appeal.pk,
        appeal.conversation_id,
    )
    # Resolved stays resolved: no second resolution, no second entry, no form.
    auditor_client.post(resolve, {"note": "again"})
    assert AuditEntry.objects.count() == 1
    assert 'data-role="resolve-form"' not in auditor_client.get(page).content.decode()


def test_the_bulk_action_asks_for_a_note_then_resolves_open_requests(auditor_client, asked):
    chosen = [asked["appeal"].pk, asked["thumbs"].pk, asked["button"].pk]
    data = {"action": "resolve_selected", ACTION_CHECKBOX_NAME: chosen}
    response = auditor_client.post(LIST, data)
    assert response.status_code == 200
    assert "welfare_admin/resolve_requests.html" in [t.name for t in response.templates]
    assert UserRequest.objects.filter(status=Status.OPEN).count() == 3

    response = auditor_client.post(LIST, {**data, "apply": "1", "note": "Batch triage"}, follow=True)
    assert "Resolved 2 requests. 1 was already resolved." in response.content.decode()
    assert set(UserRequest.objects.filter(status=Status.OPEN).values_list("text", flat=True)) == {
        "feedback: harsh"
    }
    assert (
        AuditEntry.objects.filter(action=AuditEntry.Action.REQUEST_RESOLVED, note="Batch triage").count() == 2
    )


def test_resolving_needs_the_resolve_permission(make_user, asked):
    from django.contrib.auth.models import Permission

    from tests.welfare_admin.conftest import client_for

    reader = make_user("reader@example.com", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_welfarerequest"))
    client = client_for(reader)
    resolve = reverse("admin:welfare_admin_welfarerequest_resolve", args=[asked["appeal"].pk])
    assert client.post(resolve, {"note": "x"}).status_code == 403
    response = client.post(LIST, {"action": "resolve_selected", ACTION_CHECKBOX_NAME: [asked["appeal"].pk]})
    assert response.status_code in (200, 302)
    assert not AuditEntry.objects.exists()
    asked["appeal"].refresh_from_db()
    assert asked["appeal"].status == Status.OPEN
