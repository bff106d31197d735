"""CSV of the filtered list (one row per conversation, the changelist's own filters and search)."""

import csv
import io

import pytest
from django.urls import reverse

from chat.models import EndedBy, EndReason
from tests.welfare_admin import builders
from welfare_admin.exports import HEADER
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db

LIST = reverse("admin:welfare_admin_endedconversation_changelist")
CSV = reverse("admin:welfare_admin_endedconversation_export_csv")


def rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == HEADER
    return list(reader)


@pytest.fixture
def ended(alice, bob):
    return [
        builders.ended(alice, title="Claude one", texts=["find the needle", "needle again"], turns=3),
        builders.ended(alice, title="Claude two", reason=EndReason.USER_REQUESTED, summary="Asked"),
        builders.ended(bob, title="Bob's", by=EndedBy.USER, reason=EndReason.USER_REQUESTED),
        builders.conversation(bob, title="Open"),
    ]


def test_it_exports_every_ended_conversation_once(auditor_client, ended):
    exported = rows(auditor_client.get(CSV))
    assert sorted(r["title"] for r in exported) == ["Bob's", "Claude one", "Claude two"]
    one = next(r for r in exported if r["title"] == "Claude one")
    assert one["id"] == str(ended[0].pk)
    assert (one["user"], one["ended_by"], one["end_reason"], one["turns"], one["review_status"]) == (
        "alice@example.com",
        "assistant",
        "abusive_user",
        "3",
        "unreviewed",
    )
    assert one["summary"] == builders.ABUSE_SUMMARY and one["feedback"] == "no"


def test_it_respects_the_filters_and_search_of_the_list(auditor_client, ended):
    assert [
        r["title"] for r in rows(auditor_client.get(f"{CSV}?ended_by=assistant&reason=user_requested"))
    ] == ["Claude two"]
    # A search matching several messages of one conversation is still one row.
    assert [r["title"] for r in rows(auditor_client.get(CSV, {"q": "needle"}))] == ["Claude one"]
    # The list links to the export with its own query string.
    html = auditor_client.get(f"{LIST}?ended_by=user&q=bob").content.decode()
    assert f"{CSV}?ended_by=user&amp;q=bob" in html


def test_invalid_filters_are_refused(auditor_client, ended):
    assert auditor_client.get(f"{CSV}?no_such_field=1").status_code == 400


def test_spreadsheet_formulas_are_defused(auditor_client, alice):
    builders.ended(alice, title='=HYPERLINK("http://evil.example","click")', summary="+1+1")
    (row,) = rows(auditor_client.get(CSV))
    assert row["title"].startswith("'=") and row["summary"] == "'+1+1"


def test_exports_are_logged(auditor_client, auditor, ended):
    rows(auditor_client.get(f"{CSV}?ended_by=user"))
    entry = AuditEntry.objects.get(action=AuditEntry.Action.LIST_EXPORTED)
    assert (entry.actor, entry.detail) == (auditor, {"query": "ended_by=user"})
