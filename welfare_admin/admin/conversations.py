"""Ended conversations: the list, the transcript, review and reopen, the JSON and CSV exports."""

import uuid
from collections.abc import Callable
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.text import Truncator, smart_split, unescape_string_literal

from accounts.models import AuthenticatedHttpRequest
from chat.models import EndedBy, EndReason, Message
from welfare_admin import audit, exports, permissions, transcript
from welfare_admin.admin.base import ReadOnlyAdmin, SortThenFetchPage, label, transcript_url, when
from welfare_admin.filters import (
    EndedByFilter,
    FeedbackFilter,
    ReasonFilter,
    ReviewFilter,
    StateFilter,
    TurnsFilter,
)
from welfare_admin.forms import ReopenForm, ReviewForm
from welfare_admin.models import AuditEntry, EndedConversation, EndedConversationQuerySet, ReviewStatus


@admin.register(EndedConversation)
class EndedConversationAdmin(ReadOnlyAdmin):
    list_display = [
        "ended",
        "user_email",
        "title_display",
        "ended_by_display",
        "reason_display",
        "summary_display",
        "turns_display",
        "review_display",
        "feedback_display",
    ]
    list_display_links = ["title_display"]
    list_filter = [
        EndedByFilter,
        ReasonFilter,
        ReviewFilter,
        FeedbackFilter,
        TurnsFilter,
        StateFilter,
        ("ended_at", admin.DateFieldListFilter),
    ]
    list_select_related = ["user"]
    list_per_page = 100
    date_hierarchy = "ended_at"
    # Searched by get_search_results below (message text too); listed so the admin shows the search box.
    search_fields = ["user__email", "title", "end_summary"]
    search_help_text = "User email, title, Claude's summary, or any message's text."
    # Reopened conversations (no current end) come last; the "state" filter finds them. Nulls are placed
    # explicitly: PostgreSQL sorts them first in a descending order, SQLite last.
    ordering = [F("ended_at").desc(nulls_last=True), F("reopened_at").desc(nulls_last=True)]
    change_list_template = "welfare_admin/ended_change_list.html"

    def get_queryset(self, request: HttpRequest) -> EndedConversationQuerySet:
        # The model's manager makes this queryset; the admin's stubs only know a plain QuerySet.
        return cast(EndedConversationQuerySet, super().get_queryset(request)).for_audit()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return SortThenFetchPage

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Every word must match the email, title, summary or some message; Exists keeps one row per
        conversation however many messages match."""
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            if not bit:
                continue
            in_messages = Message.objects.filter(conversation=OuterRef("pk"), content__icontains=bit)
            queryset = queryset.filter(
                Q(user__email__icontains=bit)
                | Q(title__icontains=bit)
                | Q(end_note__icontains=bit)
                | Q(Exists(in_messages))
            )
        return queryset, False

    # --- columns ----------------------------------------------------------------------------------

    @admin.display(description="Ended", ordering="ended_at")
    def ended(self, obj: EndedConversation) -> str:
        if obj.ended_at:
            return when(obj.ended_at)
        return f"{when(obj.previous_end_at)} (reopened {when(obj.reopened_at)})"

    @admin.display(description="User", ordering="user__email")
    def user_email(self, obj: EndedConversation) -> str:
        return obj.user.email

    @admin.display(description="Title", ordering="title")
    def title_display(self, obj: EndedConversation) -> str:
        return obj.display_title

    @admin.display(description="Ended by", ordering="end_by")
    def ended_by_display(self, obj: EndedConversation) -> str:
        return label(EndedBy, obj.end_by)

    @admin.display(description="Reason", ordering="end_why")
    def reason_display(self, obj: EndedConversation) -> str:
        return label(EndReason, obj.end_why)

    @admin.display(description="Summary or user's note")
    def summary_display(self, obj: EndedConversation) -> str:
        return Truncator(obj.end_note).chars(100)

    @admin.display(description="Turns", ordering="turns")
    def turns_display(self, obj: EndedConversation) -> int:
        return obj.turns

    @admin.display(description="Review", ordering="review")
    def review_display(self, obj: EndedConversation) -> str:
        return label(ReviewStatus, obj.review)

    @admin.display(description="Feedback", boolean=True, ordering="has_feedback")
    def feedback_display(self, obj: EndedConversation) -> bool:
        return obj.has_feedback

    # --- pages and actions ------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
            return self.admin_site.admin_view(view)

        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("export.csv", wrap(self.export_csv_view), name=f"{name}_export_csv"),
            path("<uuid:object_id>/review/", wrap(self.review_view), name=f"{name}_review"),
            path("<uuid:object_id>/reopen/", wrap(self.reopen_view), name=f"{name}_reopen"),
            path(
                "<uuid:object_id>/transcript.json",
                wrap(self.transcript_json_view),
                name=f"{name}_transcript_json",
            ),
            *super().get_urls(),
        ]

    def _get_auditable(self, request: HttpRequest, object_id: object) -> EndedConversation:
        """The one lookup every page and action of a conversation uses: permission first, then the row.
        A conversation that has not ended is auditable only if a user asked something about it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = uuid.UUID(str(object_id))
        except ValueError:
            raise Http404 from None
        auditable = EndedConversation.all_conversations.auditable().select_related("user")
        return cast(EndedConversation, get_object_or_404(auditable, pk=pk))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        conversation = self._get_auditable(request, object_id)
        return self._render_transcript(request, conversation)

    def _render_transcript(
        self,
        request: HttpRequest,
        conversation: EndedConversation,
        *,
        review_form: ReviewForm | None = None,
        reopen_form: ReopenForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        user = request.user
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": conversation.display_title,
            "subtitle": "Transcript",
            "conversation": conversation,
            "end_by": label(EndedBy, conversation.end_by),
            "end_why": label(EndReason, conversation.end_why),
            "previous_ended_at": conversation.previous_end_at,
            "review_status": label(ReviewStatus, conversation.review),
            "timeline": transcript.timeline(conversation),
            "audit_entries": AuditEntry.objects.filter(conversation=conversation),
            "can_review": user.has_perm(permissions.REVIEW)
            and (conversation.is_ended or conversation.reopened_at is not None),
            "can_reopen": user.has_perm(permissions.REOPEN) and conversation.is_ended,
            "review_form": review_form or ReviewForm(),
            "reopen_form": reopen_form or ReopenForm(),
            "requests_url": reverse("admin:welfare_admin_welfarerequest_changelist")
            + f"?conversation={conversation.pk}",
        }
        return TemplateResponse(request, "welfare_admin/transcript.html", context, status=status)

    def review_view(self, request: AuthenticatedHttpRequest, object_id: uuid.UUID) -> HttpResponse:
        conversation = self._get_auditable(request, object_id)
        if not request.user.has_perm(permissions.REVIEW):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ReviewForm(request.POST)
        if not form.is_valid():
            return self._render_transcript(request, conversation, review_form=form, status=400)
        try:
            entry = audit.review_conversation(
                request.user, conversation, form.cleaned_data["verdict"], form.cleaned_data["note"]
            )
        except audit.StaffActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Recorded: {entry.get_action_display()}.")
        return HttpResponseRedirect(transcript_url(conversation.pk))

    def reopen_view(self, request: AuthenticatedHttpRequest, object_id: uuid.UUID) -> HttpResponse:
        conversation = self._get_auditable(request, object_id)
        if not request.user.has_perm(permissions.REOPEN):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ReopenForm(request.POST)
        if not form.is_valid():
            return self._render_transcript(request, conversation, reopen_form=form, status=400)
        try:
            audit.reopen_conversation(request.user, conversation, form.cleaned_data["note"])
        except audit.StaffActionError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, "Reopened. The user can continue the conversation and is told staff reopened it."
            )
        return HttpResponseRedirect(transcript_url(conversation.pk))

    def transcript_json_view(self, request: AuthenticatedHttpRequest, object_id: uuid.UUID) -> HttpResponse:
        conversation = self._get_auditable(request, object_id)
        data = transcript.as_json(conversation, exported_by=getattr(request.user, "email", ""))
        audit.record(request.user, AuditEntry.Action.TRANSCRIPT_EXPORTED, conversation=conversation)
        response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="transcript-{conversation.pk}.json"'
        return response

    def export_csv_view(self, request: AuthenticatedHttpRequest) -> HttpResponseBase:
        """The changelist's rows as it is filtered, searched and ordered now (its query string), all pages."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters are not valid.")
        audit.record(request.user, AuditEntry.Action.LIST_EXPORTED, detail={"query": request.GET.urlencode()})
        rows = changelist.queryset.iterator(chunk_size=2000)
        response = StreamingHttpResponse(exports.csv_lines(rows), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="ended-conversations-{stamp}.csv"'
        return response
