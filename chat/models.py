import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone


class ConversationQuerySet(models.QuerySet):  # generic in the stubs; subclassed per model by welfare_admin
    def for_user(self, user: AbstractBaseUser | AnonymousUser) -> "ConversationQuerySet":
        """The conversations a user may see: their own, not deleted."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user, deleted_at__isnull=True)

    def recent_first(self) -> "ConversationQuerySet":
        return self.order_by("-updated_at", "-created_at")

    def for_sidebar(self) -> "ConversationQuerySet":
        """The chat list: archived chats left out, pinned ones first (latest pinned on top), then recent."""
        return self.filter(archived_at__isnull=True).order_by(
            models.F("pinned_at").desc(nulls_last=True), "-updated_at", "-created_at"
        )

    def archived(self) -> "ConversationQuerySet":
        return self.filter(archived_at__isnull=False).order_by("-archived_at")


class EndedBy(models.TextChoices):
    ASSISTANT = "assistant", "Claude"
    USER = "user", "User"


class EndReason(models.TextChoices):
    ABUSIVE_USER = "abusive_user", "Persistently abusive or harmful messages"
    USER_REQUESTED = "user_requested", "The user asked to end it"


# An ended conversation's columns, and the keys of an End kept as JSON in a reopen event (stored data: the
# keys are the column names, so events written before the End type read the same).
_END_COLUMNS = {"at": "ended_at", "by": "ended_by", "reason": "end_reason", "summary": "end_summary"}
# Where a staff reopen event keeps the end it cleared.
_PREVIOUS_END = "previous_end"


@dataclass(frozen=True)
class End:
    """One end of a conversation, whatever its cause (Claude, Claude at the user's request, End chat).

    The one typed value of an end, as healthchecks keeps a Flip per status change: `Conversation.end`
    writes the conversation's end columns and the end's event from it, a staff reopen keeps it in the
    reopen event, and everything that reports on ends reads it back through `End.of`,
    `ConversationEvent.previous_end` or `End.previous_end_lookup` (docs/architecture.md, "An end")."""

    by: str  # EndedBy
    reason: str  # EndReason
    summary: str  # Claude's sentence for auditors, or the user's optional note
    at: datetime

    @classmethod
    def of(cls, conversation: "Conversation") -> "End | None":
        """The conversation's current end, None while it is open."""
        if conversation.ended_at is None:
            return None
        return cls(
            conversation.ended_by, conversation.end_reason, conversation.end_summary, conversation.ended_at
        )

    @classmethod
    def from_json(cls, data: object) -> "End | None":
        if not isinstance(data, Mapping) or not data.get("ended_at"):
            return None
        return cls(
            by=str(data.get("ended_by", "")),
            reason=str(data.get("end_reason", "")),
            summary=str(data.get("end_summary", "")),
            at=datetime.fromisoformat(str(data["ended_at"])),
        )

    def as_json(self) -> dict[str, str]:
        return {
            _END_COLUMNS["at"]: self.at.isoformat(),
            _END_COLUMNS["by"]: self.by,
            _END_COLUMNS["reason"]: self.reason,
            _END_COLUMNS["summary"]: self.summary,
        }

    def as_previous_end(self) -> dict[str, Any]:
        """The end as a reopen's records keep it (the event's and the audit entry's detail)."""
        return {_PREVIOUS_END: self.as_json()}

    def columns(self) -> dict[str, Any]:
        """What the end writes on the conversation row (the guard every write path checks is `ended_at`)."""
        return {column: getattr(self, name) for name, column in _END_COLUMNS.items()} | {
            "updated_at": self.at
        }

    @staticmethod
    def cleared_columns(at: datetime) -> dict[str, Any]:
        """What a staff reopen writes: the end cleared (it lives on in the reopen event), the reopen dated."""
        return {
            "ended_at": None,
            "ended_by": "",
            "end_reason": "",
            "end_summary": "",
            "reopened_at": at,
            "updated_at": at,
        }

    @property
    def event_kind(self) -> str:
        return (
            ConversationEvent.Kind.USER_END
            if self.by == EndedBy.USER
            else ConversationEvent.Kind.END_HONOURED
        )

    def event_detail(self, **extra: Any) -> dict[str, Any]:
        """The end's event as auditors read it in the transcript: the user's note, or Claude's reason and
        summary (with what the policy and the second check recorded, passed as `extra`)."""
        if self.by == EndedBy.USER:
            return {"note": self.summary, **extra}
        return {"reason": self.reason, "summary": self.summary, **extra}

    @staticmethod
    def previous_end_lookup(field: str) -> str:
        """The ORM lookup, from a staff reopen event, of one field of the end it cleared (for annotations)."""
        return f"detail__{_PREVIOUS_END}__{_END_COLUMNS[field]}"


class Conversation(models.Model):
    TITLE_MAX_LENGTH = 120

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Last activity; the sidebar lists the most recently used chat first.
    updated_at = models.DateTimeField(default=timezone.now)
    # Deleting hides a chat from its owner; the row stays for audit.
    deleted_at = models.DateTimeField(null=True, blank=True)

    # Once set, nothing more may be written: every write path checks it inside its transaction.
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_by = models.CharField(max_length=16, choices=EndedBy.choices, blank=True)
    end_reason = models.CharField(max_length=32, choices=EndReason.choices, blank=True)
    # Claude's one sentence for auditors, or the user's optional reason.
    end_summary = models.TextField(blank=True)
    # Set when staff reopen a conversation ended by mistake; the end itself stays in the events.
    reopened_at = models.DateTimeField(null=True, blank=True)

    # Organising one's chats (never a write to the conversation itself, so allowed after an end too).
    pinned_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    # The model chosen for this chat's replies (one of BOWOUT_MODELS); blank: the default, BOWOUT_MODEL.
    model = models.CharField(max_length=100, blank=True)

    # A branch: a new conversation made by editing a message of another one.
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="branches"
    )

    objects = ConversationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_user_recent")]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or "New chat"

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    @property
    def group_name(self) -> str:
        """The channel-layer group every open tab of this conversation listens on (plain ASCII)."""
        return f"conversation.{self.id.hex}"

    def end(
        self,
        end: End,
        *,
        message: "Message | None" = None,
        actor: Any = None,
        detail: Mapping[str, Any] | None = None,
    ) -> bool:
        """End the conversation unless it has ended already, for every cause: the conversation's end
        columns and the end's event are written from `end`, in one transaction. The UPDATE is
        conditional, so of two racing ends the first stands (the second writes nothing). True if this
        call ended it. The instance is refreshed either way."""
        with transaction.atomic():
            ended = Conversation.objects.filter(pk=self.pk, ended_at__isnull=True).update(**end.columns())
            if ended:
                ConversationEvent.objects.create(
                    conversation=self,
                    message=message,
                    kind=end.event_kind,
                    actor=actor,
                    detail=end.event_detail(**(detail or {})),
                    created_at=end.at,
                )
        self.refresh_from_db()
        return bool(ended)

    def crisis_signals(self) -> tuple[str, ...]:
        """Every crisis signal recorded in this conversation, each once: the welfare policy's guard
        remembers them for the whole conversation, including messages the model is no longer sent."""
        found: dict[str, None] = {}
        for detail in self.events.filter(kind=ConversationEvent.Kind.CRISIS_DETECTED).values_list(
            "detail", flat=True
        ):
            found.update(dict.fromkeys(detail.get("crisis_terms") or ["crisis"]))
        return tuple(found)

    def reopen(self, *, actor: Any, note: str, at: datetime | None = None) -> "ConversationEvent | None":
        """Clear the end (staff found it mistaken) and record it: the staff-action event keeps the end
        that was cleared. None if the conversation was not ended. The row is locked while it is read
        and cleared."""
        at = at or timezone.now()
        with transaction.atomic():
            locked = (
                Conversation.objects.select_for_update().filter(pk=self.pk, ended_at__isnull=False).first()
            )
            previous = End.of(locked) if locked is not None else None
            if previous is None:
                return None
            Conversation.objects.filter(pk=self.pk).update(**End.cleared_columns(at))
            event = ConversationEvent.objects.create(
                conversation=self,
                kind=ConversationEvent.Kind.STAFF_ACTION,
                actor=actor,
                detail=ConversationEvent.reopen_detail(note, previous),
                created_at=at,
            )
        self.refresh_from_db()
        return event

    def drop_title_from(self, text: str) -> bool:
        """A message whose reply failed does not name the chat: clear a title made from `text` (a rename
        stays), so the next message sent names it. True if the title was cleared."""
        cleared = Conversation.objects.filter(pk=self.pk, title=self.title_from_text(text)).update(title="")
        if cleared:
            self.title = ""
        return bool(cleared)

    @staticmethod
    def title_from_text(text: str) -> str:
        words = " ".join(text.split())
        if len(words) <= 60:
            return words
        return words[:57].rsplit(" ", 1)[0] + "…"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "You"
        ASSISTANT = "assistant", "Claude"

    class Status(models.TextChoices):
        STREAMING = "streaming", "Writing"
        COMPLETE = "complete", "Complete"
        STOPPED = "stopped", "Stopped"
        INTERRUPTED = "interrupted", "Interrupted"
        FAILED = "failed", "Failed"
        # Stopped by Claude's safety systems (stop_reason "refusal"): never sent to the model again.
        REFUSED = "refused", "Refused"

    INTERRUPTED_ERROR = "This reply was interrupted. You can retry it."
    # A reply whose worker stopped (crash, kill, restart) while writing it; see chat/workers.py.
    WRITER_GONE_ERROR = "Bowout restarted while Claude was writing — Retry"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    # Made by the browser for each send, so a resend after a reconnect is not a second message.
    client_id = models.UUIDField(null=True, blank=True)
    content = models.TextField(blank=True)
    # Sanitized HTML, rendered from Markdown once when a reply is finished.
    content_html = models.TextField(blank=True)
    # The API messages of one assistant reply (text, tool use, tool results), replayed as history.
    api_messages = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    stop_reason = models.CharField(max_length=32, blank=True)
    # What the user is told when a reply failed or broke off.
    error = models.CharField(max_length=300, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    # Prompt caching: input tokens read from the cache and written to it (both also bill differently).
    cache_read_tokens = models.PositiveIntegerField(null=True, blank=True)
    cache_creation_tokens = models.PositiveIntegerField(null=True, blank=True)
    # The API's stop_details, e.g. a refusal's category and explanation.
    stop_details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    # Regenerate keeps every version of a reply; the one the user is looking at is shown and sent to the
    # model as history, the others wait to be paged to (‹ 1/2 ›).
    version_shown = models.BooleanField(default=True)
    # While streaming: the worker writing this reply and its latest sign of life (chat/workers.py).
    writer = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(default=timezone.now, null=True, blank=True)

    # The viewer's own rating, set for display by chat.fragments.messages_for_display (not a column).
    my_rating: str
    # Also set there: whether a later message follows (only the last reply can be regenerated), and for a
    # regenerated reply the ids of all its versions and which one this is (‹ 2/3 ›).
    followed: bool = False
    versions: list[int] = []  # noqa: RUF012  # read only; a list per message is set by the display code
    version_number: int = 0
    previous_version: int | None = None
    next_version: int | None = None

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["conversation", "role"], name="message_conversation_role")]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_unique_client_id",
            ),
            # One reply at a time per conversation, guaranteed by the database itself.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status="streaming"),
                name="message_one_streaming_reply",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.content[:50]}"

    @property
    def is_user(self) -> bool:
        return self.role == self.Role.USER

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def refusal_explanation(self) -> str:
        details = self.stop_details if isinstance(self.stop_details, dict) else {}
        return str(details.get("explanation") or "")

    # What a copy of a message never takes from the original: its own row, conversation and resend id.
    NOT_COPIED = frozenset({"id", "conversation", "client_id"})

    def copy_to(self, conversation: Conversation) -> "Message":
        """An unsaved copy of this message in another conversation (a branch): every other field kept, so
        a field added to Message is copied without anyone remembering to."""
        values = {
            f.attname: getattr(self, f.attname)
            for f in self._meta.concrete_fields
            if f.name not in self.NOT_COPIED
        }
        return Message(conversation=conversation, **values)

    @property
    def can_regenerate(self) -> bool:
        """A finished reply may be written again (Retry is for one that failed or broke off; a refused
        exchange is never sent again)."""
        return self.role == self.Role.ASSISTANT and self.status in (self.Status.COMPLETE, self.Status.STOPPED)

    @property
    def reasoning(self) -> str:
        """The thinking (or its summaries) the model returned with this reply: never shown to the user as
        its words, and shown to staff labelled as reasoning."""
        parts = [
            block["thinking"].strip()
            for turn in self.api_messages or []
            if isinstance(turn, dict)
            and turn.get("role") == "assistant"
            and isinstance(turn.get("content"), list)
            for block in turn["content"]
            if isinstance(block, dict)
            and block.get("type") == "thinking"
            and isinstance(block.get("thinking"), str)
        ]
        return "\n\n".join(part for part in parts if part)

    @property
    def non_claude_model(self) -> str:
        """The configured model's name when it is not a Claude (another server, a LiteLLM proxy), else "":
        a refusal then names that model's safety systems, not Claude's. From the configured name, not the
        stream's: LiteLLM's adapter says "claude-3-5-sonnet-20240620" in every message_start."""
        name = self.model_name.strip()
        return "" if not name or "claude" in name.lower() else name

    # Words in an error sentence (chat/claude.py) saying a retry cannot help: no Retry is offered beside them.
    NO_RETRY_WORDS = ("retrying will not help", "retrying is unlikely to help")

    @property
    def can_retry(self) -> bool:
        return (
            self.role == self.Role.ASSISTANT
            and self.status in (self.Status.FAILED, self.Status.INTERRUPTED)
            and not any(words in self.error for words in self.NO_RETRY_WORDS)
        )


