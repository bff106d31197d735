"""Which worker writes each streaming reply, and whether that worker is still alive.

A reply is written by one worker process, named by hostname, pid and a per-start id. While a worker streams
replies it stamps them (`writer`, `heartbeat_at`) every BOWOUT_HEARTBEAT_SECONDS. A reply whose writer is gone
— no heartbeat for three intervals, or at once when the writer ran on this host and its process no longer
exists (kill -9, then a restart) — is interrupted on the next page load or socket connect, so the chat takes
messages again and offers Retry. On a clean shutdown (SIGTERM: the ASGI lifespan shutdown) a worker drains:
it lets its replies finish for up to BOWOUT_DRAIN_SECONDS, then stops the rest with the same message.
"""

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chat.markdown import render_markdown
from chat.models import Conversation, Message

logger = logging.getLogger("bowout.chat")

# How long the cancelled replies of a draining worker get to save their text and tell the tabs.
_FINISH_AFTER_CANCEL_SECONDS = 5.0

_identity: tuple[int, str] | None = None
# Replies streaming in this process, with the task writing each.
_tracked: dict[int, asyncio.Task] = {}
_heartbeat: asyncio.Task | None = None
_wake: asyncio.Event | None = None
_draining = False


def worker_id() -> str:
    """This process as a writer: hostname, pid and a random id for this start (pids are reused)."""
    global _identity
    pid = os.getpid()
    if _identity is None or _identity[0] != pid:  # a forked child is another writer
        _identity = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:12]}")
    return _identity[1]


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=3 * settings.BOWOUT_HEARTBEAT_SECONDS)


def interruption_error() -> str:
    """What a reply cancelled in this process says: a shutdown is a restart to the user."""
    return Message.WRITER_GONE_ERROR if _draining else Message.INTERRUPTED_ERROR


# --- The writer's side --------------------------------------------------------------------------


def track(reply_id: int, task: asyncio.Task) -> None:
    """Called when a reply's task starts: heartbeat it until the task ends."""
    global _heartbeat, _wake
    _tracked[reply_id] = task
    task.add_done_callback(lambda _: _untrack(reply_id))
    # One heartbeat per event loop; a loop that closed (tests run one per test) leaves a task that never ends.
    if _heartbeat is None or _heartbeat.done() or _heartbeat.get_loop() is not asyncio.get_running_loop():
        _wake = asyncio.Event()
        # A context of its own: started from a view, the task would inherit the request's thread-sensitive
        # executor, shut down once the response is sent; every later beat of every reply would then fail.
        _heartbeat = asyncio.create_task(
            _beat_while_streaming(_wake), name="reply-heartbeat", context=contextvars.Context()
        )
    elif _wake is not None:
        _wake.set()  # stamp the new reply at once: until then it has no writer


def _untrack(reply_id: int) -> None:
    _tracked.pop(reply_id, None)
    if _wake is not None:
        _wake.set()


async def _beat_while_streaming(wake: asyncio.Event) -> None:
    while _tracked:
        wake.clear()
        try:
            await database_sync_to_async(_beat)(list(_tracked))
        except Exception:  # a database hiccup must not stop the heartbeat of the next round
            logger.exception("Heartbeat of replies %s failed", list(_tracked))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), settings.BOWOUT_HEARTBEAT_SECONDS)


def _beat(reply_ids: list[int]) -> None:
    Message.objects.filter(pk__in=reply_ids, status=Message.Status.STREAMING).update(
        writer=worker_id(), heartbeat_at=timezone.now()
    )


async def drain(seconds: float) -> None:
    """Shutting down: let this worker's replies finish for `seconds`, then stop the rest, each
    saved as interrupted with the restart message and sent to the tabs of every worker."""
    global _draining
    _draining = True
    tasks = [task for task in _tracked.values() if not task.done()]
    if not tasks:
        return
    logger.info("Draining %d streaming repl%s", len(tasks), "y" if len(tasks) == 1 else "ies")
    _done, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=_FINISH_AFTER_CANCEL_SECONDS)
    # A task that could not even save its end: the row must not say "writing" for the next worker.
    await database_sync_to_async(_interrupt_own_replies)()


def _interrupt_own_replies() -> None:
    for reply in Message.objects.filter(status=Message.Status.STREAMING, writer=worker_id()):
        Message.objects.filter(pk=reply.pk, status=Message.Status.STREAMING).update(
            status=Message.Status.INTERRUPTED,
            error=Message.WRITER_GONE_ERROR,
            content_html=render_markdown(reply.content),
            updated_at=timezone.now(),
        )


async def lifespan(scope: dict, receive, send) -> None:
    """The ASGI lifespan protocol (uvicorn sends shutdown after SIGTERM, once connections are closed)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await drain(settings.BOWOUT_DRAIN_SECONDS)
            await send({"type": "lifespan.shutdown.complete"})
            return


# --- Everyone else's side ---------------------------------------------------------------------------


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def writer_is_gone(reply: Message, now: datetime) -> bool:
    if reply.heartbeat_at is None or now - reply.heartbeat_at > heartbeat_timeout():
        return True
    if not reply.writer:
        return False  # created a moment ago; its worker stamps it at once
    if reply.writer == worker_id():
        return reply.pk not in _tracked
    host, _, rest = reply.writer.partition(":")
    pid = rest.partition(":")[0]
    # Same host: the process table answers at once, without waiting for the heartbeat to go stale.
    return host == socket.gethostname() and pid.isdigit() and not _process_exists(int(pid))


def interrupt_orphaned_replies(conversation: Conversation) -> list[Message]:
    """Interrupt this conversation's streaming replies whose writer is gone; tell the open tabs. Called on
    page load and socket connect."""
    now = timezone.now()
    orphaned = [
        reply
        for reply in conversation.messages.filter(status=Message.Status.STREAMING)
        if writer_is_gone(reply, now)
    ]
    interrupted = []
    for reply in orphaned:
        # Conditional on what was read: a writer that stamped it meanwhile is alive after all.
        moved = Message.objects.filter(
            pk=reply.pk, status=Message.Status.STREAMING, writer=reply.writer, heartbeat_at=reply.heartbeat_at
        ).update(
            status=Message.Status.INTERRUPTED,
            error=Message.WRITER_GONE_ERROR,
            # The words written before the writer went are kept, rendered as a finished reply's are.
            content_html=render_markdown(reply.content),
            updated_at=now,
        )
        if moved:
            logger.warning(
                "Reply %s lost its writer %r; interrupted",
                reply.pk,
                reply.writer or "(none)",
                extra={
                    "user_id": conversation.user_id,
                    "conversation_id": conversation.pk,
                    "reply_id": reply.pk,
                },
            )
            reply.refresh_from_db()
            interrupted.append(reply)
    if interrupted:
        transaction.on_commit(lambda: _publish_interrupted(conversation, interrupted))
    return interrupted


def _publish_interrupted(conversation: Conversation, replies: list[Message]) -> None:
    from chat import fragments  # fragments renders the page's partials; only needed here

    html = "".join(fragments.render_message(reply, oob="true") for reply in replies)
    html += fragments.render_controls(conversation, streaming=False)
    try:
        async_to_sync(fragments.publish)(conversation.pk, html)
    except Exception:  # the page being loaded shows the interruption anyway; other tabs catch up on reconnect
        logger.exception("Could not tell the open tabs of %s that a reply was interrupted", conversation.pk)
