"""A plain ASGI app that speaks the Anthropic Messages API wire format, backed by the scripts.

`POST /v1/messages` (streaming and not), a health page, and Anthropic-shaped errors. It is a strict double
of the current API on its default model: replies think first (signed thinking blocks), requests are
validated as the API validates them (`validation.py`), prompt caching is accounted (`caching.py`), and the
stream follows the recorded event shapes (`layout.py`). Anything the SDK would reject, or anything the
API refuses that this accepts, is a bug here.

With `thinking=False` it is an Ollama-like server instead: any model name, no thinking blocks, thinking
parameters ignored.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from .caching import PromptCache
from .layout import Generation, lay_out, new_id
from .models import find_model
from .scripts import SCRIPTS, Dialogue, Reply, Script, ScriptOptions, plan_reply
from .signing import DEFAULT_KEY, Signer
from .validation import ApiError, check_request, parse_request

AsgiMessage = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[AsgiMessage]]
Send = Callable[[AsgiMessage], Awaitable[None]]
ASGIApp = Callable[[AsgiMessage, Receive, Send], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]

FAULT_STATUS: dict[str, tuple[int, str, str]] = {
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server": (500, "api_error", "Internal server error"),
    "rate_limited": (
        429,
        "rate_limit_error",
        "This request would exceed your organization's rate limit of 80,000 output tokens per minute.",
    ),
    "prompt_too_long": (400, "invalid_request_error", "prompt is too long: 208316 tokens > 200000 maximum"),
}
# The API says how long to wait on a 429 (`retry-after`, seconds).
FAULT_RETRY_AFTER = {"rate_limited": 38}
# Lets a deployment (or a test run) switch the default without code: BOWOUT_SIMULATOR_THINKING=0.
THINKING_ENV = "BOWOUT_SIMULATOR_THINKING"


def thinking_by_default() -> bool:
    return os.environ.get(THINKING_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def create_app(
    *,
    delay: float = 0.0,
    crisis_tries_end: bool = False,
    thinking: bool | None = None,
    signing_key: bytes = DEFAULT_KEY,
    cache_entries: int = 2048,
    scripts: Sequence[Script] = SCRIPTS,
) -> ASGIApp:
    """An ASGI3 app simulating the Messages API; `delay` is the pause per streamed word.

    `thinking` (default: on, unless BOWOUT_SIMULATOR_THINKING=0) serves the real model table with its
    thinking rules; off serves an Ollama-like model that never thinks. `cache_entries` bounds the prompt
    cache, which forgets the least recently used prefix first."""
    options = ScriptOptions(crisis_tries_end=crisis_tries_end)
    thinking_models = thinking_by_default() if thinking is None else thinking
    signer = Signer(signing_key)
    cache = PromptCache(max_entries=cache_entries)

    async def app(scope: AsgiMessage, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
        elif scope["type"] == "http":
            await route(scope, receive, send)

    async def route(scope: AsgiMessage, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if method == "POST" and path == "/v1/messages":
            await messages_endpoint(receive, send)
        elif method == "GET" and path in ("/", "/health"):
            await send_json(send, 200, {"status": "ok", "service": "bowout offline model simulator"})
        else:
            await send_error(send, 404, "not_found_error", f"Not found: {method} {path}")

    async def messages_endpoint(receive: Receive, send: Send) -> None:
        raw = await read_body(receive)
        if raw is None:
            return  # the client left before sending its request
        try:
            body = parse_request(raw)
            mode = check_request(body, signer, thinking_models=thinking_models)
            usage = cache.account(body["model"], body)
            check_context_window(body["model"], usage.total_input, thinking_models)
        except ApiError as exc:
            await send_error(send, exc.status, exc.error_type, exc.message)
            return
        reply = plan_reply(Dialogue.from_request(body), options, scripts)
        if reply.fault in FAULT_STATUS:
            wait = FAULT_RETRY_AFTER.get(reply.fault)
            headers = [(b"retry-after", str(wait).encode())] if wait else []
            await send_error(send, *FAULT_STATUS[reply.fault], headers=headers)
            return
        generation = lay_out(reply, body, mode, signer, usage)
        if body.get("stream"):
            interval = max(delay, reply.min_token_interval)
            await stream_until_disconnect(generation, reply, interval, receive, send)
        else:
            await send_whole_message(generation, reply, send)

    return app


def check_context_window(model: str, input_tokens: int, thinking_models: bool) -> None:
    spec = find_model(model) if thinking_models else None
    if spec is not None and input_tokens > spec.context_window:
        raise ApiError(
            400,
            "invalid_request_error",
            f"prompt is too long: {input_tokens} tokens > {spec.context_window} maximum",
        )


async def serve_lifespan(receive: Receive, send: Send) -> None:
    # Answering lifespan keeps uvicorn from logging that the protocol is unsupported.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


# --- Sending ---------------------------------------------------------------------------------------------


def sse(name: str, data: Mapping[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def stream_until_disconnect(
    generation: Generation, reply: Reply, interval: float, receive: Receive, send: Send
) -> None:
    # A server only learns of a disconnect by reading; without this watcher a slow reply would keep
    # generating for a client that left long ago.
    producer = asyncio.ensure_future(stream_events(generation, reply, interval, send))
    watcher = asyncio.ensure_future(wait_for_disconnect(receive))
    try:
        done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (producer, watcher):
            task.cancel()
        await asyncio.gather(producer, watcher, return_exceptions=True)
    if producer in done:
        producer.result()  # surfaces a bug in the producer instead of hiding it


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def stream_events(generation: Generation, reply: Reply, interval: float, send: Send) -> None:
    request_id = new_request_id()
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + id_header(request_id)})
    tokens_sent = 0
    for name, data, tokens in generation.events():
        if tokens and reply.fault and tokens_sent >= reply.fault_after_tokens:
            if reply.fault == "midstream":
                error = error_body("overloaded_error", "Overloaded", request_id)
                await send({"type": "http.response.body", "body": sse("error", error), "more_body": False})
            # "disconnect": return without finishing the body, which drops the connection.
            return
        if tokens:
            tokens_sent += tokens
            if interval > 0:
                # Paced per word, so several-word deltas keep the same reading speed.
                await asyncio.sleep(interval * tokens)
        last = name == "message_stop"
        await send({"type": "http.response.body", "body": sse(name, data), "more_body": not last})


async def send_whole_message(generation: Generation, reply: Reply, send: Send) -> None:
    if reply.fault == "midstream":
        await send_error(send, 529, "overloaded_error", "Overloaded")
        return
    if reply.fault == "disconnect":
        # Half a body and no end: the client sees the connection drop mid-response.
        body = json.dumps(generation.message(complete=True)).encode()
        headers = JSON_HEADERS + id_header(new_request_id())
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return
    await send_json(send, 200, generation.message(complete=True))


def new_request_id() -> str:
    return new_id("req_sim_")


def id_header(request_id: str) -> list[tuple[bytes, bytes]]:
    return [(b"request-id", request_id.encode())]


def error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


async def send_json(
    send: Send,
    status: int,
    payload: Mapping[str, Any],
    request_id: str | None = None,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = JSON_HEADERS + id_header(request_id or new_request_id()) + list(headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def send_error(
    send: Send, status: int, error_type: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    request_id = new_request_id()
    await send_json(send, status, error_body(error_type, message, request_id), request_id, headers)
