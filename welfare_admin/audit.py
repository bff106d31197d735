"""Staff actions on conversations and requests. Every one writes an audit entry, through `record`, in the
same transaction as the change it records."""

from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from chat import flow, fragments
from chat.models import Conversation, UserRequest
from welfare_admin.models import AuditEntry


class StaffActionError(Exception):
    """A staff action that cannot be carried out; the message is shown to the auditor as it is."""


def build(
    actor: User,
    action: str,
    *,
    note: str = "",
    detail: dict[str, Any] | None = None,
    **targets: Any,
) -> AuditEntry:
    """An unsaved entry; `record` saves it (and demo seeding bulk-creates many). `targets` are
    `conversation`/`conversation_id` and `user_request`/`user_request_id`."""
    return AuditEntry(
        action=action,
        actor=actor,
        actor_email=getattr(actor, "email", "") or str(actor),
        note=note,
        detail=detail or {},
        **targets,
    )


def record(actor: User, action: str, **fields: Any) -> AuditEntry:
    """The one way an audit entry is written."""
    entry = build(actor, action, **fields)
    entry.save()
    return entry


def _clean_note(note: str) -> str:
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise StaffActionError("A note is required.")
    return note


def review_conversation(actor: User, conversation: Conversation, verdict: str, note: str) -> AuditEntry:
    """Mark an end reviewed: upheld (the end was right) or mistaken. The latest review is the status."""
    if verdict not in (AuditEntry.Action.UPHELD, AuditEntry.Action.MISTAKEN):
        raise StaffActionError("Choose upheld or mistaken.")
    if conversation.ended_at is None and conversation.reopened_at is None:
        raise StaffActionError("This conversation has not ended: there is no end to review.")
    return record(actor, verdict, note=_clean_note(note), conversation=conversation)


def reopen_conversation(actor: User, conversation: Conversation, note: str) -> AuditEntry:
    """Reopen a conversation ended by mistake (chat's flow clears the end and keeps it in a staff-action
    event), record it, and tell the user's open tabs once all of it is committed."""
    note = _clean_note(note)
    with transaction.atomic():
        event = flow.reopen_by_staff(actor, conversation, note)
        previous = event.previous_end if event is not None else None
        if event is None or previous is None:
            raise StaffActionError("This conversation is not ended, so it cannot be reopened.")
        # Open tabs get the composer back, once the reopen and its audit entry are committed.
        html = fragments.render_reopened(conversation)
        transaction.on_commit(lambda: async_to_sync(fragments.publish)(conversation, html))
        return record(
            actor,
            AuditEntry.Action.REOPENED,
            note=note,
            conversation=conversation,
            detail={**previous.as_previous_end(), "event_id": event.pk},
        )


def resolve_requests(actor: User, requests: Iterable[UserRequest], note: str) -> int:
    """Resolve open requests with a staff note; already resolved ones are left as they are. Returns how
    many were resolved."""
    note = _clean_note(note)
    resolved = 0
    with transaction.atomic():
        for user_request in requests:
            # Conditional, so two auditors resolving at once make one resolution, not two.
            updated = UserRequest.objects.filter(pk=user_request.pk, status=UserRequest.Status.OPEN).update(
                status=UserRequest.Status.RESOLVED,
                staff_note=note,
                resolved_at=timezone.now(),
                resolved_by=actor,
            )
            if updated:
                record(
                    actor,
                    AuditEntry.Action.REQUEST_RESOLVED,
                    note=note,
                    conversation_id=user_request.conversation_id,
                    user_request=user_request,
                )
                resolved += 1
    return resolved
