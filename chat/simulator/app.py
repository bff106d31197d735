"""A plain ASGI app that speaks the Anthropic Messages API wire format, backed by the scripts.

Only what Bowout needs is here: `POST /v1/messages` (streaming and not), a health page, and Anthropic-shaped
errors. The JSON and SSE shapes follow the real API closely enough that the official SDK parses them
unchanged; anything the SDK would reject is a bug here.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from .scripts import SCRIPTS, Conversation, Reply, Script, ScriptOptions, Text, ToolCall, plan_reply

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

# Text is cut into "a word plus the whitespace after it", so joining the tokens restores it exactly.
TOKEN = re.compile(r"\s*\S+\s*")
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]

FAULT_STATUS: dict[str, tuple[int, str, str]] = {
    "overloaded": (529, "overloaded_error", "Overloaded"),
    "server": (500, "api_error", "Internal server error"),
}


class RequestInvalid(Exception):
    """A request the real API would refuse with 400 invalid_request_error."""


def create_app(
    *, delay: float = 0.0, crisis_tries_end: bool = False, scripts: Sequence[Script] = SCRIPTS
) -> ASGIApp:
    """An ASGI3 app simulating the Messages API; `delay` is the pause between streamed tokens."""
    options = ScriptOptions(crisis_tries_end=crisis_tries_end)

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
        elif scope["type"] == "http":
            await route(scope, receive, send)

    async def route(scope: Message, receive: Receive, send: Send) -> None:
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
        except RequestInvalid as exc:
            await send_error(send, 400, "invalid_request_error", str(exc))
            return
        reply = plan_reply(Conversation.from_request(body), options, scripts)
        if reply.fault in FAULT_STATUS:
            await send_error(send, *FAULT_STATUS[reply.fault])
            return
        generation = Generation.lay_out(reply, body)
        if body.get("stream"):
            interval = max(delay, reply.min_token_interval)
            await stream_until_disconnect(generation, reply, interval, receive, send)
        else:
            await send_whole_message(generation, reply, send)

    return app


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


# --- Validation ------------------------------------------------------------------------------------------


def parse_request(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestInvalid(f"There was an issue with your request body: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestInvalid("Request body must be a JSON object.")
    validate_request(body)
    return body


def validate_request(body: Mapping[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestInvalid(
            "model: Field required" if model is None else "model: Input should be a valid string"
        )
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        raise RequestInvalid("max_tokens: Field required")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RequestInvalid("max_tokens: Input should be an integer greater than or equal to 1")
    if "stream" in body and not isinstance(body["stream"], bool):
        raise RequestInvalid("stream: Input should be a valid boolean")
    validate_system(body.get("system"))
    validate_messages(body.get("messages"))


def validate_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(
        isinstance(b, dict) and b.get("type") == "text" for b in system
    ):
        raise RequestInvalid("system: Input should be a valid string or a list of text blocks")


def validate_messages(messages: Any) -> None:
    if messages is None:
        raise RequestInvalid("messages: Field required")
    if not isinstance(messages, list):
        raise RequestInvalid("messages: Input should be a valid list")
    if not messages:
        raise RequestInvalid("messages: at least one message is required")
    for index, message in enumerate(messages):
        validate_message(index, message)
    if messages[0]["role"] != "user":
        raise RequestInvalid('messages: first message must use the "user" role')
    validate_tool_pairing(messages)


def validate_message(index: int, message: Any) -> None:
    if not isinstance(message, dict):
        raise RequestInvalid(f"messages.{index}: Input should be a valid dictionary")
    if message.get("role") not in ("user", "assistant"):
        raise RequestInvalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
    content = message.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not all(isinstance(b, dict) and "type" in b for b in content):
        raise RequestInvalid(
            f"messages.{index}.content: Input should be a valid string or list of content blocks"
        )
    for block in content:
        if block["type"] == "text" and not block.get("text"):
            raise RequestInvalid(f"messages.{index}.content: text content blocks must be non-empty")


def validate_tool_pairing(messages: list[dict[str, Any]]) -> None:
    """The real API insists every tool_use is answered in the very next message, and vice versa."""
    for index, message in enumerate(messages):
        uses = block_ids(message, "tool_use", "id") if message["role"] == "assistant" else set()
        results = (
            block_ids(messages[index + 1], "tool_result", "tool_use_id")
            if index + 1 < len(messages)
            else None
        )
        if uses and results is not None and not uses <= results:
            missing = ", ".join(sorted(uses - results))
            raise RequestInvalid(
                f"messages.{index + 1}: `tool_use` ids were found without `tool_result` blocks immediately "
                f"after: {missing}. Each `tool_use` block must have a corresponding `tool_result` block in "
                "the next message."
            )
        if message["role"] == "user":
            previous = block_ids(messages[index - 1], "tool_use", "id") if index > 0 else set()
            stray = block_ids(message, "tool_result", "tool_use_id") - previous
            if stray:
                raise RequestInvalid(
                    f"messages.{index}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                    f"{', '.join(sorted(stray))}. Each `tool_result` block must have a corresponding "
                    "`tool_use` block in the previous message."
                )


def block_ids(message: Mapping[str, Any], block_type: str, key: str) -> set[str]:
    content = message.get("content")
    if not isinstance(content, list):
        return set()
    return {str(b.get(key)) for b in content if b.get("type") == block_type}


# --- Laying a reply out as tokens ------------------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """One block as it goes on the wire: its start payload and the deltas that fill it in."""

    start: dict[str, Any]
    deltas: tuple[dict[str, Any], ...]
    final: dict[str, Any]


@dataclass(frozen=True)
class Generation:
    """A reply cut to the request's token budget: what is sent, and how it ends."""

    message_id: str
    model: str
    input_tokens: int
    pieces: tuple[Piece, ...]
    stop_reason: str

    @property
    def output_tokens(self) -> int:
        return sum(len(piece.deltas) for piece in self.pieces)

    @classmethod
    def lay_out(cls, reply: Reply, body: Mapping[str, Any]) -> Generation:
        budget = min(body["max_tokens"], reply.token_cap or body["max_tokens"])
        pieces: list[Piece] = []
        stop_reason = reply.natural_stop_reason
        for block in reply.blocks:
            piece = text_piece(block.text) if isinstance(block, Text) else tool_piece(block)
            if len(piece.deltas) > budget:
                stop_reason = "max_tokens"
                # A tool call cut short would be invalid JSON; real models stop mid-call, but dropping it is
                # the kinder simplification for a simulator.
                if isinstance(block, Text) and budget > 0:
                    pieces.append(text_piece("".join(d["text"] for d in piece.deltas[:budget])))
                break
            pieces.append(piece)
            budget -= len(piece.deltas)
        return cls(new_id("msg_sim_"), body["model"], estimate_input_tokens(body), tuple(pieces), stop_reason)

    def message(self, *, complete: bool) -> dict[str, Any]:
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [piece.final for piece in self.pieces] if complete else [],
            "stop_reason": self.stop_reason if complete else None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens if complete else 0,
            },
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any], bool]]:
        """(event name, data, is_token) in the order the real API sends them."""
        yield "message_start", {"type": "message_start", "message": self.message(complete=False)}, False
        yield "ping", {"type": "ping"}, False
        for index, piece in enumerate(self.pieces):
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": piece.start},
                False,
            )
            for delta in piece.deltas:
                yield (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    True,
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}, False
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": self.output_tokens},
            },
            False,
        )
        yield "message_stop", {"type": "message_stop"}, False


