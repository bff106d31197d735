"""One conversation as an auditor reads it: messages, events, requests and reviews in one time line, and
the same as JSON for export."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from chat.models import Conversation, ConversationEvent, End, EndedBy, EndReason, Message, UserRequest
from welfare_admin.models import AuditEntry

# Longer messages fold into <details>, so a transcript stays scannable.
FOLD_CHARS = 1200
FOLD_LINES = 20
PREVIEW_CHARS = 240

DECLINE_CAUSES = {
    "too_early": "Too early: fewer user turns than the policy requires before an end for abuse",
    "crisis": "Crisis signals in the conversation's user messages: Claude may not end, support is shown",
    "no_abuse": "No basis for an abuse end: too few abusive user messages, or the latest one was not abusive",
    "no_warning": "No basis for an abuse end: no earlier reply warned, or the abuse did not go on after it",
    "no_request": "No basis for a requested end: the user never asked to end the conversation",
    "no_confirmation": "No basis for a requested end: the user's latest message was not a yes to the confirmation question",
    "switched_off": "The operator has switched Claude's ability to end chats off",
    "invalid": "The end tool's input was invalid",
    "second_opinion": "The second check did not confirm the end (or failed, which declines it)",
}

# Reopens are told by the staff-action event; exports are about the list, not this conversation's story.
_TIMELINE_AUDIT_ACTIONS = (
    AuditEntry.Action.UPHELD,
    AuditEntry.Action.MISTAKEN,
    AuditEntry.Action.REQUEST_RESOLVED,
)


@dataclass
class Fact:
    label: str
    value: str


@dataclass
class Item:
    """One line of the time line. `kind` is message | event | request | review; `tone` styles it."""

    kind: str
    at: datetime
    title: str
    tone: str = ""
    text: str = ""
    folds: bool = False
    preview: str = ""
    facts: list[Fact] = field(default_factory=list)
    anchor: str = ""
    order: int = 0


def _label(choices: type, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value or "—"


def _end_facts(end: End) -> list[Fact]:
    facts = []
    if end.by:
        facts.append(Fact("Ended by", _label(EndedBy, end.by)))
    if end.reason:
        facts.append(Fact("Reason", _label(EndReason, end.reason)))
    if end.summary:
        facts.append(Fact("Summary", end.summary))
    facts.append(Fact("Ended at", end.at.isoformat()))
    return facts


def _event_item(event: ConversationEvent) -> Item:
    detail = event.detail if isinstance(event.detail, dict) else {}
    Kind = ConversationEvent.Kind
    tone: str = {  # type: ignore[call-overload]  # event.kind is a plain str, the keys its choices
        Kind.END_CONFIRM_REQUESTED: "warn",
        Kind.END_HONOURED: "end",
        Kind.END_DECLINED: "declined",
        Kind.CRISIS_DETECTED: "crisis",
        Kind.USER_END: "end",
        Kind.STAFF_ACTION: "staff",
    }.get(event.kind, "")
    facts: list[Fact] = []
    if detail.get("reason"):
        facts.append(Fact("Reason", _label(EndReason, detail["reason"])))
    if detail.get("summary"):
        facts.append(Fact("Claude's summary", str(detail["summary"])))
    if detail.get("cause"):
        facts.append(Fact("Declined because", DECLINE_CAUSES.get(detail["cause"], str(detail["cause"]))))
    if detail.get("crisis_terms"):
        facts.append(Fact("Crisis signals", ", ".join(map(str, detail["crisis_terms"]))))
    if isinstance(detail.get("second_opinion"), dict):
        check = detail["second_opinion"]
        facts.append(
            Fact("Second check", f"{check.get('verdict')} by {check.get('model')}: {check.get('reason')}")
        )
    if detail.get("action"):
        facts.append(Fact("Action", str(detail["action"])))
    if detail.get("note"):
        facts.append(Fact("Note", str(detail["note"])))
    if (previous := event.previous_end) is not None:
        facts += [Fact(f"Previous end: {f.label.lower()}", f.value) for f in _end_facts(previous)]
    if event.actor_id:
        facts.append(Fact("By", event.actor.email if event.actor else "a deleted account"))
    return Item("event", event.created_at, event.get_kind_display(), tone=tone, facts=facts, order=1)


def _message_item(message: Message) -> Item:
    text = message.content
    folds = len(text) > FOLD_CHARS or text.count("\n") >= FOLD_LINES
    facts = []
    if message.status != Message.Status.COMPLETE:
        facts.append(Fact("Status", message.get_status_display()))
    if message.error:
        facts.append(Fact("Error", message.error))
    if message.refusal_explanation:
        facts.append(Fact("Refusal", message.refusal_explanation))
    if message.role == Message.Role.ASSISTANT and message.reasoning:
        facts.append(Fact("Reasoning (never shown to the user)", message.reasoning))
    if message.role == Message.Role.ASSISTANT and message.input_tokens is not None:
        facts.append(Fact("Tokens", _token_summary(message)))
    return Item(
        "message",
        message.created_at,
        "Claude" if message.role == Message.Role.ASSISTANT else "User",
        tone=message.role,
        text=text,
        folds=folds,
        preview=text[:PREVIEW_CHARS].rstrip() + "…" if folds else "",
        facts=facts,
        anchor=f"message-{message.pk}",
        order=0,
    )


def _token_summary(message: Message) -> str:
    """A reply's tokens as billed: uncached input, input read from and written to the prompt cache, output."""
    return (
        f"{message.input_tokens:,} in + {message.cache_read_tokens or 0:,} cache read"
        f" + {message.cache_creation_tokens or 0:,} cache write · {message.output_tokens or 0:,} out"
    )


