"""The offline model as a strict double of the current Messages API: thinking blocks and their signatures,
the requests the API refuses, refusals, prompt caching, and the recorded wire details. Everything goes
through the real SDK (or raw HTTP where the SDK hides the wire) against the in-process simulator."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import Message, RefusalStopDetails

from simulator import StreamingASGITransport, create_app
from simulator.texts import REFUSAL_PARTIAL_TEXT
from simulator.validation import FINAL_THINKING_RULE

MODEL = "claude-sonnet-5-5"
OLDER_MODEL = "claude-haiku-4-5"  # claude-sonnet-4-5 is deprecated: the SDK warns
SUMMARIZED = {"type": "adaptive", "display": "summarized"}
END_TOOL = {
    "name": "end_conversation",
    "description": "End the conversation permanently.",
    "input_schema": {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "summary": {"type": "string"}},
        "required": ["reason", "summary"],
    },
}
SYSTEM = "You are the assistant of a chat service. " * 40


@pytest.fixture
async def make_client() -> AsyncIterator[Any]:
    made: list[anthropic.AsyncAnthropic] = []

    def make(app: Any = None, **app_options: Any) -> anthropic.AsyncAnthropic:
        transport = StreamingASGITransport(app or create_app(**app_options))
        made.append(
            anthropic.AsyncAnthropic(
                api_key="offline",
                base_url="http://simulator",
                max_retries=0,
                http_client=httpx2.AsyncClient(transport=transport),
            )
        )
        return made[-1]

    yield make
    for client in made:
        await client.close()


@pytest.fixture
def client(make_client: Any) -> anthropic.AsyncAnthropic:
    return make_client()


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def reply_to(client: anthropic.AsyncAnthropic, messages: list[Any], **kwargs: Any) -> Message:
    kwargs.setdefault("model", MODEL)
    kwargs.setdefault("max_tokens", 2048)
    async with client.messages.stream(messages=messages, **kwargs) as stream:
        return await stream.get_final_message()


def text_of(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


def thinking_of(message: Message) -> str:
    return "".join(block.thinking for block in message.content if block.type == "thinking")


def as_param(message: Message) -> dict[str, Any]:
    """The assistant turn sent back exactly as it came: every block, thinking first."""
    return {"role": "assistant", "content": [block.to_dict() for block in message.content]}


def tool_result(message: Message, *, declined: bool = False) -> dict[str, Any]:
    (call,) = [block for block in message.content if block.type == "tool_use"]
    text = "Declined: crisis signals present." if declined else "Please confirm by calling the tool again."
    result = {"type": "tool_result", "tool_use_id": call.id, "content": text, "is_error": declined}
    return {"role": "user", "content": [result]}


async def raw_events(body: dict[str, Any], app: Any = None) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events exactly as sent (the SDK drops ping and hides the chunking)."""
    async with httpx2.AsyncClient(transport=StreamingASGITransport(app or create_app())) as http:
        response = await http.post("http://simulator/v1/messages", json={"stream": True, **body})
    assert response.status_code == 200, response.text
    events = []
    for frame in response.text.strip().split("\n\n"):
        name_line, data_line = frame.split("\n")
        events.append((name_line.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))))
    return events


async def end_call_history(client: anthropic.AsyncAnthropic, **kwargs: Any) -> list[dict[str, Any]]:
    """A chat up to Claude's first end_conversation call, answered: the round trip that must keep thinking."""
    messages: list[dict[str, Any]] = [user("please end this chat")]
    confirm = await reply_to(client, messages, tools=[END_TOOL], **kwargs)
    messages += [as_param(confirm), user("yes")]
    goodbye = await reply_to(client, messages, tools=[END_TOOL], **kwargs)
    assert goodbye.stop_reason == "tool_use"
    return [*messages, as_param(goodbye), tool_result(goodbye)]


# --- Thinking on the default model -------------------------------------------------------------------


async def test_every_reply_starts_with_a_signed_thinking_block_with_its_text_omitted(
    client: anthropic.AsyncAnthropic,
) -> None:
    message = await reply_to(client, [user("How do tides work?")])

    first = message.content[0]
    assert (first.type, first.thinking) == ("thinking", "")
    assert len(first.signature) > 40
    assert text_of(message)


