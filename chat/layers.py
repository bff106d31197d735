"""The channel layers: Channels' in-memory layer (one process, no Redis) with a fan-out that does not
scan every socket, and channels-redis' pub/sub layer with batched publishes (several workers).

The stock `InMemoryChannelLayer` sweeps every channel and every group membership for expired entries on
each `send`, `group_send` and `receive` (O(all open sockets) per message), deep-copies the message per
member and makes a task per member. At hundreds of streaming replies that sweep was the layer's cost.
Here the sweep runs at most once a second, a message of plain values is copied shallowly, and a group
send touches only the group's members.
"""

import asyncio
import time
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection

_PLAIN = (str, int, float, bool, type(None))


class FanOutInMemoryChannelLayer(InMemoryChannelLayer):
    sweep_interval = 1.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < self.sweep_interval:
            return
        self._last_sweep = now
        super()._clean_expired()  # type: ignore[misc]  # Channels' own, not in its type stubs

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        # Each receiver must get its own copy; strings and numbers are immutable, so a shallow one does.
        copy = dict(message) if all(isinstance(v, _PLAIN) for v in message.values()) else deepcopy(message)
        try:
            queue.put_nowait((time.time() + self.expiry, copy))
        except asyncio.QueueFull as full:
            raise ChannelFull(channel) from full

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as the stock layer: a full socket queue drops the message


class BatchedRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis' pub/sub layer, with a worker's publishes sent together.

    The stock layer publishes under its shard's lock, one command and one round trip at a time, so a
    worker streaming many replies queued their frames behind each other's round trips (the profile of
    two workers on PostgreSQL + Redis). Here the publishes waiting at one moment go out as one pipeline:
    one round trip for all of them, in the order they were made (a reply's frames stay in order, since
    each waits for its previous one). Subscriptions and delivery are channels-redis' own."""

    def _get_layer(self):  # channels-redis is untyped
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = super()._get_layer()
            layer._shards = [_BatchedShard(shard.host, layer) for shard in layer._shards]
        return layer


class _BatchedShard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer) -> None:
        super().__init__(host, channel_layer)
        self._waiting: list[tuple[str, bytes, asyncio.Future]] = []
        self._sender: asyncio.Task | None = None

    async def publish(self, channel: str, message: bytes) -> None:
        sent = asyncio.get_running_loop().create_future()
        self._waiting.append((channel, message, sent))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_waiting())
        await sent

    async def _send_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                self._ensure_redis()
                pipeline = self._redis.pipeline(transaction=False)
                for channel, message, _ in batch:
                    pipeline.publish(channel, message)
                await pipeline.execute()
            except Exception as error:  # each publisher gets the error, as from its own publish
                for _, _, sent in batch:
                    if not sent.done():
                        sent.set_exception(error)
            else:
                for _, _, sent in batch:
                    if not sent.done():
                        sent.set_result(None)
