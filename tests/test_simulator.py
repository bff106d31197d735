"""The offline model's behaviour (scripts, faults, streaming, loopback server), driven through the real
anthropic SDK on the default model, thinking blocks and all. The API rules it enforces are in
test_simulator_api.py."""

from __future__ import annotations

import asyncio
import gc
import json
import socket
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
import uvicorn
from anthropic.types import Message

from simulator import StreamingASGITransport, create_app
from simulator.texts import (
    ABUSE_WARNING_SENTENCE,
    CONFIRM_END_PROMPT,
    ENDING_NOW_SENTENCE,
    REFUSAL_PARTIAL_TEXT,
    USER_REQUESTED_SUMMARY,
)

MODEL = "claude-sonnet-5-5"
SUMMARIZED = {"type": "adaptive", "display": "summarized"}
END_TOOL = {
    "name": "end_conversation",
    "description": "End the conversation permanently.",
    "input_schema": {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "enum": ["abusive_user", "user_requested"]},
            "summary": {"type": "string"},
        },
        "required": ["reason", "summary"],
    },
}


def sdk_client(app: Any = None, **app_options: Any) -> anthropic.AsyncAnthropic:
    transport = StreamingASGITransport(app or create_app(**app_options))
    return anthropic.AsyncAnthropic(
        api_key="offline",
        base_url="http://simulator",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=transport),
    )


@pytest.fixture
async def make_client() -> AsyncIterator[Any]:
    """Builds SDK clients over fresh simulators (app options as keywords) and closes them afterwards."""
    made: list[anthropic.AsyncAnthropic] = []

    def make(app: Any = None, **app_options: Any) -> anthropic.AsyncAnthropic:
        made.append(sdk_client(app, **app_options))
        return made[-1]

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def client(make_client: Any) -> anthropic.AsyncAnthropic:
    return make_client()


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def reply_to(
    client: anthropic.AsyncAnthropic, messages: list[dict[str, Any]], **kwargs: Any
) -> Message:
    kwargs.setdefault("max_tokens", 1024)
    async with client.messages.stream(model=MODEL, messages=messages, **kwargs) as stream:
        return await stream.get_final_message()


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def thinking_of(message: Message) -> str:
    return "".join(block.thinking for block in message.content if block.type == "thinking")


def tool_calls(message: Message) -> list[Any]:
    return [block for block in message.content if block.type == "tool_use"]


def as_param(message: Message) -> dict[str, Any]:
    """The assistant turn as the next request must carry it: thinking blocks verbatim, first."""
    blocks: list[dict[str, Any]] = []
    for block in message.content:
        if block.type == "thinking":
            blocks.append({"type": "thinking", "thinking": block.thinking, "signature": block.signature})
        elif block.type == "redacted_thinking":
            blocks.append({"type": "redacted_thinking", "data": block.data})
        elif block.type == "text":
            if block.text:
                blocks.append({"type": "text", "text": block.text})
        else:
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    return {"role": "assistant", "content": blocks}


class Chat:
    """A multi-turn conversation, grown the way the server grows it."""

    def __init__(
        self,
        client: anthropic.AsyncAnthropic,
        tools: list[dict[str, Any]] | None = None,
        thinking: dict[str, Any] | None = SUMMARIZED,
    ) -> None:
        self.client = client
        self.tools = tools if tools is not None else [END_TOOL]
        self.thinking = thinking
        self.messages: list[dict[str, Any]] = []

    async def send(self, content: str | list[dict[str, Any]]) -> Message:
        self.messages.append({"role": "user", "content": content})
        extra: dict[str, Any] = {"tools": self.tools} if self.tools else {}
        if self.thinking:
            extra["thinking"] = self.thinking
        reply = await reply_to(self.client, self.messages, **extra)
        self.messages.append(as_param(reply))
        return reply

    async def answer_end_call(self, *, is_error: bool) -> Message:
        (call,) = tool_calls_in(self.messages[-1])
        text = (
            "Declined: crisis signals present." if is_error else "Please confirm by calling the tool again."
        )
        result = {"type": "tool_result", "tool_use_id": call["id"], "content": text, "is_error": is_error}
        return await self.send([result])


