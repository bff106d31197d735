"""An in-process httpx2 transport that streams an ASGI app's response as the app produces it.

httpx2's own `ASGITransport` waits for the app to finish and hands over the whole body at once, so every
token of a streamed reply would arrive at the end. Here the app runs as its own task, its body chunks go
through a queue, and the response reads from the queue: tokens arrive when they are sent.

It behaves like a network connection where that matters to a client:
- an app that stops before finishing its body (a dropped connection) makes reading raise
  `httpx2.RemoteProtocolError`, as httpx2 does when a real server closes the socket mid-response;
- closing the response early cancels the app task, and the app sees `http.disconnect` if it is listening.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import httpx2

AsgiMessage = MutableMapping[str, Any]
ASGIApp = Callable[
    [AsgiMessage, Callable[[], Awaitable[AsgiMessage]], Callable[[AsgiMessage], Awaitable[None]]],
    Awaitable[None],
]

# Queue items that are not body bytes.
_BODY_COMPLETE = object()  # the app sent its final body chunk
_APP_RETURNED = object()  # the app's task ended; if the body was not complete, the "connection" dropped

INCOMPLETE_BODY = "peer closed connection without sending complete message body (incomplete chunked read)"


class StreamingASGITransport(httpx2.AsyncBaseTransport):
    """Send each request to an ASGI app in-process; the response body streams while the app runs."""

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client
        # asyncio keeps only weak references to tasks; these keep running apps alive until they finish.
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        exchange = _Exchange(body)
        task = asyncio.create_task(exchange.run(self.app, self._scope(request)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            status, headers = await exchange.response_started(task)
        except BaseException:
            await _cancel(task)
            raise
        return httpx2.Response(status, headers=headers, stream=_QueueStream(exchange, task))

    def _scope(self, request: httpx2.Request) -> AsgiMessage:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for (k, v) in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": self.client,
            "root_path": "",
        }

    async def aclose(self) -> None:
        for task in list(self._tasks):
            await _cancel(task)


class _Exchange:
    """One request/response between the client and the app: the ASGI receive/send pair and its queue."""

    def __init__(self, body: bytes) -> None:
        self._body: bytes | None = body
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] = (
            asyncio.get_running_loop().create_future()
        )
        self.chunks: asyncio.Queue[object] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def run(self, app: ASGIApp, scope: AsgiMessage) -> None:
        try:
            await app(scope, self.receive, self.send)
        except Exception as exc:
            if not self.started.done():
                self.started.set_exception(exc)
            else:
                self.chunks.put_nowait(exc)
        finally:
            self.chunks.put_nowait(_APP_RETURNED)

    async def response_started(self, task: asyncio.Task[None]) -> tuple[int, list[tuple[bytes, bytes]]]:
        await asyncio.wait([self.started, task], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]  # a future and a task
        if not self.started.done():
            # What a client sees when a server closes the socket without answering.
            raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")
        return self.started.result()

    async def receive(self) -> AsgiMessage:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self.closed.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: AsgiMessage) -> None:
        if message["type"] == "http.response.start":
            self.started.set_result((message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body" and not self.closed.is_set():
            # Like a server after a disconnect, sends to a closed response are dropped, not errors.
            if message.get("body"):
                self.chunks.put_nowait(message["body"])
            if not message.get("more_body", False):
                self.chunks.put_nowait(_BODY_COMPLETE)


class _QueueStream(httpx2.AsyncByteStream):
    def __init__(self, exchange: _Exchange, task: asyncio.Task[None]) -> None:
        self._exchange = exchange
        self._task = task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            item = await self._exchange.chunks.get()
            if item is _BODY_COMPLETE:
                return
            if item is _APP_RETURNED:
                raise httpx2.RemoteProtocolError(INCOMPLETE_BODY)
            if isinstance(item, Exception):
                # An app that crashes mid-response looks like a dropped connection to the client, as it
                # would behind a real server; the cause stays attached for debugging.
                raise httpx2.RemoteProtocolError(INCOMPLETE_BODY) from item
            assert isinstance(item, bytes)
            yield item

    async def aclose(self) -> None:
        self._exchange.closed.set()
        await _cancel(self._task)


async def _cancel(task: asyncio.Task[None]) -> None:
    if task.done():
        return
    task.cancel()
    # Waiting (rather than awaiting the task) leaves our own cancellation, if any, to propagate normally.
    await asyncio.wait({task})