def text_piece(text: str) -> Piece:
    deltas = tuple({"type": "text_delta", "text": token} for token in TOKEN.findall(text))
    return Piece({"type": "text", "text": ""}, deltas, {"type": "text", "text": text})


def tool_piece(call: ToolCall) -> Piece:
    block_id = new_id("toolu_sim_")
    arguments = json.dumps(dict(call.input))
    deltas = tuple({"type": "input_json_delta", "partial_json": chunk} for chunk in TOKEN.findall(arguments))
    start = {"type": "tool_use", "id": block_id, "name": call.name, "input": {}}
    return Piece(start, deltas, {**start, "input": dict(call.input)})


def estimate_input_tokens(body: Mapping[str, Any]) -> int:
    """About one token per four characters of everything the model would read: cheap and deterministic."""
    parts = [json.dumps(body.get("system") or ""), json.dumps(body.get("tools") or [])]
    parts += [json.dumps(m.get("content"), sort_keys=True) for m in body["messages"]]
    return max(1, sum(len(part) for part in parts) // 4)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


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
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS + request_id_header()})
    tokens_sent = 0
    for name, data, is_token in generation.events():
        if is_token and reply.fault and tokens_sent >= reply.fault_after_tokens:
            if reply.fault == "midstream":
                error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                await send({"type": "http.response.body", "body": sse("error", error), "more_body": False})
            # "disconnect": return without finishing the body, which drops the connection.
            return
        if is_token:
            tokens_sent += 1
            if interval > 0:
                await asyncio.sleep(interval)
        last = name == "message_stop"
        await send({"type": "http.response.body", "body": sse(name, data), "more_body": not last})


async def send_whole_message(generation: Generation, reply: Reply, send: Send) -> None:
    if reply.fault == "midstream":
        await send_error(send, 529, "overloaded_error", "Overloaded")
        return
    body = json.dumps(generation.message(complete=True)).encode()
    if reply.fault == "disconnect":
        # Half a body and no end: the client sees the connection drop mid-response.
        await send(
            {"type": "http.response.start", "status": 200, "headers": JSON_HEADERS + request_id_header()}
        )
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
        return
    await send_json(send, 200, generation.message(complete=True))


def request_id_header() -> list[tuple[bytes, bytes]]:
    return [(b"request-id", new_id("req_sim_").encode())]


async def send_json(send: Send, status: int, payload: Mapping[str, Any]) -> None:
    await send(
        {"type": "http.response.start", "status": status, "headers": JSON_HEADERS + request_id_header()}
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def send_error(send: Send, status: int, error_type: str, message: str) -> None:
    await send_json(send, status, {"type": "error", "error": {"type": error_type, "message": message}})
