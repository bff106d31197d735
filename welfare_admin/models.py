"""What staff audit: ended conversations and user requests (proxies over chat's tables, so the audit has its
own permissions and admin without touching chat), and the immutable log of every staff action."""

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from django.conf import settings
from django.db import models
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from chat.models import Conversation, ConversationEvent, ConversationQuerySet, End, Message, UserRequest


class ImmutableAuditEntry(Exception):
    """An audit entry is written once and never changed or deleted."""


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableAuditEntry("Audit entries cannot be deleted.")

    def purge(self) -> int:
        """The one deletion path: `welfare_admin.retention` removes the entries about a deleted person's
        conversations once their retention period is over."""
        return models.QuerySet.delete(self)[0]


class AuditEntry(models.Model):
    """One staff action: who, when, what, on which conversation or request, and why (the note).

    Rows are written only by `welfare_admin.audit.record`; `save()` refuses updates and `delete()` refuses
    deletion, and the admin grants view permission only."""

    class Action(models.TextChoices):
        UPHELD = "upheld", "Reviewed: end upheld"
        MISTAKEN = "mistaken", "Reviewed: end was a mistake"
        REOPENED = "reopened", "Reopened"
        REQUEST_RESOLVED = "request_resolved", "Request resolved"
        TRANSCRIPT_EXPORTED = "transcript_exported", "Transcript exported"
        LIST_EXPORTED = "list_exported", "List exported"

    action = models.CharField(max_length=32, choices=Action.choices)
    # Protected: no cascade (a user, a conversation or a request deleted in the shell) can take an entry
    # with it. A deleted account keeps what was audited, detached from the person (accounts.retention).
    conversation = models.ForeignKey(
        Conversation, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    user_request = models.ForeignKey(
        UserRequest, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept as text too, so "who" survives the staff account's deletion.
    actor_email = models.CharField(max_length=254)
    note = models.TextField(blank=True)
    # The end that was reopened, the filters of an export...
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-created_at", "-id"]
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["conversation", "action", "-created_at"], name="audit_conversation_action"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_email}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableAuditEntry("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableAuditEntry("Audit entries cannot be deleted.")


# A conversation's review status is the latest of these entries (a reopen is a review that acted).
REVIEW_ACTIONS = (AuditEntry.Action.UPHELD, AuditEntry.Action.MISTAKEN, AuditEntry.Action.REOPENED)


class ReviewStatus(models.TextChoices):
    UNREVIEWED = "unreviewed", "Not reviewed"
    UPHELD = AuditEntry.Action.UPHELD.value, "Upheld"
    MISTAKEN = AuditEntry.Action.MISTAKEN.value, "Mistaken"
    REOPENED = AuditEntry.Action.REOPENED.value, "Reopened"


# Requests that are the user's say on an end (thumbs-down rate replies, end requests are the end itself).
FEEDBACK_KINDS = (UserRequest.Kind.END_FEEDBACK, UserRequest.Kind.APPEAL)


def _latest_reopen_value(field: str) -> Subquery:
    """A field of the End that staff reopened most recently (chat clears the end on reopen and keeps it
    in the staff-action event)."""
    latest = ConversationEvent.objects.filter(
        conversation=OuterRef("pk"), kind=ConversationEvent.Kind.STAFF_ACTION, detail__action="reopen"
    ).order_by("-created_at", "-id")
    return Subquery(latest.values_list(KT(End.previous_end_lookup(field)))[:1])


# "Has ended" as a range, not IS NOT NULL: SQLite then answers the list's OR (ended, or reopened) from two
# indexes; with IS NOT NULL it scanned the whole table (measured at 100,000 conversations: 28 ms → 1 ms).
EVER = datetime(1970, 1, 1, tzinfo=UTC)


def reopened_conversation_ids() -> models.QuerySet[ConversationEvent, Any]:
    """Conversations staff have reopened, from the staff-action events (indexed by kind) rather than
    chat's `reopened_at` (not indexed)."""
    return ConversationEvent.objects.filter(
        kind=ConversationEvent.Kind.STAFF_ACTION, detail__action="reopen"
    ).values("conversation_id")


def ended_or_reopened() -> Q:
    return Q(ended_at__gt=EVER) | Q(pk__in=reopened_conversation_ids())


class EndedConversationQuerySet(ConversationQuerySet[Any]):
    def for_audit(self) -> "EndedConversationQuerySet":
        """Each row with its end (the current one, or the one staff reopened), turns, feedback and review
        status: correlated subqueries, so a page of 100 costs one query whatever the table size."""
        user_turns = (
            Message.objects.filter(conversation=OuterRef("pk"), role=Message.Role.USER)
            .order_by()
            .values("conversation")
            .annotate(n=Count("pk"))
            .values("n")
        )
        latest_review = (
            AuditEntry.objects.filter(conversation=OuterRef("pk"), action__in=REVIEW_ACTIONS)
            .order_by("-created_at", "-id")
            .values("action")[:1]
        )
        audited = self.annotate(
            end_by=Coalesce(
                NullIf("ended_by", Value("")),
                _latest_reopen_value("by"),
                Value(""),
                output_field=models.CharField(),
            ),
            end_why=Coalesce(
                NullIf("end_reason", Value("")),
                _latest_reopen_value("reason"),
                Value(""),
                output_field=models.CharField(),
            ),
            end_note=Coalesce(
                NullIf("end_summary", Value("")),
                _latest_reopen_value("summary"),
                Value(""),
                output_field=models.TextField(),
            ),
            # ISO text, needed only for reopened rows (whose ended_at is cleared).
            previous_ended_at=Case(When(ended_at__isnull=True, then=_latest_reopen_value("at"))),
            turns=Coalesce(Subquery(user_turns), 0),
            has_feedback=Exists(
                UserRequest.objects.filter(conversation=OuterRef("pk"), kind__in=FEEDBACK_KINDS)
            ),
            review=Coalesce(Subquery(latest_review), Value(ReviewStatus.UNREVIEWED.value)),
        )
        return cast(EndedConversationQuerySet, audited)

    def auditable(self) -> "EndedConversationQuerySet":
        """What an auditor may open: ended or reopened conversations, any other one a user asked
        something about (a thumbs-down in an ongoing chat), and any one where Claude's end was declined."""
        asked = Exists(UserRequest.objects.filter(conversation=OuterRef("pk")))
        declined = Exists(
            ConversationEvent.objects.filter(
                conversation=OuterRef("pk"), kind=ConversationEvent.Kind.END_DECLINED
            )
        )
        return self.filter(ended_or_reopened() | Q(asked) | Q(declined)).for_audit()


_AuditManager = models.Manager.from_queryset(EndedConversationQuerySet)


class EndedConversationManager(_AuditManager["EndedConversation"]):
    def get_queryset(self) -> EndedConversationQuerySet:
        # Reopened conversations stay on the list: the end happened, and its review is part of the audit.
        return cast(EndedConversationQuerySet, super().get_queryset().filter(ended_or_reopened()))


class EndedConversation(Conversation):
    """The ended (or ended and reopened) conversations, as auditors see them."""

    objects: ClassVar[EndedConversationManager] = EndedConversationManager()
    # Every conversation, for the transcript page (see `auditable`).
    all_conversations = _AuditManager()

    # Annotated by EndedConversationQuerySet.for_audit(): the list, the transcript and the exports read them.
    previous_ended_at: str | None  # ISO 8601, from the reopen event's JSON: read `previous_end_at`
    end_by: str
    end_why: str
    end_note: str
    turns: int
    review: str
    has_feedback: bool

    @property
    def previous_end_at(self) -> datetime | None:
        """When the end staff reopened happened (a reopened row's own `ended_at` is cleared)."""
        return datetime.fromisoformat(self.previous_ended_at) if self.previous_ended_at else None

    class Meta:
        proxy = True
        verbose_name = "ended conversation"
        default_permissions = ("view",)
        permissions = [
            ("review_conversation", "Can review ended conversations (upheld or mistaken)"),
            ("reopen_conversation", "Can reopen a conversation ended by mistake"),
        ]


class WelfareRequest(UserRequest):
    """What users asked of Bowout: end requests, feedback on ends, thumbs-down, appeals."""

    class Meta:
        proxy = True
        verbose_name = "user request"
        default_permissions = ("view",)
        permissions = [("resolve_request", "Can resolve user requests")]
