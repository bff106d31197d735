"""The HTML fragments every open tab receives over the socket, and the one way they are sent.

Rendered from the partials of `chat/conversation.html` (django-template-partials), so the page and its
live updates cannot drift apart. No request here: see the note at the top of that template about CSRF.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any, Protocol

from channels.layers import BaseChannelLayer, get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Max
from django.template.loader import render_to_string

from chat import claude
from chat.models import Conversation, ConversationEvent, Message, MessageRating


class Posted(Protocol):
    """What a send left behind (chat.flow.Posted), as far as the page needs it. A protocol, so this module
    depends on the models only and the flow, which writes, never needs it."""

    conversation: Conversation
    user_message: Message
    reply: Message | None
    support: bool


def messages_for_display(conversation: Conversation, user) -> list[Message]:
    """Messages in order, each with the viewer's own rating (one query for all); of a regenerated reply
    only the version shown, with where it stands among the versions (‹ 2/3 ›)."""
    messages = list(conversation.messages.all())
    ratings = dict(
        MessageRating.objects.filter(message__conversation=conversation, user=user).values_list(
            "message_id", "rating"
        )
    )
    for message in messages:
        message.my_rating = ratings.get(message.pk, "")
    _number_versions(messages)
    shown = [m for m in messages if m.version_shown]
    for message in shown[:-1]:
        message.followed = True
    return shown


def _number_versions(messages: list[Message]) -> None:
    """Replies to one user message are versions of one reply; once one was regenerated (some version is
    hidden), the last version shown carries the list of all of them for the pager."""
    group: list[Message] = []
    for message in [*messages, None]:
        if message is not None and not message.is_user:
            group.append(message)
            continue
        shown = [m for m in group if m.version_shown]
        if shown and len(shown) < len(group):
            current = shown[-1]
            current.versions = [m.pk for m in group]
            index = current.versions.index(current.pk)
            current.version_number = index + 1
            current.previous_version = current.versions[index - 1] if index else None
            current.next_version = current.versions[index + 1] if index + 1 < len(group) else None
        group = []


def shows_support(conversation: Conversation) -> bool:
    return conversation.events.filter(kind=ConversationEvent.Kind.CRISIS_DETECTED).exists()


TEMPLATE = "chat/conversation.html"


def model_picker() -> bool:
    """A choice of model is offered (and each reply says which one wrote it) when there is a choice."""
    return len(claude.available_models()) > 1


def _render(partial: str, **context: Any) -> str:
    context.setdefault("crisis_resources", settings.BOWOUT_CRISIS_RESOURCES)
    context.setdefault("model_picker", model_picker())
    return render_to_string(f"{TEMPLATE}#{partial}", context)


def render_message(message: Message, *, oob: str = "") -> str:
    return _render("message", message=message, swap=oob)


def render_finished(reply: Message) -> str:
    """A finished reply in place of its streaming self; a version of a regenerated reply with its pager
    (the chat's messages are read again only in chats that have versions)."""
    conversation = reply.conversation
    if conversation.messages.filter(version_shown=False).exists():
        shown = {m.pk: m for m in messages_for_display(conversation, conversation.user)}
        reply = shown.get(reply.pk, reply)
    return render_message(reply, oob="true")


def render_appended(message: Message) -> str:
    """A new message at the end of the list. htmx appends the children of a `beforeend` out-of-band
    element, so the message goes inside a wrapper."""
    return _render("message-append", message=message)


def render_controls(conversation: Conversation, *, streaming: bool) -> str:
    return _render("controls", conversation=conversation, streaming=streaming, oob=True)


def render_error(text: str) -> str:
    return _render("composer-error", error=text, error_oob=True)


def state_token(conversation: Conversation) -> str:
    """A short digest of what a page of this conversation shows. A socket that connects with the token
    its page was rendered with gets no snapshot when nothing changed, so reconnecting does not replace
    the message list under a user who is, say, editing a message."""
    latest = conversation.messages.aggregate(count=Count("id"), last=Max("id"), changed=Max("updated_at"))
    parts = (
        conversation.ended_at,
        conversation.reopened_at,
        latest["count"],
        latest["last"],
        latest["changed"],
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def render_snapshot(conversation: Conversation) -> str:
    """The whole state of a conversation: swapped in when a socket (re)connects, and sent to every tab
    when the conversation ends."""
    chat_messages = messages_for_display(conversation, conversation.user)
    return _render(
        "snapshot",
        conversation=conversation,
        chat_messages=chat_messages,
        streaming=any(m.is_streaming for m in chat_messages),
        support=shows_support(conversation),
        oob=True,
    )


def render_reopened(conversation: Conversation) -> str:
    return render_snapshot(conversation) + _render(
        "composer-area",
        conversation=conversation,
        oob=True,
        new_client_id=uuid.uuid4(),
        max_message_chars=f"{settings.BOWOUT_MAX_MESSAGE_CHARS:,}",
    )


def render_posted(posted: Posted) -> str:
    html = render_appended(posted.user_message)
    if posted.reply is not None:
        html += render_appended(posted.reply)
    html += render_controls(posted.conversation, streaming=True)
    html += _render("title", conversation=posted.conversation, oob=True)
    html += render_to_string("chat/sidebar.html#sidebar-link", {"item": posted.conversation, "oob": True})
    if posted.support:
        html += _render("support-panel", support=True, oob=True)
    return html


def _layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer: open tabs could not be told.")
    return layer


def _group(conversation: Conversation | uuid.UUID) -> str:
    conversation_id = conversation.pk if isinstance(conversation, Conversation) else conversation
    return group_name(conversation_id)


def group_name(conversation_id: uuid.UUID) -> str:
    return f"conversation.{conversation_id.hex}"


async def publish(conversation: Conversation | uuid.UUID, html: str) -> None:
    """Send an HTML fragment to every open tab of the conversation, on every worker."""
    await _layer().group_send(_group(conversation), {"type": "chat.html", "html": html})


async def close_tabs(conversation: Conversation | uuid.UUID, code: int) -> None:
    """Close every open tab's socket with `code` (chat.close_codes), which the page explains."""
    await _layer().group_send(_group(conversation), {"type": "chat.close", "code": code})


def render_renamed(conversation: Conversation) -> str:
    """The new title for the conversation's open tabs: the heading and its own sidebar entry."""
    html = _render("title", conversation=conversation, oob=True)
    return html + render_to_string("chat/sidebar.html#sidebar-link", {"item": conversation, "oob": True})


async def publish_frame(conversation_id: uuid.UUID, frame: str) -> None:
    """Send a stream frame (see `render_stream`) to every open tab of the conversation."""
    await _layer().group_send(group_name(conversation_id), {"type": "chat.frame", "frame": frame})


def render_stream(reply_id: int, at: int, text: str, *, whole: bool = False, reset: bool = False) -> str:
    """New text of a streaming reply, starting at offset `at` (UTF-16 code units) of its body; `whole`
    when it is all of it (taken by a tab unless shorter than what it has, i.e. stale), `reset` when the
    writer's text changed and every tab must replace what it shows. JSON, not HTML: static/chat.js appends it as text (so nothing in it is markup)
    when the offset follows what the tab has, and asks for the whole text when it finds a gap."""
    frame: dict[str, Any] = {"stream": reply_id, "at": at, "text": text}
    if whole:
        frame["whole"] = True
    if reset:
        frame["reset"] = True
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
