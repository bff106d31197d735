"""What deleting an account does: the one rule, used by the account page, the admin and the shell.

The person's data goes: their email, name, password, email addresses, sessions, and every conversation
that staff have no reason to audit. What staff need to audit ends stays — conversations that were ended
(or ended and reopened) or that the person asked staff about (an end request, feedback on an end, an
appeal, a thumbs-down) — with their messages, events, requests and reviews, because a review of an end is
only possible with its transcript. Those are exactly the conversations staff can act on in the audit area,
so every audit entry stays attached (and the audit entries' PROTECT refuses a deletion that would not). It stays detached from the person: the account row keeps no name
or email ("deleted-<id>@deleted.invalid"), cannot log in, and is only the anchor that holds those
conversations together. BOWOUT_AUDIT_RETENTION_DAYS after the deletion, `manage.py purge_expired_audit`
(welfare_admin.retention, which owns the audit entries) removes all of it, the anchor included.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from chat.models import Conversation, Message, UserRequest


class Person(Protocol):
    """`accounts.models.User`, which this module cannot import (its delete() calls this module): what the
    rule uses of it."""

    pk: Any

    def erase(self) -> None: ...

    def detach(self, now: datetime) -> None: ...


def kept_for_audit() -> Q:
    """The conversations that outlive their owner's account, for the retention period: the ones the audit
    area lists (`EndedConversation...auditable()`), so staff never lose one they could open."""
    asked = UserRequest.objects.filter(conversation=OuterRef("pk"))
    return Q(ended_at__isnull=False) | Q(reopened_at__isnull=False) | Q(Exists(asked))


@dataclass(frozen=True)
class DeletionPlan:
    """What deleting an account will do (or did), in the words the confirmation pages use."""

    deleted_conversations: int
    kept_conversations: int
    retention_days: int

    @property
    def kept_until(self) -> date:
        return (timezone.now() + timedelta(days=self.retention_days)).date()

    def describe(self) -> list[str]:
        lines = [
            "The email address, name and password of the account, and its sign-ins, are deleted.",
            f"{self.deleted_conversations} conversation{'s' if self.deleted_conversations != 1 else ''} "
            "with all their messages are deleted.",
        ]
        if self.kept_conversations:
            lines.append(
                f"{self.kept_conversations} conversation{'s' if self.kept_conversations != 1 else ''} that "
                "ended or that staff were asked to review are kept for staff to audit, without name or email, "
                f"for {self.retention_days} days (until {self.kept_until:%d %B %Y}), then removed."
            )
        return lines


def plan(user: Person) -> DeletionPlan:
    conversations = Conversation.objects.filter(user_id=user.pk)
    kept = conversations.filter(kept_for_audit()).count()
    return DeletionPlan(
        deleted_conversations=conversations.count() - kept,
        kept_conversations=kept,
        retention_days=settings.BOWOUT_AUDIT_RETENTION_DAYS,
    )


def delete_account(user: Person) -> DeletionPlan:
    """Apply the rule. Running it again on an already deleted account changes nothing more."""
    with transaction.atomic():
        done = plan(user)
        now = timezone.now()
        conversations = Conversation.objects.filter(user_id=user.pk)
        # A reply being written must not go on writing into a deleted (or an audited) conversation.
        Message.objects.filter(conversation__in=conversations, status=Message.Status.STREAMING).update(
            status=Message.Status.STOPPED, updated_at=now
        )
        conversations.exclude(kept_for_audit()).delete()
        conversations.filter(deleted_at__isnull=True).update(deleted_at=now)
        EmailAddress.objects.filter(user=user).delete()
        if not conversations.exists():
            user.erase()
            return done
        user.detach(now)
    return done


def expired_accounts(now: datetime | None = None) -> QuerySet[Any]:
    """Deleted accounts whose retention period is over (welfare_admin.retention purges them)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.BOWOUT_AUDIT_RETENTION_DAYS)
    return get_user_model().objects.filter(deleted_at__lt=cutoff)