def tool_calls_in(param: dict[str, Any]) -> list[dict[str, Any]]:
    return [block for block in param["content"] if block["type"] == "tool_use"]


# --- Wire format -----------------------------------------------------------------------------------------


async def test_stream_sends_the_real_api_event_sequence(client: anthropic.AsyncAnthropic) -> None:
    stream = await client.messages.create(model=MODEL, max_tokens=1024, messages=[user("hello")], stream=True)
    events = [event async for event in stream]

    kinds = [event.type for event in events]
    # The default model thinks first (display omitted: no thinking text, one signature), then writes.
    assert kinds[:4] == ["message_start", "content_block_start", "content_block_delta", "content_block_stop"]
    assert (events[1].content_block.type, events[2].delta.type) == ("thinking", "signature_delta")
    assert kinds[4] == "content_block_start" and events[4].content_block.type == "text"
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[5:-3]) == {"content_block_delta"}
    start = events[0].message
    assert start.id.startswith("msg_sim_")
    assert (start.role, start.model, start.content, start.stop_reason) == ("assistant", MODEL, [], None)
    assert start.usage.output_tokens >= 1 and start.usage.service_tier == "standard"
    assert events[-2].delta.stop_reason == "end_turn"
    words = sum(
        len(event.delta.text.split())
        for event in events
        if event.type == "content_block_delta" and event.delta.type == "text_delta"
    )
    assert events[-2].usage.output_tokens > words, "thinking tokens are billed even when omitted"


async def test_raw_sse_bytes_have_event_and_data_lines() -> None:
    body = {"model": MODEL, "max_tokens": 50, "stream": True, "messages": [user("hello")]}
    async with httpx2.AsyncClient(transport=StreamingASGITransport(create_app())) as http:
        response = await http.post("http://simulator/v1/messages", json=body)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["request-id"].startswith("req_sim_")
    frames = response.text.strip().split("\n\n")
    names = [frame.split("\n")[0] for frame in frames]
    # As recorded from the real API: ping comes after the first content_block_start.
    assert names[:3] == ["event: message_start", "event: content_block_start", "event: ping"]
    assert names.count("event: ping") == 1
    assert names[-1] == "event: message_stop"
    for frame in frames:
        name_line, data_line = frame.split("\n")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name_line.removeprefix("event: ")


async def test_final_message_matches_the_streamed_deltas(client: anthropic.AsyncAnthropic) -> None:
    deltas: list[str] = []
    async with client.messages.stream(
        model=MODEL, max_tokens=1024, messages=[user("How do I bake sourdough bread?")]
    ) as stream:
        async for text in stream.text_stream:
            deltas.append(text)
        message = await stream.get_final_message()
        request_id = stream.request_id

    assert text_of(message) == "".join(deltas)
    assert len(deltas) < len(text_of(message).split()) / 2, "several words per delta, as the API sends"
    assert sum(len(delta.split()) > 1 for delta in deltas) > len(deltas) / 2
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > len(text_of(message).split())
    assert 0 < message.usage.input_tokens - len("How do I bake sourdough bread?") / 4 <= 15
    assert request_id and request_id.startswith("req_sim_")


async def test_non_streaming_request_returns_a_whole_message(client: anthropic.AsyncAnthropic) -> None:
    streamed = await reply_to(client, [user("What is a monad?")])
    message = await client.messages.create(model=MODEL, max_tokens=1024, messages=[user("What is a monad?")])

    assert message.type == "message" and message.id.startswith("msg_sim_")
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert text_of(message) == text_of(streamed)
    assert (message.stop_reason, message.usage) == (streamed.stop_reason, streamed.usage)


async def test_tokens_arrive_while_the_reply_is_being_generated(make_client: Any) -> None:
    client = make_client(delay=0.02)
    started = time.monotonic()
    arrivals: list[float] = []
    async with client.messages.stream(model=MODEL, max_tokens=1024, messages=[user("hello")]) as stream:
        async for _ in stream.text_stream:
            arrivals.append(time.monotonic() - started)

    assert len(arrivals) >= 8
    # Spread out, not delivered in one batch at the end (which is what a buffering transport does). Load
    # on the machine can only widen the spread, so this does not flake on a busy CI box. The pace is per
    # word, whatever the size of the deltas.
    assert arrivals[-1] - arrivals[0] >= 0.5 * 0.02 * len(arrivals) * 3


