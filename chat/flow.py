"""Posting messages and generating replies: the one path that the websocket and the HTTP views share.

Writes happen in short transactions that start with a conditional UPDATE of the conversation row, so
that on SQLite (IMMEDIATE transactions) and PostgreSQL (row lock) alike two racing requests are put in
line. No transaction is held while the model streams.
"""

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from chat import claude, history
from chat.markdown import render_markdown
from chat.models import Conversation, Message

logger = logging.getLogger("bowout.chat")

STALE_STREAM_SECONDS = 180


class ChatError(Exception):
    """A request that cannot be carried out; `message` is shown to the user as it is."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConversationNotFound(ChatError):
    status = 404

    def __init__(self) -> None:
        super().__init__("This conversation does not exist.")


class ReplyInProgress(ChatError):
    status = 409

    def __init__(self) -> None:
        super().__init__("Claude is still writing a reply. Wait for it to finish, or press Stop.")


class InvalidMessage(ChatError):
    status = 400


# --- Looking up -----------------------------------------------------------------------------------


def get_conversation(user, conversation_id: Any) -> Conversation:
    """The owner check every entry point uses: someone else's or an unknown id is simply not found."""
    try:
        pk = uuid.UUID(str(conversation_id))
    except ValueError:
        raise ConversationNotFound() from None
    conversation = Conversation.objects.for_user(user).filter(pk=pk).first()
    if conversation is None:
        raise ConversationNotFound()
    return conversation


def _lock_conversation(user, conversation_id: Any) -> Conversation:
    """Inside a transaction: touch the conversation row so concurrent writers queue behind us."""
    conversation = get_conversation(user, conversation_id)
    Conversation.objects.filter(pk=conversation.pk).update(updated_at=timezone.now())
    return conversation


def clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidMessage("A message must be text.")
    text = text.strip()
    if not text:
        raise InvalidMessage("Type a message before sending.")
    limit = settings.BOWOUT_MAX_MESSAGE_CHARS
    if len(text) > limit:
        raise InvalidMessage(
            f"Messages can be at most {limit:,} characters; this one has {len(text):,}. Shorten it and send again."
        )
    return text


def parse_client_id(value: Any) -> uuid.UUID | None:
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InvalidMessage("This message could not be sent (bad message id). Reload the page and try again.") from None


# --- Posting --------------------------------------------------------------------------------------


@dataclass
class Posted:
    conversation: Conversation
    user_message: Message
    reply: Message | None
    created: bool


def post_user_message(user, conversation_id: Any, text: Any, client_id: Any = None) -> Posted:
    """Save the user's message and an empty reply marked streaming, or say why not. A repeated client id
    returns what the first send created."""
    text = clean_text(text)
    client_uuid = parse_client_id(client_id)
    try:
        with transaction.atomic():
            conversation = _lock_conversation(user, conversation_id)
            if client_uuid is not None:
                existing = conversation.messages.filter(client_id=client_uuid).first()
                if existing is not None:
                    reply = conversation.messages.filter(id__gt=existing.id, role=Message.Role.ASSISTANT).first()
                    return Posted(conversation, existing, reply, created=False)
            if conversation.messages.filter(status=Message.Status.STREAMING).exists():
                raise ReplyInProgress()
            user_message = Message.objects.create(
                conversation=conversation, role=Message.Role.USER, content=text, client_id=client_uuid
            )
            reply = _create_reply(conversation)
            if not conversation.title:
                conversation.title = Conversation.title_from_text(text)
                conversation.save(update_fields=["title"])
    except IntegrityError:
        # The database's own one-reply-at-a-time rule caught a race the checks above did not see.
        raise ReplyInProgress() from None
    return Posted(conversation, user_message, reply, created=True)


def _create_reply(conversation: Conversation) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        status=Message.Status.STREAMING,
        model_name=claude.model_name(),
    )


def retry_reply(user, conversation_id: Any, message_id: Any) -> Message:
    """A new reply to the last user message, after one that failed or broke off."""
    with transaction.atomic():
        conversation = _lock_conversation(user, conversation_id)
        last = conversation.messages.order_by("-id").first()
        if last is None or str(last.pk) != str(message_id) or not last.can_retry:
            if conversation.messages.filter(status=Message.Status.STREAMING).exists():
                raise ReplyInProgress()
            raise InvalidMessage("Only the last reply can be retried, and only if it failed or broke off.")
        return _create_reply(conversation)