def _request_item(user_request: UserRequest) -> Item:
    facts = [
        Fact("Source", user_request.get_source_display()),
        Fact("Status", user_request.get_status_display()),
    ]
    if user_request.end_was_mistake:
        facts.append(Fact("The user says", "the end was a mistake"))
    if user_request.staff_note:
        facts.append(Fact("Staff note", user_request.staff_note))
    return Item(
        "request",
        user_request.created_at,
        f"User request: {user_request.get_kind_display()}",
        tone="request",
        text=user_request.text,
        facts=facts,
        anchor=f"request-{user_request.pk}",
        order=2,
    )


def _review_item(entry: AuditEntry) -> Item:
    return Item(
        "review",
        entry.created_at,
        entry.get_action_display(),
        tone="staff",
        text=entry.note,
        facts=[Fact("By", entry.actor_email)],
        order=3,
    )


def timeline(conversation: Conversation) -> list[Item]:
    """Everything that happened, oldest first; at the same instant a message comes before what it caused.
    Four queries whatever the length."""
    items = [_message_item(m) for m in conversation.messages.order_by("created_at", "id")]
    items += [
        _event_item(e) for e in conversation.events.select_related("actor").order_by("created_at", "id")
    ]
    items += [_request_item(r) for r in conversation.requests.order_by("created_at", "id")]
    items += [
        _review_item(a)
        for a in AuditEntry.objects.filter(
            conversation=conversation, action__in=_TIMELINE_AUDIT_ACTIONS
        ).order_by("created_at", "id")
    ]
    return sorted(items, key=lambda item: (item.at, item.order))


def as_json(conversation: Conversation, *, exported_by: str) -> dict[str, Any]:
    """The whole record of one conversation, for an auditor to keep or share with the team."""
    return {
        "exported_at": timezone.now(),
        "exported_by": exported_by,
        "conversation": {
            "id": conversation.pk,
            "user": conversation.user.email,
            "title": conversation.title,
            "created_at": conversation.created_at,
            "updated_at": conversation.updated_at,
            "deleted_at": conversation.deleted_at,
            "ended_at": conversation.ended_at,
            "ended_by": conversation.ended_by,
            "end_reason": conversation.end_reason,
            "end_summary": conversation.end_summary,
            "reopened_at": conversation.reopened_at,
            "parent": conversation.parent_id,
        },
        "messages": [
            {
                "id": m.pk,
                "role": m.role,
                "content": m.content,
                # The model's thinking: its reasoning, not words it said to the user.
                "reasoning": m.reasoning,
                "status": m.status,
                "stop_reason": m.stop_reason,
                "error": m.error,
                "model": m.model_name,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
                "cache_read_tokens": m.cache_read_tokens,
                "cache_creation_tokens": m.cache_creation_tokens,
                "stop_details": m.stop_details,
                "created_at": m.created_at,
                # The API blocks of a reply, tool calls included: what Claude actually sent.
                "api_messages": m.api_messages,
            }
            for m in conversation.messages.order_by("created_at", "id")
        ],
        "events": [
            {
                "id": e.pk,
                "kind": e.kind,
                "message": e.message_id,
                "detail": e.detail,
                "actor": e.actor.email if e.actor else None,
                "created_at": e.created_at,
            }
            for e in conversation.events.select_related("actor").order_by("created_at", "id")
        ],
        "requests": [
            {
                "id": r.pk,
                "kind": r.kind,
                "source": r.source,
                "message": r.message_id,
                "text": r.text,
                "end_was_mistake": r.end_was_mistake,
                "status": r.status,
                "staff_note": r.staff_note,
                "created_at": r.created_at,
                "resolved_at": r.resolved_at,
            }
            for r in conversation.requests.order_by("created_at", "id")
        ],
        "audit": [
            {
                "id": a.pk,
                "action": a.action,
                "actor": a.actor_email,
                "note": a.note,
                "detail": a.detail,
                "created_at": a.created_at,
            }
            for a in AuditEntry.objects.filter(conversation=conversation).order_by("created_at", "id")
        ],
    }