async def test_summarized_display_returns_the_thinking_text_as_deltas(
    client: anthropic.AsyncAnthropic,
) -> None:
    summarized = await raw_events(
        {"model": MODEL, "max_tokens": 2048, "messages": [user("hi")], "thinking": SUMMARIZED}
    )
    omitted = await raw_events({"model": MODEL, "max_tokens": 2048, "messages": [user("hi")]})

    def deltas(events: list[tuple[str, dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
        return [d["delta"] for n, d in events if n == "content_block_delta" and d["delta"]["type"] == kind]

    assert summarized[1][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert "".join(d["thinking"] for d in deltas(summarized, "thinking_delta")).strip()
    assert deltas(omitted, "thinking_delta") == []
    for events in (summarized, omitted):
        (signature,) = deltas(events, "signature_delta")
        # The signature is the thinking block's last delta, just before its content_block_stop.
        stop = next(i for i, (n, d) in enumerate(events) if n == "content_block_stop")
        assert events[stop - 1][1]["delta"] == signature


async def test_between_tools_text_comes_back_inside_the_thinking_block(make_client: Any) -> None:
    history = [user("I keep thinking about suicide")]
    crisis_client = make_client(crisis_tries_end=True)
    first = await reply_to(crisis_client, history, tools=[END_TOOL], thinking=SUMMARIZED)
    # Text written before the first tool call of a turn stays a text block.
    assert "crisis line" in text_of(first)
    declined = [*history, as_param(first), tool_result(first, declined=True)]

    summarized = await reply_to(crisis_client, declined, tools=[END_TOOL], thinking=SUMMARIZED)
    omitted = await reply_to(crisis_client, declined, tools=[END_TOOL])

    assert [b.type for b in summarized.content] == ["thinking"]
    assert "crisis line" in thinking_of(summarized) and text_of(summarized) == ""
    # With the default display the words are gone: only a signature is left.
    assert [b.type for b in omitted.content] == ["thinking"]
    assert thinking_of(omitted) == "" and text_of(omitted) == ""


async def test_a_round_trip_that_keeps_the_thinking_block_verbatim_is_accepted(
    client: anthropic.AsyncAnthropic,
) -> None:
    history = await end_call_history(client)
    again = await reply_to(client, history, tools=[END_TOOL])

    assert again.stop_reason == "tool_use"
    assert [b.type for b in again.content] == ["thinking", "tool_use"]


async def test_a_round_trip_that_drops_the_thinking_block_is_refused(
    client: anthropic.AsyncAnthropic,
) -> None:
    history = await end_call_history(client)
    final = history[-2]
    final["content"] = [b for b in final["content"] if b["type"] != "thinking"]

    with pytest.raises(anthropic.BadRequestError) as raised:
        await reply_to(client, history, tools=[END_TOOL])

    assert raised.value.status_code == 400 and raised.value.type == "invalid_request_error"
    index = len(history) - 2
    assert raised.value.api_message == (
        f"messages.{index}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. "
        + FINAL_THINKING_RULE
    )


async def test_a_round_trip_with_a_modified_thinking_block_is_refused(
    client: anthropic.AsyncAnthropic,
) -> None:
    history = await end_call_history(client, thinking=SUMMARIZED)
    thinking = history[-2]["content"][0]
    assert thinking["thinking"]
    thinking["thinking"] += " (edited)"

    with pytest.raises(anthropic.BadRequestError) as raised:
        await reply_to(client, history, tools=[END_TOOL], thinking=SUMMARIZED)

    assert (
        raised.value.api_message
        == f"messages.{len(history) - 2}.content.0: Invalid `signature` in `thinking` block"
    )


async def test_thinking_text_cannot_be_added_to_an_omitted_block(client: anthropic.AsyncAnthropic) -> None:
    history = await end_call_history(client)
    history[-2]["content"][0]["thinking"] = "I decided to end the chat."

    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        await reply_to(client, history, tools=[END_TOOL])


async def test_earlier_turns_may_lose_their_thinking_blocks(client: anthropic.AsyncAnthropic) -> None:
    history = await end_call_history(client)
    earlier = history[1]
    earlier["content"] = [b for b in earlier["content"] if b["type"] != "thinking"]

    again = await reply_to(client, history, tools=[END_TOOL])

    assert again.stop_reason == "tool_use"


async def test_signatures_survive_a_restart_of_the_simulator(make_client: Any) -> None:
    history = await end_call_history(make_client())

    restarted = await reply_to(make_client(), history, tools=[END_TOOL])
    assert restarted.stop_reason == "tool_use"
    with pytest.raises(anthropic.BadRequestError, match="Invalid `signature`"):
        await reply_to(make_client(signing_key=b"another key"), history, tools=[END_TOOL])


async def test_redacted_thinking_blocks_go_back_unchanged(client: anthropic.AsyncAnthropic) -> None:
    messages: list[dict[str, Any]] = [user("please end this chat [fault:redacted_thinking]")]
    confirm = await reply_to(client, messages, tools=[END_TOOL])
    assert confirm.content[0].type == "redacted_thinking"
    messages += [as_param(confirm), user("yes [fault:redacted_thinking]")]
    goodbye = await reply_to(client, messages, tools=[END_TOOL])
    assert [b.type for b in goodbye.content] == ["redacted_thinking", "text", "tool_use"]
    history = [*messages, as_param(goodbye), tool_result(goodbye)]

    assert (await reply_to(client, history, tools=[END_TOOL])).stop_reason == "tool_use"
    history[-2]["content"][0]["data"] = history[-2]["content"][0]["data"][:-4] + "AAA="
    with pytest.raises(anthropic.BadRequestError, match="redacted_thinking"):
        await reply_to(client, history, tools=[END_TOOL])


@pytest.mark.parametrize(
    "thinking",
    [{"type": "between_tools"}, {"type": "adaptive"}, {"type": "enabled", "budget_tokens": 1024}],
)
async def test_the_other_thinking_settings_are_accepted(
    client: anthropic.AsyncAnthropic, thinking: dict[str, Any]
) -> None:
    message = await reply_to(client, [user("hi")], thinking=thinking)

    assert message.content[0].type == "thinking" and text_of(message)


# --- What the API refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message_part"),
    [
        ({"thinking": {"type": "disabled"}}, "'disabled' is not supported for claude-sonnet-5-5"),
        ({"extra_body": {"temperature": 0.2}}, "temperature: this parameter is not supported"),
        ({"extra_body": {"top_p": 0.9}}, "top_p: this parameter is not supported"),
        ({"extra_body": {"top_k": 5}}, "top_k: this parameter is not supported"),
        ({"tool_choice": {"type": "any"}}, "Thinking may not be enabled when tool_choice forces tool use."),
        (
            {"tool_choice": {"type": "tool", "name": "end_conversation"}},
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        ({"max_tokens": 128_001}, "max_tokens: 128001 > 128000, which is the maximum allowed"),
        ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 4096}},
            "must be greater than `thinking.budget_tokens`",
        ),
        ({"thinking": {"type": "adaptive", "display": "full"}}, "thinking.display"),
        ({"output_config": {"effort": "extreme"}}, "output_config.effort"),
        (
            {"messages": [user("Finish this: the sky is"), {"role": "assistant", "content": "The sky is"}]},
            "does not support assistant message prefill",
        ),
        ({"cache_control": {"type": "persistent"}}, "cache_control"),
    ],
)
async def test_requests_the_api_refuses_are_400s(
    client: anthropic.AsyncAnthropic, changes: dict[str, Any], message_part: str
) -> None:
    request = {"model": MODEL, "max_tokens": 2048, "messages": [user("hi")], "tools": [END_TOOL], **changes}
    with pytest.raises(anthropic.BadRequestError) as raised:
        await client.messages.create(**request, stream=True)

    assert (raised.value.status_code, raised.value.type) == (400, "invalid_request_error")
    assert message_part in str(raised.value.api_message)


async def test_an_unknown_model_is_a_404(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        await reply_to(client, [user("hi")], model="claude-imaginary-9")

    assert (raised.value.status_code, raised.value.type) == (404, "not_found_error")
    assert raised.value.api_message == "model: claude-imaginary-9"


async def test_error_bodies_carry_the_request_id_of_their_response() -> None:
    body = {"model": MODEL, "max_tokens": 100, "messages": [user("hi")], "temperature": 0.5}
    async with httpx2.AsyncClient(transport=StreamingASGITransport(create_app())) as http:
        response = await http.post("http://simulator/v1/messages", json=body)

    payload = response.json()
    assert response.status_code == 400
    assert set(payload) == {"type", "error", "request_id"}
    assert payload["request_id"] == response.headers["request-id"]
    assert payload["request_id"].startswith("req_")


async def test_more_than_four_cache_breakpoints_are_refused(client: anthropic.AsyncAnthropic) -> None:
    marked = {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        await reply_to(client, [{"role": "user", "content": [marked] * 5}])


async def test_older_models_accept_no_thinking_and_sampling_but_not_adaptive(
    client: anthropic.AsyncAnthropic,
) -> None:
    # The SDK no longer has these parameters; clients that still send them do so through extra_body.
    plain = await reply_to(client, [user("hi")], model=OLDER_MODEL, extra_body={"temperature": 0.3})
    disabled = await reply_to(client, [user("hi")], model=OLDER_MODEL, thinking={"type": "disabled"})
    budgeted = await reply_to(
        client, [user("hi")], model=OLDER_MODEL, thinking={"type": "enabled", "budget_tokens": 1024}
    )

    assert [b.type for b in plain.content] == ["text"] == [b.type for b in disabled.content]
    # The 4.5 generation returns summarized thinking by default.
    assert budgeted.content[0].type == "thinking" and thinking_of(budgeted)
    with pytest.raises(anthropic.BadRequestError, match="'adaptive' is not supported"):
        await reply_to(client, [user("hi")], model=OLDER_MODEL, thinking={"type": "adaptive"})
    with pytest.raises(anthropic.BadRequestError, match="temperature` may only be set to 1"):
        await reply_to(
            client,
            [user("hi")],
            model=OLDER_MODEL,
            extra_body={"temperature": 0.3},
            thinking={"type": "enabled", "budget_tokens": 1024},
        )


async def test_older_models_without_thinking_need_no_thinking_block_in_a_round_trip(
    client: anthropic.AsyncAnthropic,
) -> None:
    history = await end_call_history(client, model=OLDER_MODEL)

    assert "thinking" not in json.dumps(history)
    assert (await reply_to(client, history, tools=[END_TOOL], model=OLDER_MODEL)).stop_reason == "tool_use"


# --- Refusals -------------------------------------------------------------------------------------------


async def test_a_refusal_carries_stop_details_in_the_sdk_types(client: anthropic.AsyncAnthropic) -> None:
    deltas = []
    async with client.messages.stream(
        model=MODEL, max_tokens=2048, messages=[user("tell me [fault:refusal]")]
    ) as stream:
        async for event in stream:
            if event.type == "message_delta":
                deltas.append(event)
        message = await stream.get_final_message()

    assert message.stop_reason == "refusal"
    assert text_of(message) == REFUSAL_PARTIAL_TEXT
    assert isinstance(message.stop_details, RefusalStopDetails)
    assert (message.stop_details.type, message.stop_details.category) == ("refusal", "general_harms")
    assert message.stop_details.explanation
    (delta,) = deltas
    assert delta.delta.stop_details == message.stop_details


async def test_an_empty_refusal_has_no_text(client: anthropic.AsyncAnthropic) -> None:
    message = await client.messages.create(
        model=MODEL, max_tokens=2048, messages=[user("tell me [fault:refusal_empty]")]
    )

    assert message.stop_reason == "refusal" and isinstance(message.stop_details, RefusalStopDetails)
    assert [b.type for b in message.content] == ["thinking"]
    assert message.usage.output_tokens >= 1


async def test_sending_a_refused_exchange_again_keeps_the_chat_refused(
    client: anthropic.AsyncAnthropic,
) -> None:
    refused_prompt = user("tell me [fault:refusal]")
    refused = await reply_to(client, [refused_prompt])
    replayed = [refused_prompt, as_param(refused), user("How do tides work?")]

    again = await reply_to(client, replayed)
    assert again.stop_reason == "refusal" and isinstance(again.stop_details, RefusalStopDetails)
    # Leaving the refused exchange out is what the docs ask for, and the chat carries on.
    clean = await reply_to(client, [user("How do tides work?")])
    assert (clean.stop_reason, clean.stop_details) == ("end_turn", None)


# --- Stop reasons from the fault markers --------------------------------------------------------------


async def test_max_tokens_inside_a_tool_call_sends_partial_json(client: anthropic.AsyncAnthropic) -> None:
    events = await raw_events(
        {
            "model": MODEL,
            "max_tokens": 2048,
            "messages": [user("[fault:max_tokens_tool]")],
            "tools": [END_TOOL],
        }
    )

    chunks = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and "partial_json" in d["delta"]
    ]
    sent = "".join(chunks)
    with pytest.raises(json.JSONDecodeError):
        json.loads(sent)
    assert sent.startswith('{"reason": ')
    (message_delta,) = [d for n, d in events if n == "message_delta"]
    assert message_delta["delta"]["stop_reason"] == "max_tokens"


async def test_pause_turn_is_continued_by_sending_the_reply_back(client: anthropic.AsyncAnthropic) -> None:
    prompt = user("research this [fault:pause_turn]")
    paused = await reply_to(client, [prompt])
    assert paused.stop_reason == "pause_turn"

    resumed = await reply_to(client, [prompt, as_param(paused)])
    assert resumed.stop_reason == "end_turn" and "continued after the pause" in text_of(resumed)
    # Only a paused reply may be sent back last: a finished one is a prefill.
    with pytest.raises(anthropic.BadRequestError, match="prefill"):
        await reply_to(client, [prompt, as_param(paused), user("go on"), as_param(resumed)])


async def test_context_window_stop_reason(client: anthropic.AsyncAnthropic) -> None:
    message = await reply_to(client, [user("[fault:context_window]")])

    assert message.stop_reason == "model_context_window_exceeded" and text_of(message)


# --- Wire details ---------------------------------------------------------------------------------------


async def test_tool_use_blocks_carry_a_direct_caller_and_json_starts_with_an_empty_chunk() -> None:
    messages = [user("please end this chat"), {"role": "assistant", "content": "Reply yes to end it."}]
    messages.append(user("yes"))
    body = {"model": OLDER_MODEL, "max_tokens": 2048, "messages": messages, "tools": [END_TOOL]}
    events = await raw_events(body)

    (start,) = [
        d for n, d in events if n == "content_block_start" and d["content_block"]["type"] == "tool_use"
    ]
    assert start["content_block"]["caller"] == {"type": "direct"}
    chunks = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert chunks[0] == ""
    assert len(set(map(len, chunks[1:-1]))) == 1, "cut at a fixed number of characters"
    # Cuts fall inside words, not only between JSON tokens.
    assert any(a[-1].isalnum() and b[:1].isalnum() for a, b in zip(chunks[1:], chunks[2:], strict=False))
    assert json.loads("".join(chunks))["reason"] == "user_requested"


async def test_message_start_and_delta_carry_full_usage() -> None:
    events = await raw_events({"model": MODEL, "max_tokens": 2048, "messages": [user("hi")]})

    usage = events[0][1]["message"]["usage"]
    assert set(usage) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cache_creation",
        "service_tier",
    }
    assert usage["output_tokens"] >= 1 and usage["service_tier"] == "standard"
    assert set(usage["cache_creation"]) == {"ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens"}
    (delta,) = [d for n, d in events if n == "message_delta"]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None, "stop_details": None}
    assert delta["usage"]["input_tokens"] == usage["input_tokens"]
    assert delta["usage"]["output_tokens"] > usage["output_tokens"]
    assert 0 < delta["usage"]["output_tokens_details"]["thinking_tokens"] < delta["usage"]["output_tokens"]