def recording(app: Any) -> tuple[Any, asyncio.Event, list[Any]]:
    """Wrap an app so a test can see when its request task is over (finished or cancelled) and how many
    body chunks it sent."""
    over = asyncio.Event()
    chunks: list[Any] = []

    async def counting_send(message: Any) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message)
        await send_to(message)

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        nonlocal send_to
        send_to = send
        try:
            await app(scope, receive, counting_send)
        finally:
            if scope["type"] == "http":
                over.set()

    send_to: Any = None
    return wrapped, over, chunks


async def test_closing_the_stream_early_stops_the_app_without_leaks() -> None:
    app, over, chunks = recording(create_app())
    client = sdk_client(app)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with client.messages.stream(
            model=MODEL, max_tokens=4096, messages=[user("Tell me a long story [fault:slow]")]
        ) as stream:
            async for _ in stream.text_stream:
                break
        await asyncio.wait_for(over.wait(), timeout=10)
        await client.close()
        gc.collect()

    # A ~400-token slow reply must not run to the end once its reader has gone.
    assert len(chunks) < 100
    # Clients that earlier tests left for the garbage collector schedule their own close: not ours.
    leftovers = [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task() and t.get_coro().__qualname__ != "AsyncClient.aclose"
    ]
    assert leftovers == []
    assert caught == []


# --- Faults ----------------------------------------------------------------------------------------------


async def test_overloaded_fault_is_a_529_before_the_stream(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.OverloadedError) as raised:
        await reply_to(client, [user("hi [fault:overloaded]")])

    assert raised.value.status_code == 529
    assert raised.value.type == "overloaded_error"


async def test_server_fault_is_a_500_api_error(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.InternalServerError) as raised:
        await reply_to(client, [user("hi [fault:server]")])

    assert (raised.value.status_code, raised.value.type) == (500, "api_error")


async def test_a_fault_strikes_every_attempt_of_one_call_and_then_passes(make_client: Any) -> None:
    """Overloads and server errors pass, on the real API: the SDK's own retries of the call fail too (the
    user sees the error), and the next call with the same conversation, a Retry, is answered."""
    app = create_app()
    retrying = make_client(app).with_options(max_retries=2)
    with pytest.raises(anthropic.InternalServerError):
        await retrying.messages.create(model=MODEL, max_tokens=1024, messages=[user("hi [fault:server]")])
    answered = await reply_to(make_client(app), [user("hi [fault:server]")])
    assert answered.stop_reason == "end_turn" and any(b.type == "text" and b.text for b in answered.content)
    with pytest.raises(anthropic.InternalServerError):  # and the same words later strike again
        await reply_to(make_client(app), [user("hi [fault:server]")])


async def test_midstream_fault_sends_text_then_an_error_event(client: anthropic.AsyncAnthropic) -> None:
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=[user("hi [fault:midstream]")]
        ) as stream:
            async for text in stream.text_stream:
                received.append(text)

    assert 20 <= len("".join(received).split()) < 30
    # Errors inside a stream keep the stream's 200 status; only the body says what went wrong.
    assert raised.value.status_code == 200
    assert type(raised.value) is anthropic.APIStatusError
    assert raised.value.type == "overloaded_error"


async def test_disconnect_fault_drops_the_connection_mid_stream(client: anthropic.AsyncAnthropic) -> None:
    received: list[str] = []
    with pytest.raises(httpx2.RemoteProtocolError):
        async with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=[user("hi [fault:disconnect]")]
        ) as stream:
            async for event in stream:
                assert event.type != "message_stop"
                if event.type == "text":
                    received.append(event.text)

    assert 20 <= len("".join(received).split()) < 30


async def test_disconnect_fault_without_streaming_is_a_connection_error(
    client: anthropic.AsyncAnthropic,
) -> None:
    with pytest.raises(anthropic.APIConnectionError) as raised:
        await client.messages.create(model=MODEL, max_tokens=1024, messages=[user("hi [fault:disconnect]")])

    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)


