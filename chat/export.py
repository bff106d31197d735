"""A user's own chats as files they keep: Markdown to read, JSON to process. What the user sees on the
page and nothing else: Claude's replies as their words (`content`, never its reasoning), the versions shown."""

import json
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from chat.models import Conversation, Message

FORMATS = {"md": "text/markdown; charset=utf-8", "json": "application/json"}


def _messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(version_shown=True).exclude(status=Message.Status.STREAMING))


def conversation_record(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "title": conversation.display_title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "ended": (
            {
                "at": conversation.ended_at.isoformat(),
                "by": conversation.get_ended_by_display(),
                "reason": conversation.get_end_reason_display(),
            }
            if conversation.ended_at
            else None
        ),
        "pinned": conversation.pinned_at is not None,
        "archived": conversation.archived_at is not None,
        "messages": [
            {
                "role": message.role,
                "author": message.get_role_display(),
                "created_at": message.created_at.isoformat(),
                "text": message.content,  # the words; reasoning lives apart (Message.reasoning)
                "status": message.status,
                **({"model": message.model_name} if message.model_name else {}),
            }
            for message in _messages(conversation)
        ],
    }


def as_json(conversations: Iterable[Conversation]) -> str:
    records = [conversation_record(c) for c in conversations]
    return json.dumps(
        {"exported_at": timezone.now().isoformat(), "conversations": records}, ensure_ascii=False, indent=2
    )


def as_markdown(conversations: Iterable[Conversation]) -> str:
    parts = []
    for conversation in conversations:
        record = conversation_record(conversation)
        lines = [f"# {record['title']}", "", f"Started {_when(conversation.created_at)}."]
        if record["ended"]:
            lines.append(f"Ended {_when(conversation.ended_at)} by {record['ended']['by']}.")
        for message in record["messages"]:
            lines += ["", f"## {message['author']} · {message['created_at'][:16].replace('T', ' ')}", ""]
            lines.append(message["text"] or f"*(no text: {message['status']})*")
        parts.append("\n".join(lines))
    return "\n\n---\n\n".join(parts) + "\n"


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%d %B %Y, %H:%M %Z")


def filename(conversations: list[Conversation], fmt: str, *, single: bool) -> str:
    stem = f"bowout-chat-{conversations[0].pk}" if single else "bowout-chats"
    return f"{stem}-{timezone.now():%Y%m%d}.{fmt}"
