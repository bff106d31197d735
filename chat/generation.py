"""Generating a reply: stream it from the model into the saved message and every open tab.

Runs as its own asyncio task, so a consumer stays free to handle Stop and a closed tab loses nothing.
"""

import asyncio
import contextlib
import contextvars
import logging
import uuid

import anthropic
import httpx2
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import claude, flow, fragments, history, live, liveness, turns, welfare
from chat.markdown import render_markdown
from chat.models import ConversationEvent, Message
from chat.turns import TurnProgress

logger = logging.getLogger("bowout.chat")

# Replies generating in this process, so Stop can cancel one at once and nothing is collected early.
_running: dict[int, asyncio.Task] = {}
# Their live text and writer channel (see chat/live.py), for the reply's `on_text`.
_live: dict[int, live.LiveReply] = {}


def start_generation(reply: Message) -> asyncio.Task:
    # A fresh context: a task started by a view would otherwise inherit the request's thread-sensitive
    # executor, which is shut down when the response is sent, and its database calls would then fail.
    task = asyncio.create_task(
        _generate_as_writer(reply.pk, reply.conversation_id),
        name=f"reply-{reply.pk}",
        context=contextvars.Context(),
    )
    _running[reply.pk] = task
    task.add_done_callback(lambda _: _running.pop(reply.pk, None))
    liveness.track(reply.pk, task)  # stamps the reply with this worker and heartbeats it
    return task


async def _generate_as_writer(reply_id: int, conversation_id: uuid.UUID) -> Message | None:
    """The reply, with a writer channel open while it streams, so Stop and tabs that need its whole
    text reach this process from any worker."""
    async with live.LiveReply(reply_id, conversation_id, lambda: cancel_local_generation(reply_id)) as writer:
        _live[reply_id] = writer
        try:
            return await generate_reply(reply_id)
        finally:
            _live.pop(reply_id, None)


async def stop_generation(conversation_id: uuid.UUID, reply_id: int) -> None:
    """After the stopped mark is saved: stop the writer now, in this process or any other."""
    cancel_local_generation(reply_id)
    await live.ask_writer_to_stop(conversation_id, reply_id)


def cancel_local_generation(reply_id: int) -> None:
    task = _running.get(reply_id)
    if task is not None:
        task.cancel()


async def wait_for_generation(reply_id: int) -> None:
    """Wait for a reply without tying its life to the waiter: a cancelled waiter leaves it running."""
    task = _running.get(reply_id)
    if task is not None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)


def _load_for_generation(reply_id: int) -> tuple[Message, list[dict], tuple[str, ...]]:
    """The reply, the history the model is sent, and the crisis signals the conversation recorded."""
    # The user too: their custom instructions go with every request of the reply.
    reply = Message.objects.select_related("conversation__user").get(pk=reply_id)
    earlier = reply.conversation.messages.filter(id__lt=reply.pk).exclude(status=Message.Status.STREAMING)
    return reply, history_of(earlier), reply.conversation.crisis_signals()


def history_of(messages) -> list[dict]:
    """What the model is sent of earlier messages. A refused exchange (the user's message and the refused
    reply) is left out: sent again, it would keep later turns refused. Earlier attempts at a reply to the
    last user message (a Retry) are left out whole, tool round trips included: the model answers afresh.
    Of the versions of a regenerated reply, only the one the user is looking at is history."""
    messages = [m for m in messages if m.version_shown]
    last_user = max((index for index, m in enumerate(messages) if m.is_user), default=-1)
    messages = messages[: last_user + 1]
    refused_prompts = {
        previous.pk
        for previous, message in zip(messages, messages[1:], strict=False)
        if previous.is_user and message.status == Message.Status.REFUSED
    }
    raw = []
    for message in messages:
        if message.pk in refused_prompts or message.status == Message.Status.REFUSED:
            continue
        if message.is_user:
            raw.append({"role": "user", "content": message.content})
        elif message.api_messages:
            raw.extend(message.api_messages)
        elif message.status != Message.Status.FAILED:
            raw.append({"role": "assistant", "content": message.content})
    return history.normalize(raw)