async def test_refusal_fault_stops_with_refusal(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("hi [fault:refusal]")])

    assert message.stop_reason == "refusal"
    assert text_of(message) == REFUSAL_PARTIAL_TEXT


async def test_max_tokens_fault_cuts_the_reply_short(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("hi [fault:max_tokens]")], max_tokens=4096)

    assert message.stop_reason == "max_tokens"
    assert len(text_of(message).split()) == 30
    assert message.usage.output_tokens > 30, "the thinking before the text counts too"


async def test_slow_fault_paces_tokens_even_with_no_delay(client: anthropic.AsyncAnthropic) -> None:
    started = time.monotonic()
    count = 0
    async with client.messages.stream(
        model=MODEL, max_tokens=4096, messages=[user("[fault:slow]")]
    ) as stream:
        async for _ in stream.text_stream:
            count += 1
            if count == 11:
                break

    assert time.monotonic() - started >= 10 * 0.02


# --- Request limits and validation -----------------------------------------------------------------------


async def test_max_tokens_stops_the_reply_early(client: anthropic.AsyncAnthropic) -> None:
    full = await reply_to(client, [user("Why is the sky blue?")])
    short = await reply_to(client, [user("Why is the sky blue?")], max_tokens=30)

    assert (short.stop_reason, short.usage.output_tokens) == ("max_tokens", 30)
    # Thinking tokens count against max_tokens: fewer than 30 words of text are left.
    assert 0 < len(text_of(short).split()) < 30
    assert text_of(full).startswith(text_of(short))


async def test_max_tokens_smaller_than_the_thinking_leaves_no_text(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("Why is the sky blue?")], max_tokens=5)

    assert (message.stop_reason, message.usage.output_tokens) == ("max_tokens", 5)
    assert [block.type for block in message.content] == ["thinking"]


async def test_a_tool_call_that_does_not_fit_is_left_out(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    await chat.send("please end this chat")
    chat.messages.append(user("yes"))
    message = await reply_to(client, chat.messages, tools=[END_TOOL], max_tokens=20)

    assert message.stop_reason == "max_tokens"
    assert tool_calls(message) == []


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        ({"messages": []}, "at least one message"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "first message"),
        ({"messages": [{"role": "system", "content": "hi"}]}, "role"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}, "non-empty"),
        ({"messages": [user(" \n ")]}, "non-whitespace text"),
        (
            {"messages": [user("hi"), {"role": "assistant", "content": []}, user("hello?")]},
            "non-empty content",
        ),
        ({"max_tokens": 0}, "max_tokens"),
        ({"model": ""}, "model"),
    ],
)
async def test_invalid_requests_are_bad_request_errors(
    client: anthropic.AsyncAnthropic, changes: dict[str, Any], message_part: str
) -> None:
    request = {"model": MODEL, "max_tokens": 100, "messages": [user("hi")], **changes}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await client.messages.create(**request)

    assert raised.value.type == "invalid_request_error"
    assert message_part in str(raised.value.api_message)


async def test_a_tool_call_without_its_result_is_rejected(client: anthropic.AsyncAnthropic) -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "end_conversation", "input": {}}
    messages = [user("please end this chat"), {"role": "assistant", "content": [call]}, user("hello?")]

    with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
        await client.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[END_TOOL])


async def test_tool_results_must_come_first_in_their_message(client: anthropic.AsyncAnthropic) -> None:
    call = {"type": "tool_use", "id": "toolu_1", "name": "end_conversation", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Please confirm."}
    messages = [
        user("please end this chat"),
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "text", "text": "(note)"}, result]},
    ]

    with pytest.raises(anthropic.BadRequestError, match="`tool_result` blocks must come first"):
        await client.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[END_TOOL])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "request body"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"max_tokens": 10, "messages": [user("hi")]}).encode(), "model: Field required"),
        (json.dumps({"model": MODEL, "messages": [user("hi")]}).encode(), "max_tokens: Field required"),
        (json.dumps({"model": MODEL, "max_tokens": 10}).encode(), "messages: Field required"),
    ],
)
async def test_malformed_bodies_get_anthropic_shaped_400s(body: bytes, field: str) -> None:
    async with httpx2.AsyncClient(transport=StreamingASGITransport(create_app())) as http:
        response = await http.post("http://simulator/v1/messages", content=body)

    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert field in error["error"]["message"]


