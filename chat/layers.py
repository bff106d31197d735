"""Channels' in-memory layer (one process, no Redis) with a fan-out that does not scan every socket.

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
