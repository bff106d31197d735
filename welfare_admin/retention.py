"""The end of retention: what was kept of deleted accounts for audit (see `accounts.retention`) is removed
BOWOUT_AUDIT_RETENTION_DAYS after the deletion. Here, because only the audit app may remove audit entries."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from accounts.retention import expired_accounts
from chat.models import Conversation
from welfare_admin.models import AuditEntry


@dataclass(frozen=True)
class PurgeResult:
    accounts: int
    conversations: int
    audit_entries: int


def purge_expired(now: datetime | None = None) -> PurgeResult:
    """Remove the conversations (messages, events, requests) of accounts deleted more than
    BOWOUT_AUDIT_RETENTION_DAYS ago, the staff reviews of them, and the account rows."""
    accounts = conversations = entries = 0
    for user in expired_accounts(now):
        with transaction.atomic():
            kept = Conversation.objects.filter(user=user)
            entries += AuditEntry.objects.filter(
                Q(conversation__in=kept) | Q(user_request__conversation__in=kept)
            ).purge()
            conversations += kept.count()
            kept.delete()
            user.erase()
            accounts += 1
    return PurgeResult(accounts, conversations, entries)