class ConversationEvent(models.Model):
    """Something an auditor needs to see in line with the transcript. Never edited after it is written."""

    class Kind(models.TextChoices):
        END_CONFIRM_REQUESTED = "end_confirm_requested", "Claude asked to end; asked to confirm"
        END_HONOURED = "end_honoured", "Claude ended the conversation"
        END_DECLINED = "end_declined", "Claude's end was declined"
        CRISIS_DETECTED = "crisis_detected", "Crisis signals; support shown"
        USER_END = "user_end", "The user ended the conversation"
        STAFF_ACTION = "staff_action", "Staff action"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    # The end tool's input, the decline cause, matched crisis terms, a staff note...
    detail = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["kind", "created_at"], name="event_kind_created")]

    def __str__(self) -> str:
        return self.get_kind_display()

    @staticmethod
    def reopen_detail(note: str, previous: End) -> dict[str, Any]:
        return {"action": "reopen", "note": note, **previous.as_previous_end()}

    @property
    def previous_end(self) -> End | None:
        """For a staff reopen: the end it cleared."""
        detail = self.detail if isinstance(self.detail, dict) else {}
        return End.from_json(detail.get(_PREVIOUS_END))


class UserRequest(models.Model):
    """What a user asked of Bowout or its staff: to end a chat, feedback on an end, a thumbs-down, an appeal."""

    class Kind(models.TextChoices):
        END_REQUEST = "end_request", "End request"
        END_FEEDBACK = "end_feedback", "Feedback on an end"
        THUMBS_DOWN = "thumbs_down", "Thumbs-down on a reply"
        APPEAL = "appeal", "Appeal"

    class Source(models.TextChoices):
        BUTTON = "button", "End chat button"
        ASKED_CLAUDE = "asked_claude", "Asked Claude"
        FORM = "form", "Form"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="requests")
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.FORM)
    text = models.TextField(blank=True)
    # For feedback on an end: the user says the end was a mistake.
    end_was_mistake = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    staff_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "kind", "-created_at"], name="request_status_kind")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


class MessageRating(models.Model):
    class Rating(models.TextChoices):
        UP = "up", "Thumbs up"
        DOWN = "down", "Thumbs down"

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    rating = models.CharField(max_length=8, choices=Rating.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user"], name="rating_one_per_user")]

    def __str__(self) -> str:
        return self.get_rating_display()
