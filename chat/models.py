import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ConversationQuerySet(models.QuerySet):
    def for_user(self, user) -> "ConversationQuerySet":
        """The conversations a user may see: their own, not deleted."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user, deleted_at__isnull=True)

    def recent_first(self) -> "ConversationQuerySet":
        return self.order_by("-updated_at", "-created_at")


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

    objects = ConversationQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_user_recent")]

    def __str__(self) -> str:
        return self.display_title

    @property
    def display_title(self) -> str:
        return self.title or "New chat"

    @property
    def group_name(self) -> str:
        """The channel-layer group every open tab of this conversation listens on (plain ASCII)."""
        return f"conversation.{self.id.hex}"

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

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=16, choices=Role.choices)
    # Made by the browser for each send, so a resend after a reconnect is not a second message.
    client_id = models.UUIDField(null=True, blank=True)
    content = models.TextField(blank=True)
    # Sanitized HTML, rendered from Markdown once when a reply is finished.
    content_html = models.TextField(blank=True)
    # The API messages of one assistant reply (text, tool use, tool results), replayed as history.
    turns = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    stop_reason = models.CharField(max_length=32, blank=True)
    # What the user is told when a reply failed or broke off.
    error = models.CharField(max_length=300, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
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
    def can_retry(self) -> bool:
        return self.role == self.Role.ASSISTANT and self.status in (self.Status.FAILED, self.Status.INTERRUPTED)
