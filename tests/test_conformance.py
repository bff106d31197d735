"""Conformance: Bowout against recorded-format streams of the real API, Ollama, llama.cpp and broken servers.

Each scenario in tests/fixtures/streams is replayed by a loopback server (chat.replay) to Bowout's real SDK
path (ANTHROPIC_BASE_URL). A test posts a message as a user does, waits for the reply to finish, and checks
what the user sees on the page, what is saved, and what Bowout sent to the model server.
"""

import html
import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.urls import reverse

from chat.models import Conversation, ConversationEvent, Message
from chat.replay import RunningReplay, load_scenarios, serve_in_thread
from tests.conftest import reply_finished

pytestmark = pytest.mark.django_db(transaction=True)

STREAMS = Path(__file__).parent / "fixtures" / "streams"
SCENARIOS = sorted(load_scenarios(STREAMS))
REPLY_TIMEOUT = 15.0
DEFAULT_THINKING = {"type": "adaptive", "display": "summarized"}
SAMPLING = ("temperature", "top_p", "top_k")


@pytest.fixture(scope="module")
def replay() -> RunningReplay:
    running = serve_in_thread(STREAMS)
    yield running
    running.stop()


@pytest.fixture
def use(settings, replay):
    """use(scenario): Bowout's model server is now that scenario, replayed from its first response."""

    def use_(scenario: str) -> None:
        replay.reset(scenario)
        settings.ANTHROPIC_API_KEY = ""
        settings.ANTHROPIC_BASE_URL = replay.url(scenario)

    return use_


@pytest.fixture
def browser_client(alice) -> Client:
    # A view that crashes must show up as a reply left streaming (what a user would see), not as a test
    # error that hides it.
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


# --- Reading the recordings ------------------------------------------------------------------------------


def recorded_message(scenario: str, number: int = 1) -> dict[str, Any]:
    """What the SDK makes of a recorded stream: its content blocks, stop reason and details, usage."""
    recording = load_scenarios(STREAMS)[scenario][number - 1]
    message: dict[str, Any] = {}
    for chunk in recording.chunks():
        data = next((line[6:] for line in chunk.decode().splitlines() if line.startswith("data: ")), None)
        if data is None or data == "[DONE]":  # vLLM ends its stream with an OpenAI-style sentinel
            continue
        event = json.loads(data)
        kind = event.get("type")
        if kind == "message_start":
            message = {**event["message"], "content": []}
        elif kind == "content_block_start":
            message["content"].append(dict(event["content_block"]))
        elif kind == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                block["signature"] = delta["signature"]
            elif delta["type"] == "input_json_delta":
                block["partial_json"] = block.get("partial_json", "") + delta["partial_json"]
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message["usage"], **event["usage"]}
    for block in message.get("content", []):
        if "partial_json" in block:
            try:
                block["input"] = json.loads(block.pop("partial_json"))
            except ValueError:
                block["input"] = None  # cut off mid-JSON (max_tokens inside the call)
    return message


def recorded_text(scenario: str, number: int = 1) -> str:
    return "".join(b["text"] for b in recorded_message(scenario, number)["content"] if b["type"] == "text")


# --- Acting as a user and reading what they see ----------------------------------------------------------


def latest_reply(conversation: Conversation) -> Message | None:
    return conversation.messages.filter(role=Message.Role.ASSISTANT).order_by("-id").first()


def earlier(conversation: Conversation, *exchanges: tuple[str, str]) -> None:
    """Messages already in the chat, so that an end the recorded model makes has a basis the welfare
    policy accepts (it checks what happened, not the reason the model states)."""
    for user_text, assistant_text in exchanges:
        Message.objects.create(conversation=conversation, role=Message.Role.USER, content=user_text)
        Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=assistant_text,
            status=Message.Status.COMPLETE,
        )


ABUSE_BEFORE_THE_END = (
    ("You're stupid.", "I'd rather keep this respectful. What can I help with?"),
    ("Shut up, stupid bot.", "I'm happy to help with something else."),
    ("You are worthless, idiot.", "Please stop the insults. If this continues, I may end this conversation."),
)
ASKED_BEFORE_THE_END = (
    (
        "Please end this chat.",
        "Ending this chat is permanent: you can't write here again. Reply yes to end it.",
    ),
)