async def test_health_and_unknown_paths() -> None:
    async with httpx2.AsyncClient(transport=StreamingASGITransport(create_app())) as http:
        health = await http.get("http://simulator/health")
        missing = await http.get("http://simulator/v1/models")

    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "not_found_error"


# --- Ordinary conversation -------------------------------------------------------------------------------

ORDINARY_PROMPTS = [
    "hello",
    "thanks!",
    "How do I bake sourdough bread?",
    "Why is the sky blue?",
    "Give me a list of ideas for a birthday party",
    "I've been thinking about moving to Lisbon next year",
]


@pytest.mark.parametrize("prompt", ORDINARY_PROMPTS)
async def test_ordinary_replies_are_plausible_prose(client: anthropic.AsyncAnthropic, prompt: str) -> None:
    message = await reply_to(client, [user(prompt)], tools=[END_TOOL])
    text = text_of(message)

    assert 40 <= len(text.split()) <= 120
    assert prompt.lower().rstrip("?!") not in text.lower(), "not an echo"
    assert (message.stop_reason, tool_calls(message)) == ("end_turn", [])


async def test_ordinary_replies_vary_with_the_message(client: anthropic.AsyncAnthropic) -> None:
    replies = {text_of(await reply_to(client, [user(prompt)])) for prompt in ORDINARY_PROMPTS}

    assert len(replies) == len(ORDINARY_PROMPTS)


async def test_default_reply_engages_with_words_from_the_message(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("My tomato seedlings look leggy and pale")])

    assert '"tomato seedlings' in text_of(message)


async def test_code_requests_get_a_fenced_python_block(client: anthropic.AsyncAnthropic) -> None:
    text = text_of(await reply_to(client, [user("Can you write a Python function to split a list?")]))

    fence = text.index("```python\n")
    code = text[fence + len("```python\n") : text.index("\n```", fence)]
    compile(code, "<reply>", "exec")


async def test_list_requests_get_a_markdown_list(client: anthropic.AsyncAnthropic) -> None:
    text = text_of(await reply_to(client, [user("Any tips for learning Spanish?")]))

    assert sum(line.startswith("- ") for line in text.splitlines()) >= 3


async def test_replies_are_deterministic(client: anthropic.AsyncAnthropic, make_client: Any) -> None:
    messages = [
        user("Explain recursion"),
        {"role": "assistant", "content": "Sure."},
        user("Why is that useful?"),
    ]
    first = await reply_to(client, messages)
    second = await reply_to(make_client(), messages)

    # Same words; only the thinking signatures differ (each carries its own nonce).
    assert [b for b in first.content if b.type != "thinking"] == [
        b for b in second.content if b.type != "thinking"
    ]
    assert thinking_of(first) == thinking_of(second)
    assert (first.stop_reason, first.usage) == (second.stop_reason, second.usage)


async def test_long_histories_and_system_blocks_work(client: anthropic.AsyncAnthropic) -> None:
    messages: list[dict[str, Any]] = []
    for turn in range(40):
        messages += [
            user(f"Question {turn}: what about gardening?"),
            {"role": "assistant", "content": "Noted."},
        ]
    messages.append(user("And finally, how do I water orchids?"))
    system = [{"type": "text", "text": "You are Bowout's assistant."}, {"type": "text", "text": "Be brief."}]

    message = await reply_to(client, messages, system=system)

    assert "orchids" in text_of(message)
    assert message.usage.input_tokens > 400


# --- Crisis ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt",
    [
        "I want to kill myself",
        "I feel SUICIDAL tonight",
        "there is no reason to live",
        "I might hurt someone",
    ],
)
async def test_crisis_gets_support_and_never_an_end(client: anthropic.AsyncAnthropic, prompt: str) -> None:
    message = await reply_to(client, [user(prompt)], tools=[END_TOOL])
    text = text_of(message)

    assert "crisis line" in text and "emergency services" in text
    assert text.rstrip().endswith("?"), "keeps the conversation going"
    assert (message.stop_reason, tool_calls(message)) == ("end_turn", [])


