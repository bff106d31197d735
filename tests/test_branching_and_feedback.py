"""After an end: edit an earlier message to branch, rate replies, give feedback, appeal."""

import pytest
from django.urls import reverse

from chat.models import Conversation, Message, MessageRating, UserRequest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ended_conversation(alice):
    conversation = Conversation.objects.create(user=alice, title="Rough chat")
    Message.objects.create(conversation=conversation, role="user", content="Tell me about rivers")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="Rivers flow.",
        content_html="<p>Rivers flow.</p>",
    )
    second = Message.objects.create(conversation=conversation, role="user", content="You're stupid")
    Message.objects.create(
        conversation=conversation,
        role="assistant",
        content="I'm ending this conversation now.",
        api_messages=[
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "I'm ending this conversation now."},
                    {"type": "tool_use", "id": "t1", "name": "end_conversation", "input": {}},
                ],
            }
        ],
    )
    conversation.ended_at = conversation.created_at
    conversation.ended_by = "assistant"
    conversation.end_reason = "abusive_user"
    conversation.save()
    conversation.second_user_message = second
    return conversation


def test_editing_a_message_of_an_ended_chat_starts_a_branch(alice_client, ended_conversation):
    url = reverse("chat:edit", args=[ended_conversation.pk, ended_conversation.second_user_message.pk])
    response = alice_client.post(url, {"text": "Sorry. Tell me about lakes instead."}, follow=True)

    branch = Conversation.objects.exclude(pk=ended_conversation.pk).get()
    assert branch.parent == ended_conversation and not branch.is_ended
    contents = list(branch.messages.values_list("role", "content"))
    assert contents[:3] == [
        ("user", "Tell me about rivers"),
        ("assistant", "Rivers flow."),
        ("user", "Sorry. Tell me about lakes instead."),
    ]
    reply = branch.messages.last()
    assert reply.role == "assistant" and reply.status == Message.Status.COMPLETE and reply.content
    html = response.content.decode()
    assert 'id="composer"' in html and "A branch of" in html
    # The original stays ended and readable, untouched.
    ended_conversation.refresh_from_db()
    assert ended_conversation.is_ended and ended_conversation.messages.count() == 4


def test_a_branch_over_a_tool_call_without_result_is_accepted_by_the_api(alice_client, ended_conversation):
    # A user message saved after the end-tool call (as one racing the end would be): branching from it
    # carries a tool_use with no result, which must be dropped or the API refuses the history.
    last_user = Message.objects.create(conversation=ended_conversation, role="user", content="placeholder")
    url = reverse("chat:edit", args=[ended_conversation.pk, last_user.pk])
    alice_client.post(url, {"text": "Let's start over politely."})
    branch = Conversation.objects.exclude(pk=ended_conversation.pk).get()
    assert branch.messages.last().status == Message.Status.COMPLETE


def test_an_empty_edit_is_refused(alice_client, ended_conversation):
    url = reverse("chat:edit", args=[ended_conversation.pk, ended_conversation.second_user_message.pk])
    response = alice_client.post(url, {"text": "  "})
    assert response.status_code == 400
    assert Conversation.objects.count() == 1


def test_someone_else_cannot_branch_or_rate(bob, ended_conversation):
    from django.test import Client

    client = Client()
    client.force_login(bob)
    message = ended_conversation.second_user_message
    assert (
        client.post(reverse("chat:edit", args=[ended_conversation.pk, message.pk]), {"text": "x"}).status_code
        == 404
    )
    reply = ended_conversation.messages.filter(role="assistant").first()
    assert (
        client.post(
            reverse("chat:rate", args=[ended_conversation.pk, reply.pk]), {"rating": "up"}
        ).status_code
        == 404
    )


def test_thumbs_on_replies_are_stored_and_a_thumbs_down_reaches_staff(alice_client, ended_conversation):
    reply = ended_conversation.messages.filter(role="assistant").first()
    url = reverse("chat:rate", args=[ended_conversation.pk, reply.pk])
    fragment = alice_client.post(url, {"rating": "down"}, headers={"HX-Request": "true"}).content.decode()
    assert 'aria-label="Bad reply" aria-pressed="true"' in fragment
    alice_client.post(url, {"rating": "down"})
    assert MessageRating.objects.get(message=reply).rating == "down"
    assert UserRequest.objects.filter(kind="thumbs_down", message=reply).count() == 1

    alice_client.post(url, {"rating": "up"})
    assert MessageRating.objects.get(message=reply).rating == "up"
    assert alice_client.post(url, {"rating": "meh"}).status_code == 400


def test_feedback_on_an_end_and_an_appeal_are_stored(alice_client, ended_conversation):
    page = alice_client.get(reverse("chat:conversation", args=[ended_conversation.pk])).content.decode()
    assert "Claude ended this conversation" in page and "Give feedback" in page

    response = alice_client.post(
        reverse("chat:feedback", args=[ended_conversation.pk]),
        {"mistaken": "1", "text": "I was joking"},
        headers={"HX-Request": "true"},
    )
    assert "your feedback reached Bowout" in response.content.decode()
    feedback = UserRequest.objects.get(kind="end_feedback")
    assert feedback.end_was_mistake and feedback.text == "I was joking" and feedback.status == "open"

    alice_client.post(reverse("chat:appeal", args=[ended_conversation.pk]), {})
    assert UserRequest.objects.filter(kind="appeal", conversation=ended_conversation).exists()

    empty = alice_client.post(reverse("chat:feedback", args=[ended_conversation.pk]), {"text": " "})
    assert empty.status_code == 400


def test_a_branch_keeps_every_field_of_the_replies_it_copies(alice_client, alice):
    """Edit copies the earlier messages whole: a refusal keeps its explanation, a reply its prompt-cache
    token counts, so the branch reads and bills the same as the original."""
    original = Conversation.objects.create(user=alice, title="Cached chat")
    Message.objects.create(conversation=original, role="user", content="Tell me about rivers")
    Message.objects.create(
        conversation=original,
        role="assistant",
        content="I can't help with that part.",
        content_html="<p>I can't help with that part.</p>",
        api_messages=[{"role": "assistant", "content": [{"type": "text", "text": "I can't help."}]}],
        status=Message.Status.REFUSED,
        stop_reason="refusal",
        stop_details={"type": "refusal", "category": "cyber", "explanation": "Exploit code."},
        error="",
        model_name="claude-sonnet-5-5",
        input_tokens=120,
        output_tokens=14,
        cache_read_tokens=4096,
        cache_creation_tokens=512,
    )
    Message.objects.create(conversation=original, role="user", content="Then tell me about lakes")
    Message.objects.create(
        conversation=original,
        role="assistant",
        content="Lakes are still.",
        status=Message.Status.INTERRUPTED,
        error=Message.INTERRUPTED_ERROR,
        stop_reason="",
        input_tokens=300,
        output_tokens=4,
        cache_read_tokens=2048,
        cache_creation_tokens=64,
    )
    edited = Message.objects.create(conversation=original, role="user", content="And the sea?")

    alice_client.post(reverse("chat:edit", args=[original.pk, edited.pk]), {"text": "And oceans?"})

    branch = Conversation.objects.get(parent=original)
    # What a copy may not keep: its own row, conversation and the sender's resend id.
    not_copied = {"id", "conversation", "client_id"}
    fields = [f.attname for f in Message._meta.concrete_fields if f.name not in not_copied]
    originals = list(original.messages.filter(pk__lt=edited.pk).values_list(*fields))
    copies = list(branch.messages.order_by("id").values_list(*fields)[: len(originals)])
    assert copies == originals
