"""The floor: a bare ASGI app under the same uvicorn that streams the same SDK reply to a websocket,
one frame per text delta. No framework, no database, no channel layer: what the stack under Bowout
costs on its own.

The client sends {"text": "..."}; the app answers with the deltas as text frames, then {"done":true}.
    ANTHROPIC_BASE_URL=http://127.0.0.1:8790 uvicorn benchmarks.floor:app --port 8792
"""

import asyncio
import json
import os

import anthropic

_client: anthropic.AsyncAnthropic | None = None


def client() -> anthropic.AsyncAnthropic:
    global _client
    if _client is None:
        _client = anthropic.AsyncAnthropic(
            api_key="bench", base_url=os.environ["ANTHROPIC_BASE_URL"], max_retries=0, timeout=120
        )
    return _client


async def stream_reply(text: str, send_text) -> None:
    async with client().messages.stream(
        model="bench", max_tokens=4096, messages=[{"role": "user", "content": text}]
    ) as stream:
        async for delta in stream.text_stream:
            await send_text(delta)
    await send_text('{"done":true}')


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        return
    tasks = set()

    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "text": text})

    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            text = json.loads(message.get("text") or "{}").get("text", "")
            task = asyncio.create_task(stream_reply(text, send_text))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif message["type"] == "websocket.disconnect":
            for task in tasks:
                task.cancel()
            return