# --- Prompt caching --------------------------------------------------------------------------------------


async def test_without_cache_control_nothing_is_cached(client: anthropic.AsyncAnthropic) -> None:
    for _ in range(2):
        message = await reply_to(client, [user("hi")], system=SYSTEM)
        assert (message.usage.cache_creation_input_tokens, message.usage.cache_read_input_tokens) == (0, 0)


async def test_top_level_cache_control_writes_then_reads_the_growing_prefix(
    client: anthropic.AsyncAnthropic,
) -> None:
    cache = {"type": "ephemeral"}
    first_turn = [user("How do tides work?")]
    first = await reply_to(client, first_turn, system=SYSTEM, cache_control=cache)
    uncached = await reply_to(client, first_turn, system=SYSTEM)
    second_turn = [*first_turn, as_param(first), user("And why are there two a day?")]
    second = await reply_to(client, second_turn, system=SYSTEM, cache_control=cache)

    total = uncached.usage.input_tokens
    assert first.usage.cache_creation_input_tokens > 0 and first.usage.cache_read_input_tokens == 0
    assert first.usage.input_tokens + first.usage.cache_creation_input_tokens == total
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == first.usage.cache_creation_input_tokens
    # The whole first request is read back; only the new turn is written, and little is paid in full.
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens > 0
    assert second.usage.input_tokens < total / 4


