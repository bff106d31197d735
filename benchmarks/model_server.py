"""A loopback model server for the benchmark: the Messages API's streaming wire format, fixed text, a
fixed pace. Not Bowout's simulator (that one plays scripts); this one only has to be steady and cheap.

POST /v1/messages streams `tokens=N` tokens (from the last user message; default 300) at `RATE` tokens a
second, each token five characters ("tide "), one `content_block_delta` event each. Token i is due at
start + (i + 1) / RATE; a reply that falls behind sends the tokens that are due in one write (still
one SSE event each, so a client parses as many events). GET /starts returns each request's start
time (time.time()) and the tokens it sent by its `nonce=` word, for the harness's latency and loss.

    uvicorn benchmarks.model_server:app --port 8790
"""

import asyncio
import json
import os
import re
import time

RATE = float(os.environ.get("BENCH_TOKENS_PER_SECOND", "50"))
WORDS = ("tide", "moon", "wave", "sand", "gull", "reef", "salt", "foam")
TOKEN_CHARS = 5

_starts: dict[str, float] = {}
_sent: dict[str, int] = {}  # tokens actually sent, by nonce: what "lost" is measured against
_active = 0  # streams in progress: the harness waits for none before the next point


def token(i: int) -> str:
    return WORDS[i % len(WORDS)] + " "


def expected_text(tokens: int) -> str:
    return "".join(token(i) for i in range(tokens))


def _event(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _prompt(body: dict) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


async def _read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _respond(send, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    await send(
        {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": data})


async def app(scope, receive, send) -> None:
    global _active
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/starts":
        await _respond(send, 200, {"starts": _starts, "sent": _sent})
        return
    if scope["method"] == "GET" and scope["path"] == "/active":
        await _respond(send, 200, {"active": _active})
        return
    if scope["method"] != "POST" or not scope["path"].endswith("/v1/messages"):
        await _respond(send, 404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}})
        return
    start = time.time()
    body = json.loads(await _read_body(receive) or b"{}")
    prompt = _prompt(body)
    tokens = int(m.group(1)) if (m := re.search(r"tokens=(\d+)", prompt)) else 300
    nonce = m.group(1) if (m := re.search(r"nonce=(\S+)", prompt)) else ""
    _starts[nonce] = start
    _sent[nonce] = 0
    _active += 1
    try:
        await _stream(send, body.get("model", "bench"), tokens, start, nonce)
    finally:
        _active -= 1


async def _stream(send, model: str, tokens: int, start: float, nonce: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    head = _event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
    ) + _event(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    await send({"type": "http.response.body", "body": head, "more_body": True})
    sent = 0
    while sent < tokens:
        due = min(tokens, int((time.time() - start) * RATE))
        if due <= sent:
            await asyncio.sleep(start + (sent + 1) / RATE - time.time())
            continue
        chunk = b"".join(
            _event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": token(i)},
                },
            )
            for i in range(sent, due)
        )
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        sent = _sent[nonce] = due
    tail = (
        _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        + _event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": tokens},
            },
        )
        + _event("message_stop", {"type": "message_stop"})
    )
    await send({"type": "http.response.body", "body": tail, "more_body": False})