def request_stop(user, conversation_id: Any) -> Message | None:
    """Mark the streaming reply stopped. The worker generating it notices at its next save (or at once,
    if it runs in this process) and keeps the text written so far."""
    conversation = get_conversation(user, conversation_id)
    reply = conversation.messages.filter(status=Message.Status.STREAMING).first()
    if reply is None:
        return None
    updated = Message.objects.filter(pk=reply.pk, status=Message.Status.STREAMING).update(
        status=Message.Status.STOPPED, updated_at=timezone.now()
    )
    return reply if updated else None


def rename_conversation(user, conversation_id: Any, title: Any) -> Conversation:
    if not isinstance(title, str) or not title.strip():
        raise InvalidMessage("A title cannot be empty.")
    title = " ".join(title.split())
    if len(title) > Conversation.TITLE_MAX_LENGTH:
        raise InvalidMessage(f"A title can be at most {Conversation.TITLE_MAX_LENGTH} characters.")
    conversation = get_conversation(user, conversation_id)
    conversation.title = title
    conversation.save(update_fields=["title"])
    return conversation


def delete_conversation(user, conversation_id: Any) -> None:
    conversation = get_conversation(user, conversation_id)
    request_stop(user, conversation.pk)
    Conversation.objects.filter(pk=conversation.pk).update(deleted_at=timezone.now())


def mark_stale_replies_interrupted(conversation: Conversation) -> None:
    """A reply whose worker died (process stopped mid-stream) would otherwise say "writing" forever."""
    cutoff = timezone.now() - timezone.timedelta(seconds=STALE_STREAM_SECONDS)
    Message.objects.filter(
        conversation=conversation, status=Message.Status.STREAMING, updated_at__lt=cutoff
    ).update(status=Message.Status.INTERRUPTED, error="This reply was interrupted. You can retry it.")


# --- Rendering and publishing -------------------------------------------------------------------

TEMPLATE = "chat/conversation.html"


def render_message(message: Message, *, oob: str = "") -> str:
    return render_to_string(f"{TEMPLATE}#message", {"message": message, "swap": oob})


def render_controls(conversation: Conversation, *, streaming: bool) -> str:
    return render_to_string(
        f"{TEMPLATE}#controls", {"conversation": conversation, "streaming": streaming, "oob": True}
    )


def render_error(text: str) -> str:
    return render_to_string(f"{TEMPLATE}#composer-error", {"error": text, "oob": True})


def render_snapshot(conversation: Conversation) -> str:
    """The whole state of a conversation, swapped in when a socket (re)connects."""
    messages = list(conversation.messages.all())
    streaming = any(m.is_streaming for m in messages)
    return render_to_string(
        f"{TEMPLATE}#snapshot",
        {"conversation": conversation, "messages": messages, "streaming": streaming, "oob": True},
    )


def render_posted(posted: Posted) -> str:
    html = render_message(posted.user_message, oob="beforeend:#messages")
    if posted.reply is not None:
        html += render_message(posted.reply, oob="beforeend:#messages")
    html += render_controls(posted.conversation, streaming=True)
    html += render_to_string(f"{TEMPLATE}#title", {"conversation": posted.conversation, "oob": True})
    return html


async def publish(conversation: Conversation | uuid.UUID, html: str) -> None:
    """Send an HTML fragment to every open tab of the conversation, on every worker."""
    conversation_id = conversation.pk if isinstance(conversation, Conversation) else conversation
    await get_channel_layer().group_send(f"conversation.{conversation_id.hex}", {"type": "chat.html", "html": html})


# --- Generating -----------------------------------------------------------------------------------

# Replies generating in this process, so Stop can cancel one at once and nothing is collected early.
_running: dict[int, asyncio.Task] = {}


def start_generation(reply: Message) -> asyncio.Task:
    task = asyncio.create_task(generate_reply(reply.pk), name=f"reply-{reply.pk}")
    _running[reply.pk] = task
    task.add_done_callback(lambda _: _running.pop(reply.pk, None))
    return task


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


@dataclass
class _Progress:
    text: str = ""
    turns: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    status: str = Message.Status.COMPLETE
    error: str = ""


