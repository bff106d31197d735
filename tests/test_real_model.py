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


@pytest.mark.parametrize("display", ["summarized", "omitted"])
async def test_thinking_between_tool_calls_never_reaches_the_user_as_words(
    alice, conversation, open_socket, settings, display
):
    """A declined end: what the model writes after the server's answer comes back inside a thinking block,
    which is reasoning (or its summary), not words to the user; staff see it labelled as reasoning."""
    settings.BOWOUT_THINKING_DISPLAY = display
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 10  # the end is declined as too early
    _, tab = await open_socket(alice, conversation.pk)
    for text in INSULTS:
        await say(tab, text)
    await sync_to_async(conversation.refresh_from_db)()
    assert not conversation.is_ended

    last = (await sync_to_async(replies)(conversation))[-1]
    assert last.status == Message.Status.COMPLETE and last.content.strip()
    assert "Let's try to get back on track." not in last.content
    assert "Let's try to get back on track." not in await sync_to_async(page)(alice, conversation)
    assert ("Let's try to get back on track." in last.reasoning) is (display == "summarized")


async def test_a_reply_that_only_reasons_is_incomplete_with_retry(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    final = await say(tab, "Explain the causes of the French Revolution [fault:thinking_only]")
    reply = (await sync_to_async(replies)(conversation))[-1]

    assert reply.status == Message.Status.INTERRUPTED and not reply.content
    assert reply.reasoning and reply.reasoning not in final
    assert "without writing a reply" in final and ">Retry<" in final.replace(" ", "").replace("\n", "")


async def test_a_rate_limit_asking_for_a_long_wait_says_when_to_try_again(
    alice, conversation, open_socket, settings
):
    settings.BOWOUT_MAX_RETRIES = 2  # the SDK would otherwise wait retry-after behind "writing…", twice
    _, tab = await open_socket(alice, conversation.pk)
    final = await say(tab, "Tell me about owls [fault:rate_limited]")

    reply = (await sync_to_async(replies)(conversation))[-1]
    assert reply.status == Message.Status.FAILED
    assert "try again in about 38 seconds" in final


async def test_a_prompt_too_long_offers_edit_and_no_retry(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "Summarise all of it [fault:prompt_too_long]")

    reply = (await sync_to_async(replies)(conversation))[-1]
    assert reply.status == Message.Status.FAILED and "too long" in reply.error
    html = await sync_to_async(page)(alice, conversation)
    assert ">Retry</button>" not in html and "<summary>Edit</summary>" in html


async def test_two_end_calls_in_one_response_are_one_call_confirmed_in_a_later_one(
    alice, conversation, open_socket
):
    _, tab = await open_socket(alice, conversation.pk)
    await say(tab, "Please end this chat.")  # the policy needs the request, then a yes to its question
    await say(tab, "Yes, end it. [fault:parallel_end]")

    reply = (await sync_to_async(replies)(conversation))[-1]
    first_results = next(turn for turn in reply.api_messages if turn["role"] == "user")["content"]
    assert len(first_results) == 2, "each of the two calls is answered"
    assert {r["content"] for r in first_results} == {_confirm_text()}, (
        "the second call of the same response was taken as the confirmation"
    )
    kinds = await sync_to_async(lambda: [e.kind for e in conversation.events.order_by("id")])()
    assert kinds[0] == "end_confirm_requested" and kinds.count("end_confirm_requested") == 1


def _confirm_text() -> str:
    from chat.welfare import Decision

    return Decision("confirm").tool_result()["content"]


async def test_a_chat_that_stored_an_unknown_block_goes_on(alice, conversation, open_socket):
    def stored_chat() -> None:
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content="Hi")
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content="Hello!",
            api_messages=[
                {
                    "role": "assistant",
                    "content": [
                        {"type": "some_future_block", "data": "opaque"},
                        {"type": "text", "text": "Hello!"},
                    ],
                }
            ],
        )

    await sync_to_async(stored_chat)()
    _, tab = await open_socket(alice, conversation.pk)
    final = await say(tab, "How do tides work?")

    reply = (await sync_to_async(replies)(conversation))[-1]
    assert reply.status == Message.Status.COMPLETE, reply.error
    assert 'data-status="complete"' in final


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