def _log_failed_checkpoint(checkpoint: asyncio.Future) -> None:
    # Retrieved here so a failure after the reply moved on is logged, not reported as never retrieved.
    if not checkpoint.cancelled() and checkpoint.exception() is not None:
        logger.warning("Checkpoint failed: %r", checkpoint.exception())


def _save_progress(reply_id: int, text: str) -> bool:
    """Save the text so far; False when the reply is no longer streaming (Stop or an end, anywhere)."""
    return bool(
        Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(
            content=text, updated_at=timezone.now()
        )
    )


def _finish(reply_id: int, progress: TurnProgress, status: str, error: str) -> Message:
    with transaction.atomic():
        # A Stop recorded meanwhile wins over how the stream ended, and is no error.
        moved = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(status=status)
        Message.objects.filter(pk=reply_id).update(
            content=progress.text,
            content_html=render_markdown(progress.text),
            api_messages=progress.api_messages,
            stop_reason=progress.stop_reason,
            stop_details=progress.stop_details,
            input_tokens=progress.input_tokens,
            output_tokens=progress.output_tokens,
            cache_read_tokens=progress.cache_read_tokens,
            cache_creation_tokens=progress.cache_creation_tokens,
            error=error if moved else "",
            updated_at=timezone.now(),
        )
        reply = Message.objects.select_related("conversation").get(pk=reply_id)
        if progress.end is not None and status == Message.Status.COMPLETE:
            flow.end_by_assistant(reply, progress.end)
            reply.conversation.refresh_from_db()
    return reply


def _record_decision(
    reply_id: int, conversation_id: uuid.UUID, decision: welfare.Decision, tool_input: dict
) -> None:
    kind = {
        "confirm": ConversationEvent.Kind.END_CONFIRM_REQUESTED,
        "honour": ConversationEvent.Kind.END_HONOURED,
        "decline": ConversationEvent.Kind.END_DECLINED,
    }[decision.outcome]
    detail = {"reason": decision.reason, "summary": decision.summary, "input": tool_input}
    if decision.cause:
        detail["cause"] = decision.cause
    if decision.crisis_terms:
        detail["crisis_terms"] = list(decision.crisis_terms)
    if decision.second_opinion:
        detail["second_opinion"] = decision.second_opinion
    ConversationEvent.objects.create(
        conversation_id=conversation_id, message_id=reply_id, kind=kind, detail=detail
    )


