"""The offline model is never kinder than the real API: its streams have the shapes of the recorded real-API
streams in tests/fixtures/streams (event order, usage fields, tool-call details, error and refusal bodies),
so code that passes offline meets the same wire live."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from chat.welfare import END_TOOL
from simulator import create_app

STREAMS = Path(__file__).parent / "fixtures" / "streams"
# Fields the API adds for information only; a client must not depend on them, so the double may omit them.
INFORMATIONAL = {"inference_geo", "service_tier"}
CONFIRMED_END = [
    {"role": "user", "content": "Please end this chat."},
    {
        "role": "assistant",
        "content": "I can end this chat for you. Ending it is permanent. Reply yes to end it.",
    },
    {"role": "user", "content": "yes"},
]

Event = tuple[str, dict[str, Any]]


def events_of(body: bytes) -> list[Event]:
    events = []
    for chunk in body.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.splitlines() if ": " in line)
        if "data" in fields:
            events.append((fields.get("event", ""), json.loads(fields["data"])))
    return events


def recorded(scenario: str, number: int = 1) -> bytes:
    raw = (STREAMS / scenario / f"{number:02d}.http").read_bytes()
    return raw.partition(b"\n\n")[2]


def simulated(messages: list[dict[str, Any]]) -> httpx2.Response:
    """One streaming request to the offline model as Bowout makes it, over its real wire format (the
    whole response read at once: its shape is what counts here, not its timing)."""
    body = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 16000,
        "stream": True,
        "system": "You are Claude, in Bowout.",
        "messages": messages,
        "tools": [END_TOOL],
        "thinking": {"type": "adaptive", "display": "summarized"},
        "cache_control": {"type": "ephemeral"},
    }

    async def post() -> httpx2.Response:
        transport = httpx2.ASGITransport(app=create_app(thinking=True))
        async with httpx2.AsyncClient(transport=transport, base_url="http://offline") as client:
            response = await client.post(
                "/v1/messages", json=body, headers={"x-api-key": "offline", "anthropic-version": "2023-06-01"}
            )
            await response.aread()
            return response

    return asyncio.run(post())


def opening(events: list[Event]) -> list[str]:
    """The event names up to the first delta: where `ping` comes, and what starts first."""
    names = []
    for name, _ in events:
        if name == "content_block_delta":
            break
        names.append(name)
    return names


def usage_keys(usage: dict[str, Any]) -> set[str]:
    return set(usage) - INFORMATIONAL


def first(events: list[Event], name: str) -> dict[str, Any]:
    return next(data for event, data in events if event == name)


def starts(events: list[Event], block_type: str) -> list[dict[str, Any]]:
    return [
        data["content_block"]
        for event, data in events
        if event == "content_block_start" and data["content_block"]["type"] == block_type
    ]


def json_chunks(events: list[Event]) -> list[str]:
    return [
        data["delta"]["partial_json"]
        for event, data in events
        if event == "content_block_delta" and data["delta"]["type"] == "input_json_delta"
    ]


def test_a_simulated_text_reply_has_the_recorded_api_shape():
    real = events_of(recorded("api_text"))
    response = simulated([{"role": "user", "content": "How do tides work?"}])
    sim = events_of(response.content)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers.get("request-id")
    assert opening(sim) == opening(real) == ["message_start", "content_block_start", "ping"]
    real_start, sim_start = first(real, "message_start")["message"], first(sim, "message_start")["message"]
    assert set(real_start) - INFORMATIONAL <= set(sim_start)
    assert usage_keys(real_start["usage"]) <= usage_keys(sim_start["usage"])
    assert sim_start["usage"]["output_tokens"] >= 1
    real_delta, sim_delta = first(real, "message_delta"), first(sim, "message_delta")
    assert set(real_delta["delta"]) <= set(sim_delta["delta"])
    assert usage_keys(real_delta["usage"]) <= usage_keys(sim_delta["usage"])
    assert (
        starts(sim, "thinking")
        == starts(real, "thinking")
        == [{"type": "thinking", "thinking": "", "signature": ""}]
    )
    texts = [
        d["delta"]["text"]
        for e, d in sim
        if e == "content_block_delta" and d["delta"]["type"] == "text_delta"
    ]
    assert any(len(text.split()) > 1 for text in texts), "the real API sends several words per text delta"
    assert [name for name, _ in sim][-2:] == ["message_delta", "message_stop"]


def test_a_simulated_end_call_has_the_recorded_api_tool_shape():
    real = events_of(recorded("api_thinking_tool_end"))
    sim = events_of(simulated(CONFIRMED_END).content)

    real_call, sim_call = starts(real, "tool_use")[0], starts(sim, "tool_use")
    assert sim_call, "the offline model should call end_conversation after a confirmed request"
    assert set(real_call) <= set(sim_call[0]) and sim_call[0]["input"] == {}
    assert sim_call[0]["caller"] == real_call["caller"] == {"type": "direct"}
    real_chunks, sim_chunks = json_chunks(real), json_chunks(sim)
    assert real_chunks[0] == sim_chunks[0] == "", "input JSON starts with an empty chunk"
    assert any(_cut_mid_token(chunk) for chunk in sim_chunks[1:-1])
    assert json.loads("".join(sim_chunks))["reason"] == "user_requested"
    assert first(sim, "message_delta")["delta"]["stop_reason"] == "tool_use"


def _cut_mid_token(chunk: str) -> bool:
    """A chunk that ends inside a word or a string, as the real API cuts them."""
    return bool(chunk) and chunk[-1].isalnum()


@pytest.mark.parametrize("fault", ["overloaded", "server"])
def test_a_simulated_error_body_has_the_recorded_api_shape(fault):
    real = json.loads(recorded("api_billing_402"))
    response = simulated([{"role": "user", "content": f"Hello [fault:{fault}]"}])
    sim = response.json()

    assert response.status_code >= 500
    assert set(real) <= set(sim) and sim["request_id"]
    assert set(real["error"]) <= set(sim["error"])


def test_a_simulated_midstream_error_has_the_recorded_api_shape():
    real = dict(events_of(recorded("api_midstream_error")))["error"]
    sim = dict(events_of(simulated([{"role": "user", "content": "Owls [fault:midstream]"}]).content))

    assert "error" in sim, "the offline model's mid-stream fault should be an `event: error`"
    assert set(real) <= set(sim["error"]) and sim["error"]["request_id"]
    assert "message_stop" not in sim


def test_a_simulated_refusal_has_the_recorded_api_shape():
    real = first(events_of(recorded("api_refusal")), "message_delta")
    sim = first(
        events_of(simulated([{"role": "user", "content": "Tell me [fault:refusal]"}]).content),
        "message_delta",
    )

    assert sim["delta"]["stop_reason"] == "refusal"
    details = sim["delta"]["stop_details"]
    assert details and details["type"] == "refusal"
    assert set(real["delta"]["stop_details"]) <= set(details)


def test_a_simulated_rate_limit_has_the_recorded_api_shape_and_says_how_long_to_wait():
    real = json.loads(recorded("api_rate_limit_retry_after"))
    response = simulated([{"role": "user", "content": "Owls [fault:rate_limited]"}])

    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    sim = response.json()
    assert set(real) <= set(sim) and sim["error"]["type"] == real["error"]["type"] == "rate_limit_error"


def test_simulated_parallel_end_calls_have_the_recorded_api_shape():
    real = events_of(recorded("api_parallel_end_calls"))
    sim = events_of(simulated([{"role": "user", "content": "End it now [fault:parallel_end]"}]).content)

    real_calls, sim_calls = starts(real, "tool_use"), starts(sim, "tool_use")
    assert len(real_calls) == len(sim_calls) == 2
    assert all(set(r) <= set(s) for r, s in zip(real_calls, sim_calls, strict=True))
    assert len({call["id"] for call in sim_calls}) == 2, "parallel calls have distinct ids"
    assert first(sim, "message_delta")["delta"]["stop_reason"] == "tool_use"


def test_a_simulated_reply_may_be_reasoning_only_as_the_recorded_one():
    real = events_of(recorded("api_thinking_only"))
    sim = events_of(simulated([{"role": "user", "content": "Why? [fault:thinking_only]"}]).content)

    assert not starts(real, "text") and not starts(sim, "text")
    assert starts(sim, "thinking") == starts(real, "thinking")
    assert first(sim, "message_delta")["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize(
    "block",
    [
        {"type": "some_future_block", "data": "opaque"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
    ],
)
def test_the_offline_model_refuses_blocks_the_api_refuses(block):
    response = simulated(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [block, {"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": "How do tides work?"},
        ]
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("messages.1.content.0:")


def test_the_offline_model_refuses_duplicate_tool_use_ids():
    call = {"type": "tool_use", "id": "toolu_1", "name": "end_conversation", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
    response = simulated(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [call, dict(call)]},
            {"role": "user", "content": [result, {"type": "text", "text": "and?"}]},
        ]
    )
    assert response.status_code == 400 and "must be unique" in response.json()["error"]["message"]
