"""Generating a reply: stream it from the model into the saved message and every open tab.

Runs as its own asyncio task, so a consumer stays free to handle Stop and a closed tab loses nothing.
"""

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import httpx2
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat import claude, flow, fragments, history, live, logfields, turns, welfare, workers
from chat.database import in_database
from chat.markdown import render_markdown
from chat.models import ConversationEvent, Message
from chat.turns import TurnProgress

logger = logging.getLogger("bowout.chat")

# How an entry point's writes reach the database: sync_to_async in a request, in_database on a socket.
Through = Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]

# Replies generating in this process, so Stop can cancel one at once and nothing is collected early.
_running: dict[int, asyncio.Task] = {}
# Their live text and writer channel (see chat/live.py), for the reply's `on_text`.
_live: dict[int, live.LiveReply] = {}


# --- Starting a reply: the one way in for the socket and the HTTP views --------------------------------


async def send_message(
    user, conversation_id: Any, text: Any, client_id: Any = None, *, through: Through = sync_to_async
) -> flow.Posted:
    """Post the user's message and start its reply, written by this process and heartbeated like every
    other (chat/workers.py). A repeated client id starts nothing: it returns what the first send made.

    `through` is how the writes reach the database. In a request, asgiref's sync_to_async (the default):
    the request's own thread and connection, which Django closes itself (Channels' database_sync_to_async
    would close it mid-request and end the request's transaction). On a socket, chat.database.in_database:
    on PostgreSQL one of the pool's threads, so a burst of sends does not wait in one line."""
    posted = await through(flow.post_user_message)(user, conversation_id, text, client_id)
    if posted.created and posted.reply is not None:  # a new send always comes with its reply
        await fragments.publish(posted.conversation, fragments.render_posted(posted))
        start_generation(posted.reply)
    return posted


async def retry_reply(
    user, conversation_id: Any, message_id: Any, *, through: Through = sync_to_async
) -> Message:
    """A new reply to the last user message, started like any other (`through`: as for send_message)."""
    reply = await through(flow.retry_reply)(user, conversation_id, message_id)
    await fragments.publish(reply.conversation_id, fragments.render_appended(reply))
    start_generation(reply)
    return reply


async def regenerate_reply(user, conversation_id: Any, message_id: Any) -> Message:
    """Another version of the last reply (the earlier ones are kept), started like any other."""
    reply = await sync_to_async(flow.regenerate_reply)(user, conversation_id, message_id)
    # The whole list: every tab swaps the earlier version for the new one being written.
    await fragments.publish(
        reply.conversation_id, await sync_to_async(fragments.render_snapshot)(reply.conversation)
    )
    start_generation(reply)
    return reply


async def edit_message(user, conversation_id: Any, message_id: Any, text: Any) -> flow.Posted:
    """Edit an earlier message: a new branch with the history up to it, and its reply started."""
    posted = await sync_to_async(flow.branch_from_message)(user, conversation_id, message_id, text)
    assert posted.reply is not None, "a branch always starts with a reply"
    start_generation(posted.reply)
    return posted


def start_generation(reply: Message) -> asyncio.Task:
    # A fresh context: a task started by a view would otherwise inherit the request's thread-sensitive
    # executor, which is shut down when the response is sent, and its database calls would then fail.
    fields = {
        "user_id": reply.conversation.user_id,
        "conversation_id": reply.conversation_id,
        "reply_id": reply.pk,
        "request_id": logfields.current("request_id") or None,
    }
    task = asyncio.create_task(
        _generate_as_writer(reply.pk, reply.conversation_id, fields),
        name=f"reply-{reply.pk}",
        context=contextvars.Context(),
    )
    _running[reply.pk] = task
    task.add_done_callback(lambda _: _running.pop(reply.pk, None))
    workers.track(reply.pk, task)  # stamps the reply with this worker and heartbeats it
    return task


async def _generate_as_writer(reply_id: int, conversation_id: uuid.UUID, fields: dict) -> Message | None:
    """The reply, with a writer channel open while it streams, so Stop and tabs that need its whole
    text reach this process from any worker. Every log line of it carries `fields`."""
    logfields.bind(**fields)
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
    for index, message in enumerate(messages):
        if message.pk in refused_prompts or message.status == Message.Status.REFUSED:
            continue
        if message.is_user and index != last_user and not _was_answered(messages, index):
            # No reply reached the model's side of it (it failed, or was stopped before a word) and the
            # user wrote on instead of retrying: left out, so it is neither merged into the next message
            # nor its failure carried over.
            continue
        if message.is_user:
            raw.append({"role": "user", "content": message.content})
        elif message.api_messages:
            raw.extend(message.api_messages)
        elif message.status != Message.Status.FAILED:
            raw.append({"role": "assistant", "content": message.content})
    return history.normalize(raw)


def _was_answered(messages: list[Message], index: int) -> bool:
    """Whether a reply after the user message at `index` (before the next one) has something to send."""
    for message in messages[index + 1 :]:
        if message.is_user:
            return False
        if message.status != Message.Status.FAILED and (message.api_messages or message.content.strip()):
            return True
    return False


