"""Writing planned demo conversations: one `executemany` per table and chunk (see the package's note)."""

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models

from chat.markdown import render_markdown
from chat.models import Conversation, ConversationEvent, Message, MessageRating, UserRequest
from welfare_admin.demo.plans import Kind, Plan
from welfare_admin.models import AuditEntry

REVIEWER_EMAIL = "demo-reviewer@example.com"


@functools.lru_cache(maxsize=64)
def _html(text: str) -> str:
    """The demo reuses a handful of replies: render each once."""
    return render_markdown(text)


@dataclass
class SeedReport:
    conversations: int = 0
    ended: int = 0
    messages: int = 0
    events: int = 0
    requests: int = 0
    reviews: int = 0
    users: int = 0
    seconds: float = 0.0


class Table:
    """Rows for one model's table, written with executemany. Values are adapted once per column with the
    backend's adapters (datetimes, UUIDs, JSON), the same conversions the ORM makes."""

    BATCH = 5000

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        self.adapters = [self._adapter(f) for f in self.fields]
        # Defaults adapted once (every message's empty `turns`, for one, would be JSON-encoded each time).
        self.adapted_defaults = [
            adapt(f.get_default()) if adapt is not None and f.get_default() is not None else f.get_default()
            for f, adapt in zip(self.fields, self.adapters, strict=True)
        ]
        columns = ", ".join(connection.ops.quote_name(f.column or f.attname) for f in self.fields)
        placeholders = ", ".join(["%s"] * len(self.fields))
        self.sql = f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"
        self.rows: list[tuple[Any, ...]] = []

    @staticmethod
    def _adapter(f: Any) -> Callable[[Any], Any] | None:
        target = f.target_field if f.is_relation else f
        kind = target.get_internal_type()
        if kind == "DateTimeField":
            return connection.ops.adapt_datetimefield_value
        if kind == "UUIDField" and not connection.features.has_native_uuid_field:
            return lambda value: value.hex
        if kind == "JSONField":
            return lambda value: connection.ops.adapt_json_value(value, f.encoder)
        return None

    def add(self, **values: Any) -> None:
        row = []
        for f, adapt, default in zip(self.fields, self.adapters, self.adapted_defaults, strict=True):
            if f.attname not in values:
                row.append(default)
                continue
            value = values[f.attname]
            row.append(adapt(value) if adapt is not None and value is not None else value)
        self.rows.append(tuple(row))

    def write(self) -> int:
        with connection.cursor() as cursor:
            for start in range(0, len(self.rows), self.BATCH):
                cursor.executemany(self.sql, self.rows[start : start + self.BATCH])
        written, self.rows = len(self.rows), []
        return written


def write(plans: list[Plan], reviewer_id: int, report: SeedReport) -> None:
    """Write planned conversations: first the conversations and their messages, then what refers to them."""
    report.messages += _write_conversations(plans)
    ids = _message_ids(plans)
    events, requests, ratings, entries = (
        Table(ConversationEvent),
        Table(UserRequest),
        Table(MessageRating),
        Table(AuditEntry),
    )
    for plan in plans:
        message_ids = ids.get(plan.conversation["id"], [])
        _add_events(events, plan, message_ids)
        _add_requests(requests, ratings, plan, message_ids)
        _add_review_and_reopen(events, entries, plan, reviewer_id)
    report.events += events.write()
    report.requests += requests.write()
    ratings.write()
    # Audit entries are otherwise written one at a time by audit.record; demo reviews go in bulk.
    report.reviews += entries.write()
    report.conversations += len(plans)
    report.ended += sum(1 for p in plans if p.end)


def _write_conversations(plans: list[Plan]) -> int:
    conversations, messages = Table(Conversation), Table(Message)
    for plan in plans:
        conversations.add(**plan.conversation)
        conversation_id = plan.conversation["id"]
        for role, content, at in plan.messages:
            assistant = role == Message.Role.ASSISTANT
            messages.add(
                conversation_id=conversation_id,
                role=role,
                content=content,
                content_html=_html(content) if assistant else "",
                status=Message.Status.COMPLETE,
                stop_reason="end_turn" if assistant else "",
                model_name=settings.BOWOUT_MODEL if assistant else "",
                input_tokens=len(content) * 3 + 400 if assistant else None,
                output_tokens=len(content) // 4 if assistant else None,
                created_at=at,
                updated_at=at,
            )
    conversations.write()
    return messages.write()


def _message_ids(plans: list[Plan]) -> dict[uuid.UUID, list[int]]:
    """Message ids, in insertion order, for the few conversations whose events or requests point at one."""
    linked = [p.conversation["id"] for p in plans if p.refers_to_messages]
    ids: dict[uuid.UUID, list[int]] = {}
    for conversation_id, message_id in (
        Message.objects.filter(conversation_id__in=linked).order_by("id").values_list("conversation_id", "id")
    ):
        ids.setdefault(conversation_id, []).append(message_id)
    return ids


def _add_events(events: "Table", plan: Plan, message_ids: list[int]) -> None:
    c = plan.conversation
    for kind, index, detail in plan.events:
        at = plan.messages[index][2] + timedelta(seconds=2) if index is not None else plan.ended
        events.add(
            conversation_id=c["id"],
            message_id=message_ids[index] if index is not None else None,
            kind=kind,
            detail=detail,
            actor_id=c["user_id"] if kind == Kind.USER_END else None,
            created_at=at,
        )


def _add_requests(requests: "Table", ratings: "Table", plan: Plan, message_ids: list[int]) -> None:
    c = plan.conversation
    for kind, source, index, text, mistaken, status in plan.requests:
        at = (plan.messages[index][2] if index is not None else plan.ended) + timedelta(minutes=1)
        resolved = status == UserRequest.Status.RESOLVED
        requests.add(
            conversation_id=c["id"],
            message_id=message_ids[index] if index is not None else None,
            user_id=c["user_id"],
            kind=kind,
            source=source,
            text=text,
            end_was_mistake=mistaken,
            status=status,
            created_at=at,
            resolved_at=at if resolved else None,
            staff_note="Looked at it: the reply was fine." if resolved and kind == "thumbs_down" else "",
        )
        if kind == UserRequest.Kind.THUMBS_DOWN and index is not None:
            ratings.add(message_id=message_ids[index], user_id=c["user_id"], rating="down", created_at=at)


def _add_review_and_reopen(events: "Table", entries: "Table", plan: Plan, reviewer_id: int) -> None:
    c = plan.conversation
    if plan.review:
        upheld = plan.review == "upheld"
        entries.add(
            action=AuditEntry.Action.UPHELD if upheld else AuditEntry.Action.MISTAKEN,
            conversation_id=c["id"],
            actor_id=reviewer_id,
            actor_email=REVIEWER_EMAIL,
            note="Demo review: warned twice, the end was right."
            if upheld
            else "Demo review: ended too quickly.",
            created_at=plan.ended + timedelta(hours=6),
        )
    if plan.reopened_at and plan.end:
        note = "Demo: reopened after review."
        events.add(
            conversation_id=c["id"],
            kind=Kind.STAFF_ACTION,
            actor_id=reviewer_id,
            detail=ConversationEvent.reopen_detail(note, plan.end),
            created_at=plan.reopened_at,
        )
        entries.add(
            action=AuditEntry.Action.REOPENED,
            conversation_id=c["id"],
            actor_id=reviewer_id,
            actor_email=REVIEWER_EMAIL,
            note=note,
            detail=plan.end.as_previous_end(),
            created_at=plan.reopened_at,
        )