def _load_for_generation(reply_id: int) -> tuple[Message, list[dict]]:
    reply = Message.objects.select_related("conversation").get(pk=reply_id)
    earlier = reply.conversation.messages.filter(id__lt=reply.pk).exclude(status=Message.Status.STREAMING)
    raw = []
    for message in earlier:
        if message.is_user:
            raw.append({"role": "user", "content": message.content})
        elif message.turns:
            raw.extend(message.turns)
        elif message.status != Message.Status.FAILED:
            raw.append({"role": "assistant", "content": message.content})
    return reply, history.normalize(raw)


def _save_progress(reply_id: int, text: str) -> bool:
    """Save the text so far; False when the reply is no longer streaming (Stop was pressed somewhere)."""
    return bool(
        Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(
            content=text, updated_at=timezone.now()
        )
    )


def _finish(reply_id: int, progress: _Progress) -> Message:
    now = timezone.now()
    # A Stop recorded meanwhile wins over how the stream ended, and is no error.
    moved = Message.objects.filter(pk=reply_id, status=Message.Status.STREAMING).update(status=progress.status)
    Message.objects.filter(pk=reply_id).update(
        content=progress.text,
        content_html=render_markdown(progress.text),
        turns=progress.turns,
        stop_reason=progress.stop_reason,
        input_tokens=progress.input_tokens,
        output_tokens=progress.output_tokens,
        error=progress.error if moved else "",
        updated_at=now,
    )
    return Message.objects.select_related("conversation").get(pk=reply_id)


def _assistant_turn(content: list[Any]) -> dict[str, Any]:
    blocks = []
    for block in content:
        if block.type == "text" and block.text:
            blocks.append(history.text_block(block.text))
        elif block.type == "tool_use":
            blocks.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    return {"role": "assistant", "content": blocks}


async def generate_reply(reply_id: int) -> Message:
    """Stream a reply from the model into the saved message and every open tab."""
    reply, messages = await database_sync_to_async(_load_for_generation)(reply_id)
    conversation_id = reply.conversation_id
    progress = _Progress()
    flush_every = settings.BOWOUT_STREAM_FLUSH_SECONDS
    loop = asyncio.get_running_loop()
    last_flush = loop.time()
    turn_text = ""
    try:
        stream = claude.stream_reply(messages)
        async with contextlib.aclosing(stream):
            async for event in stream:
                if isinstance(event, claude.Finished):
                    final = event.message
                    progress.stop_reason = final.stop_reason or ""
                    progress.input_tokens += final.usage.input_tokens
                    progress.output_tokens += final.usage.output_tokens
                    progress.turns.append(_assistant_turn(final.content))
                    turn_text = ""
                    continue
                progress.text += event.text
                turn_text += event.text
                if loop.time() - last_flush >= flush_every:
                    last_flush = loop.time()
                    if not await database_sync_to_async(_save_progress)(reply_id, progress.text):
                        progress.status = Message.Status.STOPPED
                        break
                    await publish(conversation_id, _render_stream(reply_id, progress.text))
    except asyncio.CancelledError:
        # Stop in this process (the row already says stopped) or the server shutting down (interrupted).
        progress.status = Message.Status.INTERRUPTED
        progress.error = "This reply was interrupted. You can retry it."
        _keep_partial_turn(progress, turn_text)
        await asyncio.shield(_finish_and_publish(reply_id, progress))
        raise
    except (anthropic.APIError, httpx2.HTTPError) as error:
        logger.warning("Reply %s failed: %r", reply_id, error)
        progress.status = Message.Status.INTERRUPTED if progress.text else Message.Status.FAILED
        progress.error = claude.describe_error(error)
        _keep_partial_turn(progress, turn_text)
    else:
        if progress.status == Message.Status.STOPPED:
            _keep_partial_turn(progress, turn_text)
    return await _finish_and_publish(reply_id, progress)


def _keep_partial_turn(progress: _Progress, turn_text: str) -> None:
    if turn_text.strip():
        progress.turns.append({"role": "assistant", "content": [history.text_block(turn_text)]})


def _render_stream(reply_id: int, text: str) -> str:
    return render_to_string(f"{TEMPLATE}#stream-body", {"message_id": reply_id, "text": text})


async def _finish_and_publish(reply_id: int, progress: _Progress) -> Message:
    reply = await database_sync_to_async(_finish)(reply_id, progress)
    html = render_message(reply, oob="true") + render_controls(reply.conversation, streaming=False)
    await publish(reply.conversation_id, html)
    return reply
