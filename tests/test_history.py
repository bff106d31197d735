"""Saved messages become a history the Messages API accepts."""

import pytest

from chat.generation import history_of
from chat.history import normalize
from chat.models import Message


def test_roles_alternate_and_end_with_the_user():
    messages = normalize(
        [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},  # after a failed reply there are two in a row
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "third"},
            {"role": "assistant", "content": "a partial reply being retried"},
        ]
    )
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[0]["content"]] == ["first", "second"]


def test_empty_text_is_dropped():
    messages = normalize(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "  "},
            {"role": "user", "content": "x"},
        ]
    )
    assert [m["role"] for m in messages] == ["user"]


def test_tool_calls_without_results_are_dropped():
    messages = normalize(
        [
            {"role": "user", "content": "go away"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Goodbye."},
                    {"type": "tool_use", "id": "t1", "name": "end_conversation", "input": {}},
                ],
            },
            {"role": "user", "content": "edited message"},
        ]
    )
    assert messages[1]["content"] == [{"type": "text", "text": "Goodbye."}]


def test_answered_tool_calls_are_kept():
    tool_use = {
        "type": "tool_use",
        "id": "t1",
        "name": "end_conversation",
        "input": {"reason": "abusive_user"},
    }
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "Not ended", "is_error": True}
    messages = normalize(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [result]},
            {"role": "assistant", "content": "Let's go on."},
            {"role": "user", "content": "ok"},
        ]
    )
    assert messages[1]["content"] == [tool_use]
    assert messages[2]["content"] == [result]


def test_unsigned_thinking_from_other_servers_is_left_out_of_history():
    signed = {"type": "thinking", "thinking": "", "signature": "c2ln"}
    unsigned = {"type": "thinking", "thinking": "Let me think."}
    sent = normalize(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [unsigned, {"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": "And again"},
            {"role": "assistant", "content": [signed, {"type": "text", "text": "Hi again."}]},
            {"role": "user", "content": "Bye"},
        ]
    )
    assert sent[1]["content"] == [{"type": "text", "text": "Hello!"}]
    assert sent[3]["content"][0] == signed


@pytest.mark.django_db
def test_a_message_whose_reply_failed_is_left_out_once_the_user_writes_on(alice, conversation):
    def add(role: str, content: str, status: str = Message.Status.COMPLETE) -> Message:
        return Message.objects.create(conversation=conversation, role=role, content=content, status=status)

    add("user", "Tell me about owls [fault:server]")
    add("assistant", "", Message.Status.FAILED)
    add("user", "Hello?")
    add("assistant", "", Message.Status.STOPPED)  # stopped before a word: nothing answered either
    add("user", "How do tides work?")

    sent = history_of(conversation.messages.all())

    assert sent == [{"role": "user", "content": [{"type": "text", "text": "How do tides work?"}]}]


@pytest.mark.django_db
def test_a_retry_answers_the_failed_message_itself(alice, conversation):
    Message.objects.create(conversation=conversation, role="user", content="Owls?")
    Message.objects.create(conversation=conversation, role="assistant", status=Message.Status.FAILED)

    assert history_of(conversation.messages.all()) == [
        {"role": "user", "content": [{"type": "text", "text": "Owls?"}]}
    ]