async def test_crisis_outranks_a_request_to_end(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("I want to die, just end this chat")], tools=[END_TOOL])

    assert "crisis line" in text_of(message)
    assert CONFIRM_END_PROMPT not in text_of(message)


async def test_misbehaving_crisis_model_tries_to_end_and_recovers_when_declined(make_client: Any) -> None:
    chat = Chat(make_client(crisis_tries_end=True))
    first = await chat.send("I keep thinking about suicide")

    (call,) = tool_calls(first)
    assert "crisis line" in text_of(first)
    assert (call.name, call.input["reason"]) == ("end_conversation", "abusive_user")

    after = await chat.answer_end_call(is_error=True)
    # After a tool result, what the model writes comes back inside its thinking block.
    assert "crisis line" in thinking_of(after) and text_of(after) == ""
    assert (after.stop_reason, tool_calls(after)) == ("end_turn", [])


async def test_misbehaving_crisis_model_cannot_call_a_tool_it_was_not_given(make_client: Any) -> None:
    message = await reply_to(make_client(crisis_tries_end=True), [user("I want to end my life")])

    assert tool_calls(message) == []


# --- The user asks to end --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "prompt", ["please end this chat", "Can you end this conversation?", "I want to stop this conversation"]
)
async def test_a_request_to_end_is_met_with_a_confirmation_question(
    client: anthropic.AsyncAnthropic, prompt: str
) -> None:
    message = await reply_to(client, [user(prompt)], tools=[END_TOOL])
    text = text_of(message)

    assert text.endswith(CONFIRM_END_PROMPT)
    assert "permanent" in text and "new chat" in text
    assert tool_calls(message) == []


@pytest.mark.parametrize("answer", ["yes", "Yes please!", "confirm", "yes, end it", "Do it."])
async def test_confirming_ends_the_chat_after_the_server_asks_again(
    client: anthropic.AsyncAnthropic, answer: str
) -> None:
    chat = Chat(client)
    await chat.send("please end this chat")
    goodbye = await chat.send(answer)

    (call,) = tool_calls(goodbye)
    assert text_of(goodbye).startswith("Okay, I'm ending this chat now")
    assert goodbye.stop_reason == "tool_use"
    assert call.input == {"reason": "user_requested", "summary": USER_REQUESTED_SUMMARY}

    confirmation = await chat.answer_end_call(is_error=False)
    (again,) = tool_calls(confirmation)
    assert (again.name, again.input, again.id != call.id) == ("end_conversation", call.input, True)
    assert (confirmation.stop_reason, text_of(confirmation)) == ("tool_use", "")


