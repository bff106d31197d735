"""Who may see what: auditors and superusers see transcripts, requests and the dashboard; other staff get
403; non-staff and anonymous visitors are sent to the admin login; reopening needs its own permission."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from chat.models import UserRequest
from tests.welfare_admin import builders
from tests.welfare_admin.conftest import client_for
from welfare_admin.models import AuditEntry
from welfare_admin.permissions import AUDITORS_GROUP

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(alice):
    c = builders.ended(alice, title="Private transcript")
    r = builders.request(c, UserRequest.Kind.APPEAL)
    return {
        "dashboard": reverse("welfare_admin:dashboard"),
        "ended list": reverse("admin:welfare_admin_endedconversation_changelist"),
        "transcript": reverse("admin:welfare_admin_endedconversation_change", args=[c.pk]),
        "transcript json": reverse("admin:welfare_admin_endedconversation_transcript_json", args=[c.pk]),
        "csv": reverse("admin:welfare_admin_endedconversation_export_csv"),
        "requests": reverse("admin:welfare_admin_welfarerequest_changelist"),
        "request": reverse("admin:welfare_admin_welfarerequest_change", args=[r.pk]),
        "audit log": reverse("admin:welfare_admin_auditentry_changelist"),
    }


def test_the_migration_made_the_auditors_group_without_reopen():
    group = Group.objects.get(name=AUDITORS_GROUP)
    assert set(group.permissions.values_list("content_type__app_label", "codename")) == {
        ("welfare_admin", "view_endedconversation"),
        ("welfare_admin", "review_conversation"),
        ("welfare_admin", "view_welfarerequest"),
        ("welfare_admin", "resolve_request"),
        ("welfare_admin", "view_auditentry"),
    }


@pytest.mark.parametrize("persona", ["auditor", "superuser"])
def test_auditors_and_superusers_see_every_page(request, pages, persona):
    client = client_for(request.getfixturevalue(persona))
    for name, url in pages.items():
        assert client.get(url).status_code == 200, name


def test_other_staff_get_403_everywhere(staff_client, pages, alice):
    for name, url in pages.items():
        response = staff_client.get(url)
        assert response.status_code == 403, name
        assert b"Private transcript" not in response.content
    c = builders.ended(alice)
    review = reverse("admin:welfare_admin_endedconversation_review", args=[c.pk])
    assert staff_client.post(review, {"verdict": "upheld", "note": "x"}).status_code == 403
    assert not AuditEntry.objects.exists()


def test_other_staff_do_not_see_the_app_or_the_dashboard_link(staff_client, auditor_client):
    index = staff_client.get(reverse("admin:index")).content.decode()
    assert "Welfare dashboard" not in index and "Ended conversations" not in index
    index = auditor_client.get(reverse("admin:index")).content.decode()
    assert reverse("welfare_admin:dashboard") in index and "Ended conversations" in index


@pytest.mark.parametrize("persona", ["alice", None])
def test_non_staff_and_anonymous_visitors_are_sent_to_the_admin_login(request, pages, persona):
    client = client_for(request.getfixturevalue(persona)) if persona else Client()
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("admin:login")), name


def test_reopening_needs_the_reopen_permission(auditor_client, reopener_client, staff_client, alice):
    c = builders.ended(alice)
    reopen = reverse("admin:welfare_admin_endedconversation_reopen", args=[c.pk])
    assert staff_client.post(reopen, {"note": "x"}).status_code == 403
    assert auditor_client.post(reopen, {"note": "x"}).status_code == 403
    c.refresh_from_db()
    assert c.is_ended
    assert reopener_client.post(reopen, {"note": "x"}).status_code == 302
    c.refresh_from_db()
    assert not c.is_ended


def test_reviewing_needs_the_review_permission(make_user, alice):
    """View alone (granted without the group) lets one read but not review."""
    from django.contrib.auth.models import Permission

    reader = make_user("reader@example.com", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_endedconversation"))
    client = client_for(reader)
    c = builders.ended(alice)
    assert client.get(reverse("admin:welfare_admin_endedconversation_change", args=[c.pk])).status_code == 200
    review = reverse("admin:welfare_admin_endedconversation_review", args=[c.pk])
    assert client.post(review, {"verdict": "upheld", "note": "x"}).status_code == 403
    assert not AuditEntry.objects.exists()


def test_a_group_member_who_is_not_staff_is_still_sent_to_login(make_user, pages):
    member = make_user("not-staff@example.com")
    member.groups.add(Group.objects.get(name=AUDITORS_GROUP))
    response = client_for(member).get(pages["dashboard"])
    assert response.status_code == 302