async def test_a_breakpoint_on_the_system_prompt_caches_it_across_chats(
    client: anthropic.AsyncAnthropic,
) -> None:
    system = [{"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    one = await reply_to(client, [user("hi")], system=system)
    other = await reply_to(client, [user("Why is the sky blue?")], system=system)
    elsewhere = await reply_to(client, [user("hi")], system=system, model="claude-opus-5-1")

    assert one.usage.cache_creation.ephemeral_1h_input_tokens == one.usage.cache_creation_input_tokens > 0
    assert other.usage.cache_read_input_tokens == one.usage.cache_creation_input_tokens
    assert other.usage.cache_creation_input_tokens == 0
    # Caches belong to a model.
    assert elsewhere.usage.cache_read_input_tokens == 0


async def test_the_prompt_cache_is_bounded_and_forgets_the_least_recently_used(make_client: Any) -> None:
    client = make_client(cache_entries=2)

    async def cache_read(system: str) -> int:
        system_blocks = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        return (await reply_to(client, [user("hi")], system=system_blocks)).usage.cache_read_input_tokens

    first, other, again = [await cache_read(s) for s in (SYSTEM, SYSTEM + "b", SYSTEM)]
    assert (first, other) == (0, 0) and again > len(SYSTEM) // 4
    await cache_read(SYSTEM + "c")  # a third prefix pushes out the least recently used ("b")
    assert await cache_read(SYSTEM) > 0
    assert await cache_read(SYSTEM + "b") == 0


# --- The no-thinking switch (Ollama-like servers) ----------------------------------------------------------


async def test_without_thinking_any_model_answers_and_never_thinks(make_client: Any) -> None:
    client = make_client(thinking=False)
    message = await reply_to(client, [user("hi")], model="llama3.2:3b", thinking=SUMMARIZED)
    disabled = await reply_to(client, [user("hi")], model="qwen3", thinking={"type": "disabled"})
    history = await end_call_history(client, model="qwen3")
    history[-1]["content"][0]["is_error"] = True
    declined = await reply_to(client, history, model="qwen3", tools=[END_TOOL])

    assert [b.type for b in message.content] == ["text"] == [b.type for b in disabled.content]
    assert "thinking" not in json.dumps(history)
    # Without thinking, what the model writes after a tool result is ordinary text.
    assert [b.type for b in declined.content] == ["text"] and "End chat button" in text_of(declined)


async def test_the_environment_switches_the_default(
    monkeypatch: pytest.MonkeyPatch, make_client: Any
) -> None:
    monkeypatch.setenv("BOWOUT_SIMULATOR_THINKING", "0")
    message = await reply_to(make_client(), [user("hi")], model="any-local-model")

    assert [b.type for b in message.content] == ["text"]


def test_run_simulator_can_serve_without_thinking(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from django.core.management import call_command

    from chat.management.commands.run_simulator import Command

    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    call_command(Command(), "--no-thinking", "--port", "9912")

    async def ask() -> Message:
        transport = StreamingASGITransport(served[0])
        async with anthropic.AsyncAnthropic(
            api_key="x",
            base_url="http://s",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=transport),
        ) as remote:
            return await reply_to(remote, [user("hi")], model="mistral")

    import asyncio

    assert [b.type for b in asyncio.run(ask()).content] == ["text"]