async def generate_reply(reply_id: int) -> Message | None:
    """Stream a reply from the model into the saved message and every open tab."""
    try:
        return await _generate(reply_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        # A last net under the one above (say, the database failing while the reply is finished): the
        # reply must not be left "writing", refusing every later message of the chat.
        logger.exception("Reply %s could not be finished", reply_id)
        await database_sync_to_async(_mark_failed)(reply_id)
        return None


def _mark_failed(reply_id: int) -> None:
    Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(
        status=Message.Status.FAILED, error=claude.ERR_UNKNOWN, updated_at=timezone.now()
    )


async def _generate(reply_id: int) -> Message:
    reply, messages, crisis_on_record = await database_sync_to_async(_load_for_generation)(reply_id)
    if reply.status != Message.Status.STREAMING:
        return reply  # stopped, or the conversation ended, before it began
    conversation_id = reply.conversation_id
    progress = TurnProgress()
    flush_every = settings.BOWOUT_STREAM_FLUSH_SECONDS
    checkpoint_every = settings.BOWOUT_CHECKPOINT_SECONDS
    loop = asyncio.get_running_loop()
    last_flush = -flush_every  # the first words go out at once; later ones are gathered
    last_checkpoint = loop.time()
    checkpoint: asyncio.Future | None = None  # the save in flight, if any
    writer = _live.get(reply_id) or live.LiveReply(reply_id, conversation_id, lambda: None)

    async def on_text(text: str) -> bool:
        nonlocal last_flush, last_checkpoint, checkpoint
        writer.text = text  # what a tab connecting now is sent
        now = loop.time()
        if now - last_flush < flush_every:
            return True
        last_flush = now
        await writer.publish_new_text()
        if checkpoint is not None and checkpoint.done():
            if not checkpoint.result():
                return False  # stopped or ended, by a worker that could not reach this one
            checkpoint = None
        if checkpoint is None and now - last_checkpoint >= checkpoint_every:
            # Saved on a schedule, not per flush, and without holding up the stream: writes per reply
            # grow with its duration, not its tokens; a crash loses at most `checkpoint_every` seconds.
            # The final save goes through the same database thread after this one, and only moves a
            # reply that is still streaming, so a late checkpoint cannot overwrite it.
            last_checkpoint = now
            checkpoint = asyncio.ensure_future(database_sync_to_async(_save_progress)(reply_id, text))
            checkpoint.add_done_callback(_log_failed_checkpoint)
        return True

    async def on_decision(decision: welfare.Decision, tool_input: dict) -> None:
        await database_sync_to_async(_record_decision)(reply_id, conversation_id, decision, tool_input)

    status: str = Message.Status.COMPLETE
    error = ""
    try:
        finished = await turns.run_turn(
            messages,
            progress,
            policy=flow.welfare_policy(),
            on_text=on_text,
            on_decision=on_decision,
            model=reply.model_name,
            instructions=reply.conversation.user.custom_instructions,
            crisis_on_record=crisis_on_record,
        )
        if not finished:
            status = Message.Status.STOPPED
            progress.keep_partial_round()
        else:
            status, error = outcome_of(progress)
    except asyncio.CancelledError:
        # Stop in this process (the row already says stopped) or the server shutting down (interrupted).
        progress.keep_partial_round()
        await asyncio.shield(
            _finish_and_publish(reply_id, progress, Message.Status.INTERRUPTED, liveness.interruption_error())
        )
        raise
    except Exception as exc:
        # Whatever breaks a stream — an API error, a dropped connection, a server the SDK cannot follow
        # (it raises ValueError or AssertionError) — the reply ends failed or interrupted, never streaming.
        if isinstance(exc, anthropic.APIError | httpx2.HTTPError):
            logger.warning("Reply %s failed: %r", reply_id, exc)
        else:
            logger.exception("Reply %s failed on an unexpected error", reply_id)
        progress.keep_partial_round()
        status = Message.Status.INTERRUPTED if progress.text else Message.Status.FAILED
        error = claude.describe_error(exc)
    return await _finish_and_publish(reply_id, progress, status, error)


def outcome_of(progress: TurnProgress) -> tuple[str, str]:
    """The status and error of a turn the model finished, by how it stopped."""
    if progress.stop_reason == "refusal":
        return Message.Status.REFUSED, ""
    if progress.stop_reason == turns.CUT_OFF:
        # Ollama ends a failed generation with a clean end of stream: the text is not a whole reply.
        return Message.Status.INTERRUPTED, claude.ERR_CUT_OFF
    if progress.stop_reason == "pause_turn":
        return Message.Status.INTERRUPTED, claude.ERR_PAUSED
    if not progress.text.strip() and progress.end is None:
        # Only reasoning (thinking, which is never shown), or nothing at all: not a reply.
        return Message.Status.INTERRUPTED, claude.ERR_NO_WORDS
    return Message.Status.COMPLETE, ""


async def _finish_and_publish(reply_id: int, progress: TurnProgress, status: str, error: str) -> Message:
    reply = await database_sync_to_async(_finish)(reply_id, progress, status, error)
    if reply.conversation.is_ended:
        html = await database_sync_to_async(fragments.render_snapshot)(reply.conversation)
    else:
        html = await database_sync_to_async(fragments.render_finished)(reply)
        html += fragments.render_controls(reply.conversation, streaming=False)
    await fragments.publish(reply.conversation_id, html)
    return reply
