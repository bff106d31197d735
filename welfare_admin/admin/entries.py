"""The audit log: every staff action, read-only."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.text import Truncator

from welfare_admin.admin.base import ReadOnlyAdmin, transcript_url
from welfare_admin.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "actor_email",
        "action",
        "conversation_link",
        "user_request",
        "note_excerpt",
    ]
    list_filter = ["action", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["conversation", "user_request"]
    list_per_page = 100
    date_hierarchy = "created_at"
    search_fields = ["actor_email", "note"]
    fields = ["created_at", "actor_email", "action", "conversation", "user_request", "note", "detail"]

    @admin.display(description="Conversation")
    def conversation_link(self, obj: AuditEntry) -> str:
        if obj.conversation is None:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', transcript_url(obj.conversation.id), obj.conversation.display_title
        )

    @admin.display(description="Note")
    def note_excerpt(self, obj: AuditEntry) -> str:
        return Truncator(obj.note).chars(80)
