"""The canonical Channels peer: the pattern of the Channels tutorial applied to streaming. A consumer
joins a group; the reply task `group_send`s every token through channels-redis' default layer; the
consumer's handler sends it to the socket. Same SDK, same uvicorn, same load as Bowout.

    ANTHROPIC_BASE_URL=... BENCH_REDIS_URL=redis://127.0.0.1:6379/7 uvicorn benchmarks.peer:application
"""

import asyncio
import json
import os
import uuid

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")]},
            }
        },
        SECRET_KEY="bench",
        USE_TZ=True,
        DATABASES={},
    )
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from benchmarks.floor import client  # noqa: E402


async def stream_to_group(group: str, text: str) -> None:
    layer = get_channel_layer()
    async with client().messages.stream(
        model="bench", max_tokens=4096, messages=[{"role": "user", "content": text}]
    ) as stream:
        async for delta in stream.text_stream:
            await layer.group_send(group, {"type": "chat.token", "text": delta})
    await layer.group_send(group, {"type": "chat.token", "text": '{"done":true}'})


class StreamConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.group = f"peer.{uuid.uuid4().hex}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        text = json.loads(text_data or "{}").get("text", "")
        self.task = asyncio.create_task(stream_to_group(self.group, text))

    async def chat_token(self, event: dict) -> None:
        await self.send(text_data=event["text"])


application = URLRouter([path("ws/", StreamConsumer.as_asgi())])
