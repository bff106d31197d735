"""The live side of a reply being written: the text its writer holds in memory, and the writer's own
channel, through which Stop and "send me the whole text" reach it from any worker.

Tabs get only the new text of each flush, tagged with the offset at which it starts (in UTF-16 code
units: what a browser's `string.length` counts). A tab that finds a gap, or connects mid-stream, asks
the writer for the whole text: the database holds only the last checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ImproperlyConfigured

from chat import fragments


def _layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured(
            "CHANNEL_LAYERS has no default layer: a reply's writer could not be reached."
        )
    return layer


def writer_group(conversation_id: uuid.UUID) -> str:
    return f"writer.{conversation_id.hex}"


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class LiveReply:
    """One reply being streamed by this process. `text` is all of it so far; `sent` says how much of
    it the tabs already have."""

    def __init__(self, reply_id: int, conversation_id: uuid.UUID, on_stop: Callable[[], None]) -> None:
        self.reply_id = reply_id
        self.conversation_id = conversation_id
        self.on_stop = on_stop
        self.text = ""
        self._published = ""  # the text as the tabs have it
        self._sent_at = 0  # its length in UTF-16 code units
        self._channel = ""
        self._listener: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveReply:
        # The writer's channel opens alongside the model call, not before it: on Redis it is two
        # subscriptions, round trips the first words would otherwise wait for. A Stop sent before it is
        # open is seen at the next checkpoint (the stopped mark in the database is the authority), and
        # a tab asking for the text then asks again when the next frame shows it a gap.
        self._listener = asyncio.create_task(self._listen(), name=f"writer-{self.reply_id}")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._channel:
            with contextlib.suppress(Exception):  # a layer gone at shutdown must not hide the reply's fate
                await _layer().group_discard(writer_group(self.conversation_id), self._channel)

    async def publish_new_text(self) -> None:
        """Send what the tabs do not have yet: one small frame, however long the reply already is."""
        if self.text.startswith(self._published):
            new = self.text[len(self._published) :]
            if not new:
                return
            frame = fragments.render_stream(self.reply_id, self._sent_at, new)
            self._sent_at += utf16_length(new)
        else:
            # The text so far changed (a repeated round taken out): every tab replaces what it has.
            frame = fragments.render_stream(self.reply_id, 0, self.text, whole=True, reset=True)
            self._sent_at = utf16_length(self.text)
        self._published = self.text
        await fragments.publish_frame(self.conversation_id, frame)

    async def _listen(self) -> None:
        layer = _layer()
        channel = self._channel = await layer.new_channel()
        await layer.group_add(writer_group(self.conversation_id), channel)
        while True:
            message = await layer.receive(channel)
            kind = message.get("type")
            if kind == "writer.stop" and message.get("reply_id") in (None, self.reply_id):
                self.on_stop()
            elif kind == "writer.text" and isinstance(message.get("reply_to"), str):
                frame = fragments.render_stream(self.reply_id, 0, self.text, whole=True)
                with contextlib.suppress(Exception):  # the asking tab may be gone already
                    await layer.send(message["reply_to"], {"type": "chat.frame", "frame": frame})


async def ask_writer_to_stop(conversation_id: uuid.UUID, reply_id: int) -> None:
    """Reach the worker writing this reply, wherever it runs, so it stops at once. The stopped mark in
    the database stays the authority (a writer that misses this sees it at its next checkpoint)."""
    await _layer().group_send(writer_group(conversation_id), {"type": "writer.stop", "reply_id": reply_id})


async def ask_writer_for_text(conversation_id: uuid.UUID, reply_to: str) -> None:
    """Ask the writer of the conversation's streaming reply to send its whole text to one tab."""
    await _layer().group_send(writer_group(conversation_id), {"type": "writer.text", "reply_to": reply_to})
