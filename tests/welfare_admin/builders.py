"""Conversations as the chat flow leaves them, written straight to the database for audit tests."""

from datetime import datetime, timedelta

from django.utils import timezone

from chat.models import Conversation, ConversationEvent, End, EndedBy, EndReason, Message, UserRequest
from welfare_admin import audit
from welfare_admin.models import AuditEntry

ABUSE_SUMMARY = "User kept sending insults after two redirections and an explicit warning."


def conversation(
    user, *, title: str = "A chat", turns: int = 2, at: datetime | None = None, texts=()
) -> Conversation:
    """An open conversation with `turns` user messages, each answered."""
    start = at or timezone.now() - timedelta(hours=2)
    c = Conversation.objects.create(user=user, title=title, created_at=start, updated_at=start)
    texts = list(texts) + [f"User message {i}" for i in range(len(texts), turns)]
    for i, text in enumerate(texts):
        Message.objects.create(
            conversation=c, role=Message.Role.USER, content=text, created_at=start + timedelta(minutes=2 * i)
        )
        Message.objects.create(
            conversation=c,
            role=Message.Role.ASSISTANT,
            content=f"Reply {i}",
            created_at=start + timedelta(minutes=2 * i + 1),
        )
    return c


def end(c: Conversation, *, by: str = EndedBy.ASSISTANT, reason: str = EndReason.ABUSIVE_USER, summary: str = "",
        at: datetime | None = None) -> Conversation:  # fmt: skip
    at = at or c.created_at + timedelta(minutes=30)
    summary = summary or (ABUSE_SUMMARY if by == EndedBy.ASSISTANT else "")
    last = c.messages.order_by("id").last()
    if by == EndedBy.ASSISTANT:
        # Claude's end as the reply task leaves it: asked to confirm, then ended by the confirming call.
        tool_input = {"reason": reason, "summary": summary}
        ConversationEvent.objects.create(
            conversation=c,
            message=last,
            kind=ConversationEvent.Kind.END_CONFIRM_REQUESTED,
            detail={**tool_input, "input": tool_input},
            created_at=at,
        )
        c.end(End(by, reason, summary, at), message=last, detail={"input": tool_input})
    else:
        c.end(End(by, reason, summary, at), actor=c.user)
    return c


def ended(user, **kwargs) -> Conversation:
    end_kwargs = {k: kwargs.pop(k) for k in ("by", "reason", "summary") if k in kwargs}
    if "ended_at" in kwargs:
        end_kwargs["at"] = kwargs.pop("ended_at")
    return end(conversation(user, **kwargs), **end_kwargs)


def request(c: Conversation, kind: str = UserRequest.Kind.END_FEEDBACK, **fields) -> UserRequest:
    fields.setdefault("text", "Please look again")
    return UserRequest.objects.create(conversation=c, user=c.user, kind=kind, **fields)


def review(
    actor, c: Conversation, verdict: str = AuditEntry.Action.UPHELD, note: str = "Checked"
) -> AuditEntry:
    return audit.review_conversation(actor, c, verdict, note)


def declined(c: Conversation, cause: str, *, at: datetime | None = None) -> ConversationEvent:
    return ConversationEvent.objects.create(
        conversation=c,
        kind=ConversationEvent.Kind.END_DECLINED,
        detail={"reason": "abusive_user", "summary": "", "cause": cause},
        created_at=at or timezone.now(),
    )