def _log_failed_checkpoint(checkpoint: asyncio.Future) -> None:
    # Retrieved here so a failure after the reply moved on is logged, not reported as never retrieved.
    if not checkpoint.cancelled() and checkpoint.exception() is not None:
        logger.warning("Checkpoint failed: %r", checkpoint.exception())


def _save_progress(reply_id: int, text: str, charged: turns.Usage) -> bool:
    """Save the text so far and the tokens charged so far (the day's quota counts them while the reply
    streams, and after a crash); False when the reply is no longer streaming (Stop or an end, anywhere)."""
    return bool(
        Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(
            content=text,
            input_tokens=charged.input,
            output_tokens=charged.output,
            cache_read_tokens=charged.cache_read,
            cache_creation_tokens=charged.cache_creation,
            updated_at=timezone.now(),
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
        broke = status in (Message.Status.FAILED, Message.Status.INTERRUPTED)
        if moved and broke and error != workers.interruption_error():
            answered = reply.conversation.messages.filter(id__lt=reply.pk, role=Message.Role.USER).last()
            if answered is not None:
                reply.conversation.drop_title_from(answered.content)
        if progress.end is not None and status == Message.Status.COMPLETE:
            flow.end_by_assistant(reply, progress.end, progress.end_input)
            reply.conversation.refresh_from_db()
    return reply


def _record_decision(
    reply_id: int, conversation_id: uuid.UUID, decision: welfare.Decision, tool_input: dict
) -> None:
    """A request to confirm, or a decline. An honoured call is recorded by the end itself
    (flow.end_by_assistant), once the reply is complete and the conversation has really ended."""
    kind = {
        "confirm": ConversationEvent.Kind.END_CONFIRM_REQUESTED,
        "decline": ConversationEvent.Kind.END_DECLINED,
    }[decision.outcome]
    detail = {
        "reason": decision.reason,
        "summary": decision.summary,
        **flow.decision_detail(decision, tool_input),
    }
    ConversationEvent.objects.create(
        conversation_id=conversation_id, message_id=reply_id, kind=kind, detail=detail
    )


async def generate_reply(reply_id: int) -> Message | None:
    """Stream a reply from the model into the saved message and every open tab."""
    try:
        return await _generate(reply_id)
    except asyncio.CancelledError:
        raise
    except Message.DoesNotExist:
        # Its chat, or the whole account, was deleted while it was written: nothing is left to finish.
        logger.info("Reply %s was deleted while it was written", reply_id)
        return None
    except Exception:
        # A last net under the one above (say, the database failing while the reply is finished): the
        # reply must not be left "writing", refusing every later message of the chat.
        logger.exception("Reply %s could not be finished", reply_id)
        await in_database(_mark_failed)(reply_id)
        return None


def _mark_failed(reply_id: int) -> None:
    Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(
        status=Message.Status.FAILED, error=claude.ERR_UNKNOWN, updated_at=timezone.now()
    )


async def _generate(reply_id: int) -> Message:
    reply, messages, crisis_on_record = await in_database(_load_for_generation)(reply_id)
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
            # A checkpoint only moves a reply that is still streaming, and the final save waits for the
            # one in flight, so a late checkpoint cannot overwrite the finished reply.
            last_checkpoint = now
            checkpoint = asyncio.ensure_future(
                in_database(_save_progress)(reply_id, text, progress.charged())
            )
            checkpoint.add_done_callback(_log_failed_checkpoint)
        return True

    async def on_decision(decision: welfare.Decision, tool_input: dict) -> None:
        if not decision.ends:
            await in_database(_record_decision)(reply_id, conversation_id, decision, tool_input)

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
            _finish_and_publish(reply_id, progress, Message.Status.INTERRUPTED, workers.interruption_error())
        )
        raise
    except Exception as exc:
        # Whatever breaks a stream — an API error, a dropped connection, a server the SDK cannot follow
        # (it raises ValueError or AssertionError) — the reply ends failed or interrupted, never streaming.
        if isinstance(exc, anthropic.APIError | httpx2.HTTPError):
            logger.warning("Reply %s failed: %r", reply_id, exc)
        else:
            logger.exception("Reply %s failed on an unexpected error", reply_id)
        if isinstance(exc, anthropic.APIStatusError) and exc.status_code != 200:
            progress.round_charge = None  # refused before its stream began: the model processed nothing
        progress.keep_partial_round()
        status = Message.Status.INTERRUPTED if progress.text else Message.Status.FAILED
        error = claude.describe_error(exc)
    if checkpoint is not None:
        await asyncio.wait([checkpoint])  # its failure is logged by its callback
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
    reply = await in_database(_finish)(reply_id, progress, status, error)
    if reply.conversation.is_ended:
        html = await in_database(fragments.render_snapshot)(reply.conversation)
    else:
        html = await in_database(fragments.render_finished)(reply)
        html += fragments.render_controls(reply.conversation, streaming=False)
        if (
            reply.status in (Message.Status.FAILED, Message.Status.INTERRUPTED)
            and not reply.conversation.title
        ):
            html += fragments.render_renamed(reply.conversation)  # "New chat" again: see drop_title_from
    await fragments.publish(reply.conversation_id, html)
    return reply
