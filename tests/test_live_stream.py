"""The streaming path: tabs get only new text tagged with its offset, a tab that connects mid-stream
gets the whole text from the writer, Stop reaches the writer over the channel layer, and the reply is
saved on a schedule rather than per fragment."""

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async

from chat import flow, live
from chat.models import Message
from tests.conftest import reply_finished, stream_frame

pytestmark = pytest.mark.django_db(transaction=True)


def apply_frames(frames: list[str]) -> str:
    """What a browser shows after appending the stream frames as static/chat.js does."""
    text = ""
    for frame in filter(stream_frame, frames):
        data = json.loads(frame)
        if data.get("reset") or (data.get("whole") and len(data["text"]) >= len(text)):
            text = data["text"]
            continue
        if data.get("whole"):
            continue
        if data["at"] <= len(text):  # else a gap: the browser asks for the whole text
            text += data["text"][len(text) - data["at"] :]
    return text


def the_reply(conversation) -> Message:
    return conversation.messages.get(role="assistant")


async def test_frames_carry_only_new_text_and_add_up_to_the_saved_reply(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="How do tides work?", client_id=str(uuid.uuid4()))
    await tab.receive_until(reply_finished)

    frames = [json.loads(f) for f in tab.frames if stream_frame(f)]
    assert not any(f.get("whole") for f in frames)
    assert len(frames) > 3
    offsets = [f["at"] for f in frames]
    assert offsets == sorted(offsets) and offsets[0] == 0
    for before, after in zip(frames, frames[1:], strict=False):
        assert after["at"] == before["at"] + len(before["text"])  # contiguous, no text sent twice
    reply = await sync_to_async(the_reply)(conversation)
    assert reply.content.startswith(apply_frames(tab.frames))
    # Linear, not quadratic: the frames together carry the reply's text about once.
    assert sum(len(f["text"]) for f in frames) <= len(reply.content)


async def test_a_tab_connecting_mid_stream_gets_the_whole_text_so_far(alice, conversation, open_socket):
    _, writer_tab = await open_socket(alice, conversation.pk)
    await writer_tab.send(text="Write an essay [fault:slow]", client_id=str(uuid.uuid4()))
    for _ in range(5):
        await writer_tab.receive_until(stream_frame)
    shown_before = apply_frames(writer_tab.frames)

    _, late = await open_socket(alice, conversation.pk)
    assert 'data-status="streaming"' in late.snapshot
    whole = json.loads(await late.receive_until(lambda f: stream_frame(f) and '"whole":true' in f))
    assert whole["text"].startswith(shown_before) and len(whole["text"]) >= len(shown_before)

    await writer_tab.send(action="stop")
    await late.receive_until(reply_finished)
    reply = await sync_to_async(the_reply)(conversation)
    assert reply.content.startswith(apply_frames(late.frames))


async def test_a_tab_that_finds_a_gap_asks_and_gets_the_whole_text(alice, conversation, open_socket):
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write an essay [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)
    await tab.send(action="resync")
    whole = json.loads(await tab.receive_until(lambda f: '"whole":true' in f))
    assert whole["at"] == 0 and whole["text"]
    await tab.send(action="stop")
    await tab.receive_until(reply_finished)


async def test_stop_reaches_the_writer_over_the_channel_layer(alice, conversation, open_socket, settings):
    # No checkpoint during this reply: only the message to the writer's channel can stop it early.
    settings.BOWOUT_CHECKPOINT_SECONDS = 3600
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write an essay [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)

    # As a view on another worker would: save the stop, then reach the writer through the layer only.
    reply = await sync_to_async(flow.request_stop)(alice, conversation.pk)
    await live.ask_writer_to_stop(conversation.pk, reply.pk)
    final = await tab.receive_until(reply_finished, timeout=3)

    assert 'data-status="stopped"' in final
    reply = await sync_to_async(the_reply)(conversation)
    assert reply.status == Message.Status.STOPPED
    assert 0 < len(reply.content.split()) < 400


async def test_the_reply_is_saved_on_a_schedule_not_per_fragment(alice, conversation, open_socket, settings):
    settings.BOWOUT_CHECKPOINT_SECONDS = 0.5
    _, tab = await open_socket(alice, conversation.pk)
    await tab.send(text="Write an essay [fault:slow]", client_id=str(uuid.uuid4()))
    await tab.receive_until(stream_frame)
    saved = []
    for _ in range(12):  # 1.2 s of a reply streaming at 50 tokens a second
        await asyncio.sleep(0.1)
        saved.append(await sync_to_async(lambda: the_reply(conversation).content)())
    await tab.send(action="stop")
    await tab.receive_until(reply_finished)

    shown = apply_frames(tab.frames)
    distinct = [text for i, text in enumerate(saved) if i == 0 or text != saved[i - 1]]
    # Tabs saw text grow every flush; the database only at checkpoints (about 2 in 1.2 s).
    assert 1 <= len(distinct) <= 4
    assert all(shown.startswith(text) for text in saved)
    stopped = await sync_to_async(the_reply)(conversation)
    assert stopped.status == Message.Status.STOPPED and stopped.content.startswith(shown)


async def test_a_reply_whose_text_was_taken_back_makes_every_tab_replace_what_it_shows():
    from channels.layers import get_channel_layer

    from chat import fragments

    conversation_id = uuid.uuid4()
    layer = get_channel_layer()
    tab = await layer.new_channel()
    await layer.group_add(fragments.group_name(conversation_id), tab)
    writer = live.LiveReply(7, conversation_id, lambda: None)

    frames = []
    for text in [
        "I will not",
        "I will not help.\n\nI will not help.",
        "I will not help.",
        "I will not help. Bye",
    ]:
        writer.text = text
        await writer.publish_new_text()
        frames.append((await layer.receive(tab))["frame"])

    assert json.loads(frames[2]) == {
        "stream": 7,
        "at": 0,
        "text": "I will not help.",
        "whole": True,
        "reset": True,
    }
    assert json.loads(frames[3]) == {"stream": 7, "at": 16, "text": " Bye"}
    assert apply_frames(frames) == "I will not help. Bye"