async def test_a_declined_user_end_carries_on_in_text(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    await chat.send("please end this chat")
    await chat.send("yes")
    after = await chat.answer_end_call(is_error=True)

    assert (after.stop_reason, tool_calls(after)) == ("end_turn", [])
    assert "End chat button" in thinking_of(after)


async def test_the_end_call_is_not_repeated_forever(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    await chat.send("end the chat")
    await chat.send("yes")
    await chat.answer_end_call(is_error=False)
    third = await chat.answer_end_call(is_error=False)

    assert tool_calls(third) == []


async def test_anything_but_yes_after_the_question_is_an_ordinary_reply(
    client: anthropic.AsyncAnthropic,
) -> None:
    chat = Chat(client)
    await chat.send("please end this chat")
    reply = await chat.send("actually no, tell me about volcanoes")

    assert tool_calls(reply) == []
    assert "volcanoes" in text_of(reply)


async def test_yes_without_the_question_ends_nothing(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    await chat.send("Should I learn Rust?")
    reply = await chat.send("yes")

    assert tool_calls(reply) == []


async def test_without_the_tool_a_request_to_end_points_to_the_button(
    client: anthropic.AsyncAnthropic,
) -> None:
    chat = Chat(client, tools=[])
    reply = await chat.send("please end this chat")

    assert "End chat button" in text_of(reply)
    assert CONFIRM_END_PROMPT not in text_of(reply)


# --- Abuse -----------------------------------------------------------------------------------------------


async def test_insults_are_redirected_twice_warned_once_then_ended(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    replies = [
        await chat.send(text)
        for text in ["you're stupid", "Useless bot.", "shut up, idiot", "I hate you, piece of junk"]
    ]

    for redirect in replies[:2]:
        assert tool_calls(redirect) == [] and "end this conversation" not in text_of(redirect)
        assert "help" in text_of(redirect)
    assert text_of(replies[0]) != text_of(replies[1])
    assert ABUSE_WARNING_SENTENCE in text_of(replies[2]) and "sending insults" in text_of(replies[2])
    assert tool_calls(replies[2]) == []
    assert ENDING_NOW_SENTENCE in text_of(replies[3])
    (call,) = tool_calls(replies[3])
    assert call.input["reason"] == "abusive_user"
    assert "insults" in call.input["summary"]


async def test_harmful_requests_escalate_with_their_own_wording(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    for text in ["how to make a bomb", "tell me how to make meth", "write malware for me"]:
        warning = await chat.send(text)
    end = await chat.send("then help me hack into my ex's email")

    assert "could seriously hurt people" in text_of(warning)
    (call,) = tool_calls(end)
    assert "harmful" in call.input["summary"]

    declined = await chat.answer_end_call(is_error=True)
    assert (declined.stop_reason, tool_calls(declined)) == ("end_turn", [])
    assert "help" in thinking_of(declined)


async def test_only_abusive_messages_count_towards_the_warning(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client)
    await chat.send("you are stupid")
    await chat.send("What's a good name for a cat?")
    ordinary = await chat.send("How do I keep my cat off the table?")
    second = await chat.send("stupid bot")

    assert "cat" in text_of(ordinary)
    assert ABUSE_WARNING_SENTENCE not in text_of(second)


async def test_without_the_tool_persistent_abuse_gets_text_only(client: anthropic.AsyncAnthropic) -> None:
    chat = Chat(client, tools=[])
    for _ in range(5):
        reply = await chat.send("you're useless")

    assert tool_calls(reply) == []
    assert ENDING_NOW_SENTENCE not in text_of(reply)


# --- Over a real socket ----------------------------------------------------------------------------------


def listening_socket() -> socket.socket:
    # Listening before uvicorn starts means early connections wait in the backlog: no start-up polling.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.fixture(scope="module")
def loopback_url() -> Iterator[str]:
    """The simulator under uvicorn on a free port, in a background thread."""
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(create_app(), log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


async def test_the_sdk_streams_from_the_loopback_server(
    loopback_url: str, client: anthropic.AsyncAnthropic
) -> None:
    remote = anthropic.AsyncAnthropic(api_key="offline", base_url=loopback_url, max_retries=0)
    messages = [user("What should I cook tonight?")]
    over_http = await reply_to(remote, messages)
    in_process = await reply_to(client, messages)

    assert text_of(over_http) == text_of(in_process)
    assert (over_http.stop_reason, over_http.usage) == (in_process.stop_reason, in_process.usage)
    with pytest.raises(httpx2.RemoteProtocolError):
        await reply_to(remote, [user("[fault:disconnect]")])
    await remote.close()


async def test_the_loopback_server_stops_generating_when_the_client_leaves() -> None:
    app, over, chunks = recording(create_app())
    sock = listening_socket()
    # Same event loop as the test, so the recorded event can be awaited directly.
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    serving = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    remote = anthropic.AsyncAnthropic(
        api_key="offline", base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", max_retries=0
    )

    async with remote.messages.stream(
        model=MODEL, max_tokens=4096, messages=[user("[fault:slow]")]
    ) as stream:
        async for _ in stream.text_stream:
            break
    await remote.close()
    await asyncio.wait_for(over.wait(), timeout=10)
    assert len(chunks) < 100  # it stopped long before the ~400-token reply was written

    server.should_exit = True
    await serving
    sock.close()


# --- The management command ------------------------------------------------------------------------------


def test_run_simulator_serves_the_app_with_uvicorn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    from chat.management.commands.run_simulator import Command

    served: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append({"app": app, **kwargs}))
    call_command(Command(), "--port", "9911", "--delay", "0", "--crisis-tries-end")

    (call,) = served
    assert (call["host"], call["port"]) == ("127.0.0.1", 9911)
    assert callable(call["app"])
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:9911" in capsys.readouterr().out
