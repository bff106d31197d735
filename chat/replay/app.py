"""The replay server as a plain ASGI app.

Routes, with the scenario chosen by the first path segment:
- `POST /<scenario>/v1/messages`: the scenario's next recorded response (after the last, the last again);
  the request body is recorded first.
- `GET /<scenario>/_requests`: the request bodies received so far, as a JSON list.
- `POST /<scenario>/_reset` (or `POST /_reset` for all): back to the first response, no requests.
- `GET /`: the scenarios and how many responses each has.
Anything else gets a 404 or 405 in the Messages API's error shape, so a misconfigured client says why.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from typing import Any

from .recordings import Recording

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


class ReplayState:
    """Where each scenario is in its script, and what it was sent. Lives on the server's event loop."""

    def __init__(self, scenarios: Mapping[str, Sequence[Recording]]) -> None:
        self.scenarios = dict(scenarios)
        self.served: dict[str, int] = dict.fromkeys(self.scenarios, 0)
        self.requests: dict[str, list[Any]] = {name: [] for name in self.scenarios}

    def next_response(self, scenario: str) -> Recording:
        responses = self.scenarios[scenario]
        index = min(self.served[scenario], len(responses) - 1)
        self.served[scenario] += 1
        return responses[index]

    def reset(self, scenario: str | None = None) -> None:
        for name in [scenario] if scenario else list(self.scenarios):
            self.served[name] = 0
            self.requests[name] = []


def create_app(scenarios: Mapping[str, Sequence[Recording]], *, delay: float = 0.0) -> ASGIApp:
    """An ASGI3 app replaying `scenarios`; `delay` is the pause between streamed events (seconds)."""
    state = ReplayState(scenarios)

    async def app(scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
        elif scope["type"] == "http":
            await route(scope["method"], scope["path"], receive, send)

    async def route(method: str, path: str, receive: Receive, send: Send) -> None:
        parts = [p for p in path.split("/") if p]
        if not parts:
            if method != "GET":
                return await send_error(send, 405, "invalid_request_error", f"Method {method} not allowed")
            counts = {name: len(responses) for name, responses in state.scenarios.items()}
            return await send_json(send, 200, {"scenarios": counts})
        if parts == ["_reset"] and method == "POST":
            state.reset()
            return await send_json(send, 200, {"reset": sorted(state.scenarios)})
        scenario, rest = parts[0], "/".join(parts[1:])
        if scenario not in state.scenarios:
            known = ", ".join(sorted(state.scenarios))
            return await send_error(
                send, 404, "not_found_error", f"Unknown scenario {scenario!r}; known scenarios: {known}"
            )
        if (method, rest) == ("POST", "v1/messages"):
            raw = await read_body(receive)
            if raw is None:
                return  # the client left before sending its request
            state.requests[scenario].append(decode_request(raw))
            return await replay(state.next_response(scenario), receive, send, delay)
        if (method, rest) == ("GET", "_requests"):
            return await send_json(send, 200, state.requests[scenario])
        if (method, rest) == ("POST", "_reset"):
            state.reset(scenario)
            return await send_json(send, 200, {"reset": [scenario]})
        await send_error(send, 404, "not_found_error", f"Not found: {method} {path}")

    return app


def decode_request(raw: bytes) -> Any:
    """The request body as JSON when it is JSON, else as text, so a test can still see what was sent."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"_unparsed_body": raw.decode("utf-8", errors="replace")}


async def replay(recording: Recording, receive: Receive, send: Send, delay: float) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in recording.headers]
    await send({"type": "http.response.start", "status": recording.status, "headers": headers})
    chunks = recording.chunks()
    for index, chunk in enumerate(chunks):
        if delay > 0 and index > 0:
            await asyncio.sleep(delay)
        await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})
    if not chunks:
        await send({"type": "http.response.body", "body": b""})


async def serve_lifespan(receive: Receive, send: Send) -> None:
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


async def send_json(send: Send, status: int, payload: Any) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def send_error(send: Send, status: int, error_type: str, message: str) -> None:
    await send_json(send, status, {"type": "error", "error": {"type": error_type, "message": message}})
