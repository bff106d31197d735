"""The transcript page: the whole conversation in order, events in line, long text folded, all escaped."""

import json

import pytest
from django.urls import reverse

from chat.models import ConversationEvent, EndedBy, EndReason, Message, UserRequest
from tests.welfare_admin import builders
from welfare_admin import transcript
from welfare_admin.models import AuditEntry

pytestmark = pytest.mark.django_db


def page_url(conversation) -> str:
    return reverse("admin:welfare_admin_endedconversation_change", args=[conversation.pk])


def test_it_shows_messages_and_events_in_time_order(auditor_client, auditor, alice):
    c = builders.conversation(alice, title="Escalation", texts=["first question", "second message"])
    last_user = c.messages.filter(role=Message.Role.USER).last()
    ConversationEvent.objects.create(
        conversation=c,
        message=last_user,
        kind=ConversationEvent.Kind.CRISIS_DETECTED,
        detail={"crisis_terms": ["hopeless"]},
        created_at=last_user.created_at,
    )
    builders.declined(c, "too_early", at=last_user.created_at)
    builders.end(c)
    builders.request(c, UserRequest.Kind.APPEAL, text="I was quoting a film")
    builders.review(auditor, c, AuditEntry.Action.UPHELD, "Warned twice first")

    response = auditor_client.get(page_url(c))
    assert response.status_code == 200
    html = response.content.decode()
    expected_order = [
        "first question",
        "Reply 0",
        "second message",
        "Crisis signals; support shown",
        "hopeless",
        "Claude&#x27;s end was declined",
        "Too early",
        "Reply 1",
        "Claude asked to end; asked to confirm",
        "Claude ended the conversation",
        builders.ABUSE_SUMMARY,
        "User request: Appeal",
        "I was quoting a film",
        "Reviewed: end upheld",
        "Warned twice first",
    ]
    position = html.index('data-role="timeline"')
    for text in expected_order:
        position = html.find(text, position)
        assert position != -1, f"{text!r} is missing or out of order"
    assert "welfare-auditor@example.com" in html  # who reviewed


def test_user_and_model_text_is_escaped(auditor_client, alice):
    c = builders.ended(
        alice,
        title="<script>alert('title')</script>",
        texts=["<script>alert('user')</script>", "<img src=x onerror=alert(1)>"],
        summary="<script>alert('summary')</script>",
    )
    Message.objects.filter(conversation=c, role=Message.Role.ASSISTANT).update(
        content="<script>alert('model')</script>", content_html="<script>alert('html')</script>"
    )
    builders.request(c, text="<script>alert('request')</script>")
    html = auditor_client.get(page_url(c)).content.decode()
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;user&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;model&#x27;)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#x27;summary&#x27;)&lt;/script&gt;" in html


def test_long_messages_fold_into_details(auditor_client, alice):
    long_text = "A very long message. " * 200
    c = builders.ended(alice, texts=[long_text, "short one"])
    html = auditor_client.get(page_url(c)).content.decode()
    timeline = html[html.index('data-role="timeline"') :]
    assert timeline.count("<details>") == 1
    details = timeline[timeline.index("<details>") : timeline.index("</details>")]
    assert long_text.strip() in details and f"({len(long_text)} characters" in details
    assert "short one" not in details


def test_a_reopened_conversation_shows_the_end_and_the_staff_action(auditor_client, reopener, alice):
    from welfare_admin import audit

    c = builders.ended(alice, title="Reopened one")
    audit.reopen_conversation(reopener, c, "Misread sarcasm")
    html = auditor_client.get(page_url(c)).content.decode()
    assert 'data-role="reopened"' in html
    assert "Staff action" in html and "Misread sarcasm" in html and "reopener@example.com" in html
    assert "Previous end: reason" in html


def test_a_conversation_with_a_thumbs_down_is_auditable_before_it_ends(auditor_client, alice):
    c = builders.conversation(alice, title="Open with thumbs-down")
    builders.request(c, UserRequest.Kind.THUMBS_DOWN, message=c.messages.last(), text="Wrong")
    assert auditor_client.get(page_url(c)).status_code == 200


@pytest.mark.parametrize(
    ("cause", "shown"),
    [
        ("no_request", "the user never asked to end the conversation"),
        ("no_abuse", "too few abusive user messages"),
        ("crisis", "Crisis signals in the conversation"),
    ],
)
def test_an_open_conversation_with_a_declined_end_shows_the_decline_and_why(
    auditor_client, alice, cause, shown
):
    c = builders.conversation(alice, title="Declined", texts=["what's the capital of Peru?"])
    builders.declined(c, cause)

    html = auditor_client.get(page_url(c)).content.decode()
    assert "Declined because" in html and shown in html


def test_an_ordinary_open_conversation_is_not_found(auditor_client, alice):
    c = builders.conversation(alice, title="Nothing to audit")
    assert auditor_client.get(page_url(c)).status_code == 404
    assert auditor_client.get("/admin/welfare_admin/endedconversation/not-a-uuid/change/").status_code == 404


def test_the_transcript_json_export_holds_everything_and_is_logged(auditor_client, auditor, alice):
    c = builders.ended(alice, title="Export me", turns=1, texts=["hello <b>there</b>"])
    builders.request(c, UserRequest.Kind.END_FEEDBACK, text="unfair", end_was_mistake=True)
    response = auditor_client.get(
        reverse("admin:welfare_admin_endedconversation_transcript_json", args=[c.pk])
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert f'filename="transcript-{c.pk}.json"' in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["conversation"]["id"] == str(c.pk)
    assert data["conversation"]["user"] == "alice@example.com"
    assert (data["conversation"]["ended_by"], data["conversation"]["end_reason"]) == (
        EndedBy.ASSISTANT,
        EndReason.ABUSIVE_USER,
    )
    assert [m["content"] for m in data["messages"]] == ["hello <b>there</b>", "Reply 0"]
    assert [e["kind"] for e in data["events"]] == ["end_confirm_requested", "end_honoured"]
    assert data["requests"][0]["text"] == "unfair" and data["requests"][0]["end_was_mistake"] is True
    assert data["exported_by"] == "welfare-auditor@example.com"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.TRANSCRIPT_EXPORTED)
    assert (entry.actor, entry.conversation_id) == (auditor, c.pk)


def test_the_timeline_costs_four_queries_whatever_its_length(alice, django_assert_num_queries):
    c = builders.ended(alice, turns=30)
    with django_assert_num_queries(4):
        items = transcript.timeline(c)
    assert len(items) == 62