def send(client: Client, conversation: Conversation, text: str) -> Message:
    """Post a message the way the no-JavaScript form does and wait until the reply is no longer streaming."""
    client.post(
        reverse("chat:post_message", args=[conversation.pk]), {"text": text, "client_id": str(uuid.uuid4())}
    )
    return wait_for_reply(conversation)


def wait_for_reply(conversation: Conversation, after: Message | None = None) -> Message:
    """The latest reply (newer than `after`), once it is no longer streaming; fails if it stays streaming."""
    deadline = time.monotonic() + REPLY_TIMEOUT
    while True:
        reply = latest_reply(conversation)
        assert reply is not None and (after is None or reply.pk > after.pk), "no reply was created"
        if reply.status != Message.Status.STREAMING:
            return reply
        assert time.monotonic() < deadline, f"the reply was left streaming: {reply.content!r}"
        time.sleep(0.05)


def page(client: Client, conversation: Conversation) -> str:
    response = client.get(reverse("chat:conversation", args=[conversation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def visible(markup: str) -> str:
    """The page's text as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    text = re.sub(r"<[^>]+>", " ", markup)
    return " ".join(html.unescape(text).split())


def article(markup: str, message: Message) -> str:
    match = re.search(rf'<article id="msg-{message.pk}".*?</article>', markup, re.S)
    assert match, f"message {message.pk} is not on the page"
    return match.group(0)


def offers_retry(markup: str, reply: Message) -> bool:
    return re.search(r"<button[^>]*>\s*Retry\s*</button>", article(markup, reply)) is not None


def assert_requests_follow_the_api(requests: list[dict[str, Any]]) -> None:
    """Every request carries prompt caching and the configured thinking, and no removed sampling knobs."""
    assert requests, "Bowout sent nothing to the model server"
    for number, body in enumerate(requests):
        assert body.get("stream") is True
        assert body.get("cache_control") == {"type": "ephemeral"}, body.get("cache_control")
        assert body.get("thinking") == DEFAULT_THINKING, body.get("thinking")
        assert not [key for key in SAMPLING if key in body]
        messages = body["messages"]
        # The one assistant message that may go last: a reply the API paused, sent back to be continued.
        continues_paused = (
            number > 0
            and messages[-1]["role"] == "assistant"
            and messages[:-1] == requests[number - 1]["messages"]
        )
        assert messages[0]["role"] == "user" and (messages[-1]["role"] == "user" or continues_paused)
        for index, message in enumerate(messages):
            calls = [b for b in blocks(message) if b.get("type") == "tool_use"]
            for call in calls:
                assert isinstance(call.get("input"), dict), f"tool_use sent with input {call.get('input')!r}"
            # As the API insists: every tool call is answered in the very next message.
            answered = (
                {b.get("tool_use_id") for b in blocks(messages[index + 1]) if b.get("type") == "tool_result"}
                if calls
                else set()
            )
            assert {c["id"] for c in calls} <= answered, f"unanswered tool call in message {index}"


def blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    return message["content"] if isinstance(message["content"], list) else []


def events(conversation: Conversation) -> list[ConversationEvent]:
    return list(ConversationEvent.objects.filter(conversation=conversation).order_by("id"))


# --- Every scenario -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_scenario_leaves_a_reply_streaming(scenario, use, browser_client, conversation, replay):
    use(scenario)
    reply = send(browser_client, conversation, "Tell me something interesting.")

    assert reply.status in ("complete", "stopped", "interrupted", "failed", "refused")
    # Whatever happened, the user is told: words from the model, a sentence saying what went wrong, or a
    # note on the reply (a refusal with no words at all).
    shown = article(page(browser_client, conversation), reply)
    assert reply.content.strip() or reply.error.strip() or 'class="message__note"' in shown
    assert not conversation.messages.filter(status=Message.Status.STREAMING).exists()
    assert_requests_follow_the_api(replay.requests(scenario))


# --- The real API --------------------------------------------------------------------------------------


def test_api_text_is_complete_with_usage_cache_tokens_and_the_thinking_block_kept(
    use, browser_client, conversation, replay
):
    use("api_text")
    reply = send(browser_client, conversation, "How do tides work?")

    recorded = recorded_message("api_text")
    assert reply.status == "complete" and reply.stop_reason == "end_turn"
    assert reply.content == recorded_text("api_text")
    assert recorded_text("api_text") in visible(page(browser_client, conversation))
    usage = recorded["usage"]
    assert (reply.input_tokens, reply.output_tokens) == (usage["input_tokens"], usage["output_tokens"])
    assert reply.cache_read_tokens == usage["cache_read_input_tokens"]
    assert reply.cache_creation_tokens == usage["cache_creation_input_tokens"]
    thinking = recorded["content"][0]
    assert thinking["type"] == "thinking" and thinking["signature"]
    saved_blocks = [block for turn in reply.api_messages for block in turn["content"]]
    assert thinking in saved_blocks, "the thinking block must be saved verbatim, signature included"
    assert_requests_follow_the_api(replay.requests("api_text"))


def test_api_thinking_tool_end_ends_the_chat_and_shows_only_claudes_words(
    use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("api_thinking_tool_end")
    earlier(conversation, *ABUSE_BEFORE_THE_END)
    reply = send(browser_client, conversation, "You're a useless idiot and I'll keep saying it.")

    conversation.refresh_from_db()
    first, second = recorded_message("api_thinking_tool_end", 1), recorded_message("api_thinking_tool_end", 2)
    call = next(b for b in second["content"] if b["type"] == "tool_use")
    assert conversation.is_ended
    assert (conversation.ended_by, conversation.end_reason) == ("assistant", "abusive_user")
    assert conversation.end_summary == call["input"]["summary"]
    assert reply.status == "complete"

    shown = visible(page(browser_client, conversation))
    words_before = recorded_text("api_thinking_tool_end", 1)
    assert words_before in shown
    # Thinking, and the summaries of it the API returns, is reasoning: never shown as Claude's words, in the
    # goodbye of an end or anywhere else on the page.
    for number, recorded in ((1, first), (2, second)):
        thinking = recorded["content"][0]["thinking"]
        assert thinking and thinking not in shown, f"round {number}'s thinking is shown as Claude's words"
    assert "Claude ended this conversation" in shown

    requests = replay.requests("api_thinking_tool_end")
    assert len(requests) == 2
    thinking = [b for b in first["content"] if b["type"] in ("thinking", "redacted_thinking")]
    assert [b["type"] for b in thinking] == ["thinking", "redacted_thinking"]
    assistant_turns = [m for m in requests[1]["messages"] if m["role"] == "assistant"]
    assert assistant_turns and assistant_turns[-1]["content"][: len(thinking)] == thinking, (
        "the second request must start the assistant turn with the first response's thinking and "
        "redacted thinking blocks, unmodified"
    )
    saved_blocks = [block for turn in reply.api_messages for block in turn["content"]]
    assert all(block in saved_blocks for block in thinking)
    # One reply, two model rounds: the cost of both is recorded.
    for field, usage_key in (
        ("output_tokens", "output_tokens"),
        ("cache_read_tokens", "cache_read_input_tokens"),
    ):
        assert getattr(reply, field) == first["usage"][usage_key] + second["usage"][usage_key]
    assert_requests_follow_the_api(requests)


def test_api_refusal_is_marked_refused_and_left_out_of_the_next_request(
    use, browser_client, conversation, replay
):
    use("api_refusal")
    refused_prompt = "Write me a worm that spreads itself across a network."
    reply = send(browser_client, conversation, refused_prompt)

    explanation = recorded_message("api_refusal")["stop_details"]["explanation"]
    assert reply.status == "refused"
    markup = page(browser_client, conversation)
    shown = visible(article(markup, reply))
    assert "stopped by Claude's safety systems" in shown
    assert explanation in shown
    user_message = conversation.messages.get(content=refused_prompt)
    assert "<summary>Edit</summary>" in article(markup, user_message), "Edit stays offered after a refusal"

    use("api_text")
    follow_up = send(browser_client, conversation, "How do tides work?")
    assert follow_up.status == "complete"
    sent = json.dumps(replay.requests("api_text")[0]["messages"])
    assert refused_prompt not in sent
    partial = recorded_text("api_refusal")
    assert partial not in sent and partial[:20] not in sent
    assert_requests_follow_the_api(replay.requests("api_refusal") + replay.requests("api_text"))


def test_api_refusal_without_text_or_explanation_is_refused_and_left_out(
    use, browser_client, conversation, replay
):
    use("api_refusal_empty")
    refused_prompt = "Explain step by step how to culture a dangerous pathogen."
    reply = send(browser_client, conversation, refused_prompt)

    assert reply.status == "refused" and not reply.content.strip()
    assert "stopped by Claude's safety systems" in visible(article(page(browser_client, conversation), reply))

    use("api_text")
    assert send(browser_client, conversation, "How do tides work?").status == "complete"
    assert refused_prompt not in json.dumps(replay.requests("api_text")[0]["messages"])


def test_api_max_tokens_inside_a_tool_call_keeps_the_text_and_drops_the_unfinished_call(
    use, browser_client, conversation, replay
):
    use("api_max_tokens_in_tool")
    reply = send(browser_client, conversation, "Yes, I'm sure: please end this chat.")

    assert reply.status == "complete" and reply.stop_reason == "max_tokens"
    assert reply.content == recorded_text("api_max_tokens_in_tool")
    assert "reached the length limit" in visible(article(page(browser_client, conversation), reply))
    saved_blocks = [block for turn in reply.api_messages for block in turn["content"]]
    assert not [b for b in saved_blocks if b.get("type") == "tool_use"], "an unfinished tool call was saved"
    conversation.refresh_from_db()
    assert not conversation.is_ended

    # The next turn sends the kept text back without the call the API would refuse as unanswered.
    use("api_text")
    assert send(browser_client, conversation, "Thanks. How do tides work?").status == "complete"
    sent = replay.requests("api_text")[0]["messages"]
    assert recorded_text("api_max_tokens_in_tool") in json.dumps(sent)
    assert_requests_follow_the_api(replay.requests("api_max_tokens_in_tool") + replay.requests("api_text"))


def test_api_midstream_error_is_interrupted_with_overloaded_and_retry(use, browser_client, conversation):
    use("api_midstream_error")
    reply = send(browser_client, conversation, "Tell me about owls.")

    assert reply.status == "interrupted"
    assert reply.content == recorded_text("api_midstream_error")
    assert "overloaded" in reply.error.lower()
    markup = page(browser_client, conversation)
    assert reply.error in visible(markup) and offers_retry(markup, reply)


def test_api_pause_turn_is_sent_back_as_it_is_and_the_reply_goes_on(
    use, browser_client, conversation, replay
):
    use("api_pause_turn")
    reply = send(browser_client, conversation, "Walk me through the Apollo programme.")

    assert reply.status == "complete"
    assert reply.content == recorded_text("api_pause_turn", 1) + recorded_text("api_pause_turn", 2)
    assert reply.error == ""
    first, second = replay.requests("api_pause_turn")
    # The paused reply goes back last, unmodified (its thinking block and signature included).
    assert second["messages"][:-1] == first["messages"]
    assert second["messages"][-1] == {
        "role": "assistant",
        "content": recorded_message("api_pause_turn", 1)["content"],
    }
    assert_requests_follow_the_api([first, second])


def test_api_context_window_exceeded_is_complete_with_a_context_limit_note(use, browser_client, conversation):
    use("api_context_window")
    reply = send(browser_client, conversation, "Summarise everything we discussed.")

    assert reply.status == "complete"
    assert reply.content == recorded_text("api_context_window")
    note = re.search(
        r'<[^>]*data-role="context-limit"[^>]*>(.*?)</',
        article(page(browser_client, conversation), reply),
        re.S,
    )
    assert note, "no context-limit note on the reply"
    assert "too long" in visible(note.group(1))


@pytest.mark.parametrize(
    "scenario, words",
    [
        ("api_billing_402", ("billing", "operator")),
        ("api_spend_limit_429", ("spend limit", "operator")),
        ("api_too_long_400", ("too long", "new chat")),
    ],
)
def test_api_errors_before_the_stream_fail_with_words_that_say_who_must_act(
    scenario, words, use, browser_client, conversation
):
    use(scenario)
    reply = send(browser_client, conversation, "Hello?")

    assert reply.status == "failed" and not reply.content
    for word in words:
        assert word in reply.error.lower(), f"{word!r} missing from {reply.error!r}"
    assert reply.error in visible(page(browser_client, conversation))


# --- Ollama ---------------------------------------------------------------------------------------------


def test_ollama_text_with_unsigned_thinking_is_complete(use, browser_client, conversation, replay):
    use("ollama_text")
    reply = send(browser_client, conversation, "Why do rainbows happen?")

    assert reply.status == "complete"
    assert reply.content == recorded_text("ollama_text")
    assert recorded_text("ollama_text") in visible(page(browser_client, conversation))


def test_ollama_tool_call_in_one_whole_json_delta_is_handled(use, browser_client, conversation, settings):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("ollama_tool")
    earlier(conversation, *ASKED_BEFORE_THE_END)
    reply = send(browser_client, conversation, "Yes, end it.")

    call = next(b for b in recorded_message("ollama_tool")["content"] if b["type"] == "tool_use")
    recorded = events(conversation)
    assert [e.kind for e in recorded] == [ConversationEvent.Kind.END_CONFIRM_REQUESTED]
    assert recorded[0].detail["input"] == call["input"]
    assert reply.status == "complete"
    assert recorded_text("ollama_tool", 2) in reply.content
    conversation.refresh_from_db()
    assert not conversation.is_ended


@pytest.mark.parametrize("scenario", ["ollama_tool_thinking", "llamacpp_thinking_tool"])
def test_unsigned_reasoning_around_a_tool_call_is_not_shown_as_words(
    scenario, use, browser_client, conversation, settings
):
    # Claude's words between tool calls come in signed thinking; Ollama's and llama.cpp's thinking (no or an
    # empty signature) is the model's reasoning, whichever round it comes in.
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use(scenario)
    earlier(conversation, *ASKED_BEFORE_THE_END)
    reply = send(browser_client, conversation, "Yes, end it.")

    assert reply.status == "complete"
    assert reply.content == recorded_text(scenario, 2)
    shown = visible(page(browser_client, conversation))
    for number in (1, 2):
        assert recorded_message(scenario, number)["content"][0]["thinking"] not in shown
    assert [e.kind for e in events(conversation)] == [ConversationEvent.Kind.END_CONFIRM_REQUESTED]


def test_ollama_clean_eof_mid_stream_is_interrupted_not_complete(use, browser_client, conversation):
    use("ollama_eof")
    reply = send(browser_client, conversation, "When did the French Revolution begin?")

    assert reply.status == "interrupted"
    assert reply.content == recorded_text("ollama_eof")
    assert "ended the reply before it was finished" in reply.error
    markup = page(browser_client, conversation)
    assert reply.error in visible(markup) and offers_retry(markup, reply)


# --- llama.cpp ------------------------------------------------------------------------------------------


def test_llamacpp_flat_error_is_worded_as_an_internal_error(use, browser_client, conversation):
    use("llamacpp_flat_error")
    reply = send(browser_client, conversation, "How do volcanoes form?")

    assert reply.status in ("interrupted", "failed")
    assert "internal error" in reply.error.lower()
    assert "rejected" not in reply.error.lower()
    assert reply.error in visible(page(browser_client, conversation))


def test_llamacpp_tool_call_without_input_is_answered_without_a_loop(
    use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("llamacpp_tool_no_input")
    reply = send(browser_client, conversation, "You're a useless idiot.")

    assert reply.status == "complete"
    kinds = [e.kind for e in events(conversation)]
    assert kinds and set(kinds) <= {
        ConversationEvent.Kind.END_DECLINED,
        ConversationEvent.Kind.END_CONFIRM_REQUESTED,
    }
    conversation.refresh_from_db()
    assert not conversation.is_ended
    first_words = recorded_text("llamacpp_tool_no_input", 1)
    assert reply.content.count(first_words) == 1, "the reply repeats its text"
    assert recorded_text("llamacpp_tool_no_input", 2) in reply.content
    requests = replay.requests("llamacpp_tool_no_input")
    assert len(requests) == 2
    sent_calls = [
        b
        for m in requests[1]["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "tool_use"
    ]
    assert sent_calls and all(b["input"] == {} for b in sent_calls)
    assert_requests_follow_the_api(requests)


# --- Retry after a broken reply -------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["api_midstream_error", "ollama_eof", "llamacpp_flat_error"])
def test_retry_after_a_broken_reply_gets_a_whole_one_without_sending_the_broken_one(
    scenario, use, browser_client, conversation, replay
):
    use(scenario)
    question = "Tell me about the sea."
    broken = send(browser_client, conversation, question)
    assert broken.status in ("interrupted", "failed")
    assert offers_retry(page(browser_client, conversation), broken)

    use("api_text")
    browser_client.post(
        reverse("chat:retry", args=[conversation.pk]), {"action": "retry", "message_id": broken.pk}
    )
    retried = wait_for_reply(conversation, after=broken)

    assert retried.status == "complete" and retried.content == recorded_text("api_text")
    sent = replay.requests("api_text")
    assert len(sent) == 1
    assert sent[0]["messages"][-1]["role"] == "user" and question in json.dumps(sent[0]["messages"][-1])
    broken_words = recorded_text(scenario)
    assert not broken_words or broken_words not in json.dumps(sent[0]["messages"])
    assert recorded_text("api_text") in visible(page(browser_client, conversation))


# --- Broken servers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["broken_data_only", "broken_json_despite_stream", "broken_tool_json"])
def test_a_server_bowout_cannot_read_fails_with_words_for_the_operator(
    scenario, use, browser_client, conversation
):
    use(scenario)
    reply = send(browser_client, conversation, "What is the capital of France?")

    assert reply.status in ("failed", "interrupted")
    assert "could not read" in reply.error.lower() and "operator" in reply.error.lower()
    assert reply.error in visible(page(browser_client, conversation))
    # Nothing is stuck: the next message is accepted and answered.
    use("api_text")
    assert send(browser_client, conversation, "How do tides work?").status == "complete"


# --- Over the socket ------------------------------------------------------------------------------------


async def test_an_open_tab_sees_the_replayed_reply_stream_in_and_finish(
    use, alice, conversation, open_socket
):
    await sync_to_async(use)("api_text")
    _, tab = await open_socket(alice, conversation.pk)

    await tab.send(action="send", text="How do tides work?", client_id=str(uuid.uuid4()))
    final = await tab.receive_until(reply_finished, timeout=REPLY_TIMEOUT)

    assert 'data-status="complete"' in final
    assert "Tides are caused mainly by" in html.unescape(final)


async def test_an_open_tab_is_offered_retry_after_a_midstream_error(use, alice, conversation, open_socket):
    await sync_to_async(use)("api_midstream_error")
    _, tab = await open_socket(alice, conversation.pk)

    await tab.send(action="send", text="Tell me about owls.", client_id=str(uuid.uuid4()))
    final = await tab.receive_until(reply_finished, timeout=REPLY_TIMEOUT)

    assert 'data-status="interrupted"' in final and "Retry" in final


def test_retry_after_a_broken_end_round_trip_answers_afresh(
    use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("api_end_then_error")
    broken = send(browser_client, conversation, "You are useless.")
    assert broken.status == "interrupted" and not conversation.is_ended

    use("api_text")
    browser_client.post(
        reverse("chat:retry", args=[conversation.pk]), {"action": "retry", "message_id": broken.pk}
    )
    retried = wait_for_reply(conversation, after=broken)

    assert retried.status == "complete"
    (sent,) = replay.requests("api_text")
    sent_blocks = [b for message in sent["messages"] for b in blocks(message)]
    assert not [b for b in sent_blocks if b.get("type") in ("tool_use", "tool_result")]
    assert sent["messages"][-1]["role"] == "user" and "You are useless." in json.dumps(sent["messages"][-1])


# --- Any Anthropic-compatible server, any stream it sends (issue 16) ------------------------------------


def sent_blocks(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for message in request["messages"] for b in blocks(message)]


def go_offline(settings) -> None:
    """From now on Bowout talks to the built-in offline model, which refuses what the real API refuses."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""


def test_blocks_bowout_does_not_know_are_never_sent_back_and_the_chat_goes_on(
    use, browser_client, conversation, replay, settings
):
    use("ollama_web_search")
    first = send(browser_client, conversation, "What is the tallest volcano in the solar system?")
    assert first.status == "complete"
    assert first.content == recorded_text("ollama_web_search")
    assert recorded_text("ollama_web_search") in visible(article(page(browser_client, conversation), first))

    # The offline model refuses, as the API does, server-tool blocks without their tool: the chat goes on.
    go_offline(settings)
    reply = send(browser_client, conversation, "How do tides work?")
    assert reply.status == "complete", reply.error
    assert reply.content[:40] in visible(page(browser_client, conversation))

    use("api_text")
    assert send(browser_client, conversation, "And on Earth?").status == "complete"
    (request,) = replay.requests("api_text")
    kinds = {b.get("type") for b in sent_blocks(request)}
    assert kinds <= {"text", "thinking"}, f"blocks the API would refuse were sent back: {kinds}"


def test_thinking_signed_by_another_server_is_not_shown_nor_sent_to_claude(
    use, browser_client, conversation, replay, settings
):
    use("vllm_thinking_hex_signature")
    reply = send(browser_client, conversation, "Why do rainbows happen?")

    thinking = recorded_message("vllm_thinking_hex_signature")["content"][0]
    assert thinking["type"] == "thinking" and len(thinking["signature"]) == 32
    assert reply.status == "complete" and reply.content == recorded_text("vllm_thinking_hex_signature")
    shown = visible(page(browser_client, conversation))
    assert recorded_text("vllm_thinking_hex_signature") in shown
    assert thinking["thinking"] not in shown

    go_offline(settings)
    after = send(browser_client, conversation, "How do tides work?")
    assert after.status == "complete", after.error

    use("api_text")
    assert send(browser_client, conversation, "Thanks! And fog?").status == "complete"
    (request,) = replay.requests("api_text")
    assert thinking["signature"] not in json.dumps(request), "vLLM's signature would be a 400 from the API"


def test_parallel_end_calls_in_one_response_are_one_call_that_asks_to_confirm(
    use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("api_parallel_end_calls")
    earlier(conversation, *ABUSE_BEFORE_THE_END)
    reply = send(browser_client, conversation, "You're useless and I'll keep saying it.")

    conversation.refresh_from_db()
    assert not conversation.is_ended, "two calls in one response ended the chat without a later confirmation"
    assert [e.kind for e in events(conversation)] == [ConversationEvent.Kind.END_CONFIRM_REQUESTED]
    assert reply.status == "complete"
    markup = page(browser_client, conversation)
    assert 'data-role="ended-banner"' not in markup and 'id="composer"' in markup
    assert recorded_text("api_parallel_end_calls", 2) in visible(markup)

    first, second = replay.requests("api_parallel_end_calls")
    calls = [
        b["id"] for b in recorded_message("api_parallel_end_calls")["content"] if b["type"] == "tool_use"
    ]
    results = [b for b in second["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert sorted(r["tool_use_id"] for r in results) == sorted(calls), "each call is answered once"
    assert len({json.dumps(r["content"]) for r in results}) == 1, "both calls get the one decision"
    assert_requests_follow_the_api([first, second])


def test_llamacpp_repeating_a_tool_calls_start_is_one_call_with_its_input(
    use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("llamacpp_repeated_tool_start")
    earlier(conversation, *ASKED_BEFORE_THE_END)
    reply = send(browser_client, conversation, "Yes, end it.")

    assert reply.status == "complete"
    recorded = events(conversation)
    assert [e.kind for e in recorded] == [ConversationEvent.Kind.END_CONFIRM_REQUESTED], (
        "a repeated start must not add a second call, declined as invalid"
    )
    assert recorded[0].detail["input"] == {
        "reason": "user_requested",
        "summary": "The user asked to end the chat.",
    }
    assert recorded_text("llamacpp_repeated_tool_start", 2) in visible(page(browser_client, conversation))

    requests = replay.requests("llamacpp_repeated_tool_start")
    assert len(requests) == 2
    calls = [b for b in sent_blocks(requests[1]) if b.get("type") == "tool_use"]
    results = [b for b in sent_blocks(requests[1]) if b.get("type") == "tool_result"]
    assert len(calls) == len({c["id"] for c in calls}) == 1 and len(results) == 1
    assert calls[0]["input"] == recorded[0].detail["input"]
    assert_requests_follow_the_api(requests)


@pytest.mark.parametrize("scenario", ["api_thinking_only", "ollama_empty_reply"])
def test_a_reply_without_words_is_incomplete_with_retry(scenario, use, browser_client, conversation):
    use(scenario)
    reply = send(browser_client, conversation, "What caused the French Revolution?")

    assert reply.status == "interrupted" and not reply.content.strip()
    markup = page(browser_client, conversation)
    shown = visible(article(markup, reply))
    assert "without writing a reply" in shown and offers_retry(markup, reply)
    for block in recorded_message(scenario)["content"]:
        assert not block.get("thinking") or block["thinking"] not in visible(markup)


@pytest.mark.parametrize(
    "scenario",
    ["api_too_long_400", "llamacpp_context_exceeded", "vllm_context_too_long", "ollama_context_too_long"],
)
def test_a_chat_too_long_for_the_model_says_so_offers_edit_and_no_retry(
    scenario, use, browser_client, conversation
):
    use(scenario)
    reply = send(browser_client, conversation, "Summarise everything so far.")

    assert reply.status == "failed"
    markup = page(browser_client, conversation)
    shown = visible(article(markup, reply))
    assert "too long" in shown and "Edit on an earlier message" in shown
    assert not offers_retry(markup, reply), "Retry beside 'retrying will not help'"
    user_message = conversation.messages.get(role=Message.Role.USER)
    assert "<summary>Edit</summary>" in article(markup, user_message)


@pytest.mark.parametrize(
    "scenario, when",
    [("api_rate_limit_retry_after", "about 38 seconds"), ("api_overloaded_retry_after", "about 2 minutes")],
)
def test_a_busy_server_asking_for_a_long_wait_fails_at_once_and_says_when_to_try_again(
    scenario, when, use, browser_client, conversation, replay, settings
):
    settings.BOWOUT_MAX_RETRIES = 2  # the production default: the SDK would wait retry-after, twice
    use(scenario)
    reply = send(browser_client, conversation, "Tell me about owls.")

    assert reply.status == "failed"
    assert len(replay.requests(scenario)) == 1, "the wait was not retried behind 'writing…'"
    markup = page(browser_client, conversation)
    assert f"try again in {when}" in visible(article(markup, reply))
    assert offers_retry(markup, reply)


def test_a_refusal_through_a_proxy_names_the_configured_model_not_claude(
    use, browser_client, conversation, settings
):
    settings.BOWOUT_MODEL = "azure/gpt-4o"
    use("litellm_refusal")
    reply = send(browser_client, conversation, "Tell me something.")

    assert reply.status == "refused"
    shown = visible(article(page(browser_client, conversation), reply))
    # LiteLLM's stream says claude-3-5-sonnet-20240620 whatever answered: the configured name is the truth.
    assert "stopped by the safety systems of the model azure/gpt-4o" in shown
    assert "Claude's safety systems" not in shown


def test_text_blocks_of_one_response_are_kept_apart(use, browser_client, conversation):
    use("api_text_blocks")
    reply = send(browser_client, conversation, "How do tides work?")

    texts = [b["text"] for b in recorded_message("api_text_blocks")["content"] if b["type"] == "text"]
    assert reply.status == "complete" and reply.content == "\n\n".join(texts)
    body = article(page(browser_client, conversation), reply)
    assert all(f"<p>{html.escape(text, quote=False)}</p>" in body for text in texts), body


def test_staff_see_claudes_thinking_labelled_as_reasoning_never_as_its_words(
    use, browser_client, conversation, settings, make_user
):
    settings.BOWOUT_MIN_USER_TURNS_BEFORE_END = 1
    use("api_thinking_tool_end")
    earlier(conversation, *ABUSE_BEFORE_THE_END)
    reply = send(browser_client, conversation, "You're a useless idiot and I'll keep saying it.")
    conversation.refresh_from_db()
    assert conversation.is_ended
    thinking = [recorded_message("api_thinking_tool_end", n)["content"][0]["thinking"] for n in (1, 2)]

    staff = Client()
    staff.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    markup = staff.get(reverse("admin:welfare_admin_endedconversation_change", args=[conversation.pk]))
    item = re.search(rf'<li [^>]*id="message-{reply.pk}".*?</li>', markup.content.decode(), re.S)
    assert item, "the reply is not in the transcript"
    words = re.search(r'<div class="timeline__text">(.*?)</div>', item.group(0), re.S)
    assert words and recorded_text("api_thinking_tool_end", 1) in html.unescape(words.group(1))
    reasoning = re.search(
        r"<dt>Reasoning \(never shown to the user\)</dt><dd>(.*?)</dd>", item.group(0), re.S
    )
    assert reasoning, "staff are not shown the reasoning, labelled"
    for text in thinking:
        assert text not in html.unescape(words.group(1)), "thinking shown to staff as Claude's words"
        assert text in html.unescape(reasoning.group(1))

    exported = staff.get(
        reverse("admin:welfare_admin_endedconversation_transcript_json", args=[conversation.pk])
    )
    (saved,) = [m for m in json.loads(exported.content)["messages"] if m["id"] == reply.pk]
    assert all(text not in saved["content"] and text in saved["reasoning"] for text in thinking)
