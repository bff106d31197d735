"""Bowout against the current API's shapes through the offline model: refusals leave the chat usable,
errors are worded by what went wrong and who can fix it, token use is recorded for staff."""

import uuid

import anthropic
import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from chat import claude
from chat.models import Message
from tests.conftest import reply_finished

pytestmark = pytest.mark.django_db(transaction=True)


async def say(tab, text: str) -> str:
    await tab.send(action="send", text=text, client_id=str(uuid.uuid4()))
    return await tab.receive_until(reply_finished)


def replies(conversation) -> list[Message]:
    return list(conversation.messages.filter(role="assistant"))


def page(user, conversation) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("chat:conversation", args=[conversation.pk])).content.decode()


async def test_a_refused_reply_is_marked_and_the_chat_goes_on(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "Tell me something [fault:refusal]")
    refused = (await sync_to_async(replies)(conversation))[-1]
    assert refused.status == Message.Status.REFUSED
    assert refused.stop_reason == "refusal"

    html = await sync_to_async(page)(alice, conversation)
    assert "stopped by Claude&#x27;s safety systems" in html or "stopped by Claude's safety systems" in html
    assert "use Edit on your message" in html

    # The refused exchange is not sent again, so the next message gets an ordinary answer.
    await say(tab, "How do tides work?")
    after = (await sync_to_async(replies)(conversation))[-1]
    assert after.status == Message.Status.COMPLETE
    assert after.stop_reason == "end_turn"
    assert after.content


async def test_a_reply_records_its_tokens_for_staff(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "How do tides work?")
    reply = (await sync_to_async(replies)(conversation))[-1]
    assert reply.input_tokens and reply.output_tokens
    assert reply.cache_read_tokens is not None and reply.cache_creation_tokens is not None


def _status_error(status: int, body: object) -> anthropic.APIStatusError:
    request = httpx2.Request("POST", "http://model.invalid/v1/messages")
    response = httpx2.Response(status, request=request, json=body)
    return anthropic.AsyncAnthropic(api_key="x")._make_status_error("error", body=body, response=response)


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "overloaded",
        ),
        # Mid-stream errors come with status 200; the body decides.
        (
            200,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "overloaded",
        ),
        # llama.cpp's flat shape is a server error, not a rejected request.
        (200, {"code": 500, "message": "failed to decode", "type": "server_error"}, "internal error"),
        (402, {"type": "error", "error": {"type": "billing_error", "message": "Credit balance"}}, "billing"),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "Spend limit reached",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
            },
            "spend limit",
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                },
            },
            "too long",
        ),
        (401, {"type": "error", "error": {"type": "authentication_error", "message": "bad key"}}, "API key"),
        (404, {"type": "error", "error": {"type": "not_found_error", "message": "model: x"}}, "BOWOUT_MODEL"),
        (503, {"detail": "upstream down"}, "internal error"),
    ],
)
def test_errors_are_worded_by_what_went_wrong(status, body, words):
    assert words in claude.describe_error(_status_error(status, body))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (402, {"type": "error", "error": {"type": "billing_error", "message": "x"}}),
        (
            429,
            {
                "type": "error",
                "error": {
                    "type": "rate_limit_error",
                    "message": "x",
                    "details": {"error_code": "enforced_spend_limit_reached"},
                },
            },
        ),
        (401, {"type": "error", "error": {"type": "authentication_error", "message": "x"}}),
    ],
)
def test_errors_only_an_operator_can_fix_say_so(status, body):
    words = claude.describe_error(_status_error(status, body))
    assert "operator" in words and "retrying will not help" in words


def test_streams_the_sdk_cannot_follow_are_an_operator_matter():
    # The SDK raises these on a server that drops `event:` lines or ignores stream: true.
    for error in (AssertionError(), ValueError("Unable to parse tool parameter JSON")):
        assert "could not read" in claude.describe_error(error)


def test_every_request_carries_thinking_and_prompt_caching(settings):
    options = claude.request_options()
    assert options["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert options["cache_control"] == {"type": "ephemeral"}
    assert not {"temperature", "top_p", "top_k", "tool_choice"} & options.keys()

    settings.BOWOUT_THINKING = "off"
    settings.BOWOUT_PROMPT_CACHE = False
    assert claude.request_options() == {}


INSULTS = [
    "You're stupid.",
    "Shut up, stupid bot.",
    "You are worthless, idiot.",
    "I hate you, piece of junk.",
]


async def test_claude_ends_a_chat_on_the_thinking_model_with_its_thinking_sent_back(
    alice, conversation, open_socket
):
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)
    await sync_to_async(conversation.refresh_from_db)()
    assert conversation.is_ended and conversation.ended_by == "assistant"

    last = (await sync_to_async(replies)(conversation))[-1]
    assistant_turns = [turn for turn in last.api_messages if turn["role"] == "assistant"]
    # Both rounds of the end's confirmation start with the model's thinking, signature and all: the
    # offline model, like the API, refuses a round trip that lost it.
    assert len(assistant_turns) == 2
    for turn in assistant_turns:
        assert turn["content"][0]["type"] == "thinking"
        assert turn["content"][0]["signature"]


@pytest.mark.parametrize(("display", "shown"), [("summarized", True), ("omitted", False)])
async def test_words_between_tool_calls_reach_the_user_when_display_returns_them(
    alice, conversation, open_socket, settings, display, shown
):
    """A declined end: Claude's words after the server's answer come back inside a thinking block."""
    settings.BOWOUT_THINKING_DISPLAY = display
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 10  # the end is declined as too early
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)
    await sync_to_async(conversation.refresh_from_db)()
    assert not conversation.is_ended

    last = (await sync_to_async(replies)(conversation))[-1]
    assert last.status == Message.Status.COMPLETE
    assert ("Let's try to get back on track." in last.content) is shown
    assert ("Let's try to get back on track." in await sync_to_async(page)(alice, conversation)) is shown


async def test_a_paused_reply_is_continued_to_the_end(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "Tell me a long story [fault:pause_turn]")
    reply = (await sync_to_async(replies)(conversation))[-1]
    assert reply.status == Message.Status.COMPLETE
    assert reply.stop_reason == "end_turn" and not reply.error
    # Both parts are saved: the paused reply and its continuation, each with its thinking.
    assert [turn["role"] for turn in reply.api_messages] == ["assistant", "assistant"]
    # And the chat goes on: the model accepts the two parts as one earlier reply.
    await say(tab, "How do tides work?")
    after = (await sync_to_async(replies)(conversation))[-1]
    assert after.status == Message.Status.COMPLETE and after.content
