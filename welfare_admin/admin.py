"""The staff audit in the Django admin: ended conversations (list, transcript, review, reopen, exports),
user requests (list, resolve) and the audit log. Everything is read-only except the staff actions, which
go through `welfare_admin.audit` and leave an entry each."""

import uuid
from datetime import datetime
from typing import cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, OuterRef, Q
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
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.text import Truncator, smart_split, unescape_string_literal

from chat.models import EndedBy, EndReason, Message, UserRequest
from welfare_admin import audit, exports, permissions, transcript
from welfare_admin.filters import (
    ConversationFilter,
    EndedByFilter,
    FeedbackFilter,
    ReasonFilter,
    ReviewFilter,
    StateFilter,
    TurnsFilter,
)
from welfare_admin.forms import ReopenForm, ResolveForm, ReviewForm
from welfare_admin.models import (
    AuditEntry,
    EndedConversation,
    EndedConversationQuerySet,
    ReviewStatus,
    WelfareRequest,
)


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _label(choices, value: str) -> str:
    return str(choices(value).label) if value in choices.values else "—"


def _transcript_url(conversation_id: uuid.UUID) -> str:
    return reverse("admin:welfare_admin_endedconversation_change", args=[conversation_id])


class SortThenFetchPage(ChangeList):
    """SQLite computes a row's select list (correlated subqueries, joined columns) for every matching row
    before it sorts and applies LIMIT. At 100,000 conversations the annotated first page of ended
    conversations took ~150 ms and the requests list with its joins ~100 ms. So sort and page the bare
    ids, then fetch the page's 100 rows with their annotations and joins: one more query, ~10–30 ms."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        ids = list(self.result_list.values_list("pk", flat=True))
        rows = {row.pk: row for row in self.queryset.order_by().filter(pk__in=ids)}
        # A row deleted between the two queries is simply left out.
        self.result_list = [rows[pk] for pk in ids if pk in rows]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nothing here is added, edited or deleted through forms: staff act only through the audited views."""

    actions: list[str] | None = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


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

    def get_changelist(self, request: HttpRequest, **kwargs):
        return SortThenFetchPage

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
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
            return _when(obj.ended_at)
        return f"{_when(obj.previous_end_at)} (reopened {_when(obj.reopened_at)})"

    @admin.display(description="User", ordering="user__email")
    def user_email(self, obj: EndedConversation) -> str:
        return obj.user.email

    @admin.display(description="Title", ordering="title")
    def title_display(self, obj: EndedConversation) -> str:
        return obj.display_title

    @admin.display(description="Ended by", ordering="end_by")
    def ended_by_display(self, obj: EndedConversation) -> str:
        return _label(EndedBy, obj.end_by)

    @admin.display(description="Reason", ordering="end_why")
    def reason_display(self, obj: EndedConversation) -> str:
        return _label(EndReason, obj.end_why)

    @admin.display(description="Summary or user's note")
    def summary_display(self, obj: EndedConversation) -> str:
        return Truncator(obj.end_note).chars(100)

    @admin.display(description="Turns", ordering="turns")
    def turns_display(self, obj: EndedConversation) -> int:
        return obj.turns

    @admin.display(description="Review", ordering="review")
    def review_display(self, obj: EndedConversation) -> str:
        return _label(ReviewStatus, obj.review)

    @admin.display(description="Feedback", boolean=True, ordering="has_feedback")
    def feedback_display(self, obj: EndedConversation) -> bool:
        return obj.has_feedback

    # --- pages and actions ------------------------------------------------------------------------

    def get_urls(self):
        def wrap(view):
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

    def _get_auditable(self, request: HttpRequest, object_id) -> EndedConversation:
        """The one lookup every page and action of a conversation uses: permission first, then the row.
        A conversation that has not ended is auditable only if a user asked something about it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = uuid.UUID(str(object_id))
        except ValueError:
            raise Http404 from None
        return get_object_or_404(
            EndedConversation.all_conversations.auditable().select_related("user"), pk=pk
        )

    def change_view(
        self, request: HttpRequest, object_id, form_url: str = "", extra_context=None
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
            "end_by": _label(EndedBy, conversation.end_by),
            "end_why": _label(EndReason, conversation.end_why),
            "previous_ended_at": conversation.previous_end_at,
            "review_status": _label(ReviewStatus, conversation.review),
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

    def review_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
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
        return HttpResponseRedirect(_transcript_url(conversation.pk))

    def reopen_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
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
        return HttpResponseRedirect(_transcript_url(conversation.pk))

    def transcript_json_view(self, request: HttpRequest, object_id: uuid.UUID) -> HttpResponse:
        conversation = self._get_auditable(request, object_id)
        data = transcript.as_json(conversation, exported_by=getattr(request.user, "email", ""))
        audit.record(request.user, AuditEntry.Action.TRANSCRIPT_EXPORTED, conversation=conversation)
        response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
        response["Content-Disposition"] = f'attachment; filename="transcript-{conversation.pk}.json"'
        return response

    def export_csv_view(self, request: HttpRequest) -> HttpResponseBase:
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


@admin.register(WelfareRequest)
class WelfareRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "source",
        "user_email",
        "status",
        "end_was_mistake",
        "text_excerpt",
        "conversation_link",
        "staff_note_excerpt",
    ]
    list_display_links = ["created_at", "kind"]
    list_filter = [
        "status",
        "kind",
        "source",
        "end_was_mistake",
        ("created_at", admin.DateFieldListFilter),
        ConversationFilter,
    ]
    list_select_related = ["user", "conversation"]
    list_per_page = 100
    # No date_hierarchy: its year/month links run a Python function per row on SQLite (~160 ms at 6,600
    # requests); the created_at filter covers dates.
    search_fields = ["user__email", "text", "staff_note", "conversation__title"]
    search_help_text = "User email, the request's text, the staff note, or the conversation's title."
    ordering = ["-created_at", "-id"]
    actions = ["resolve_selected"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(permissions.RESOLVE)

    def get_changelist(self, request: HttpRequest, **kwargs):
        return SortThenFetchPage

    @admin.display(description="User", ordering="user__email")
    def user_email(self, obj: WelfareRequest) -> str:
        return obj.user.email

    @admin.display(description="Text")
    def text_excerpt(self, obj: WelfareRequest) -> str:
        return Truncator(obj.text).chars(80)

    @admin.display(description="Staff note")
    def staff_note_excerpt(self, obj: WelfareRequest) -> str:
        return Truncator(obj.staff_note).chars(60)

    @admin.display(description="Conversation")
    def conversation_link(self, obj: WelfareRequest) -> str:
        return format_html(
            '<a href="{}">{}</a>', _transcript_url(obj.conversation.id), obj.conversation.display_title
        )

    @admin.action(description="Resolve selected requests (with a note)", permissions=["resolve"])
    def resolve_selected(self, request: HttpRequest, queryset) -> HttpResponse | None:
        """An intermediate page asks for the note, like the admin's delete confirmation."""
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            resolved = audit.resolve_requests(request.user, queryset, form.cleaned_data["note"])
            skipped = queryset.count() - resolved
            text = f"Resolved {resolved} request{'s' if resolved != 1 else ''}."
            if skipped > 0:
                text += f" {skipped} {'was' if skipped == 1 else 'were'} already resolved."
            messages.success(request, text)
            return None
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Resolve requests",
            "requests": queryset.select_related("user", "conversation"),
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "welfare_admin/resolve_requests.html", context)

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name=f"{name}_resolve",
            ),
            *super().get_urls(),
        ]

    def _get_request(self, request: HttpRequest, object_id) -> WelfareRequest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = int(object_id)
        except (TypeError, ValueError):
            raise Http404 from None
        return get_object_or_404(
            WelfareRequest.objects.select_related("user", "conversation", "resolved_by"), pk=pk
        )

    def change_view(
        self, request: HttpRequest, object_id, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        return self._render_request(request, self._get_request(request, object_id))

    def _render_request(
        self,
        request: HttpRequest,
        user_request: WelfareRequest,
        *,
        form: ResolveForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{user_request.get_kind_display()} from {user_request.user.email}",
            "user_request": user_request,
            "transcript_url": _transcript_url(user_request.conversation_id),
            "audit_entries": AuditEntry.objects.filter(user_request=user_request),
            "can_resolve": self.has_resolve_permission(request)
            and user_request.status == UserRequest.Status.OPEN,
            "form": form or ResolveForm(),
        }
        return TemplateResponse(request, "welfare_admin/request_detail.html", context, status=status)

    def resolve_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        user_request = self._get_request(request, object_id)
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ResolveForm(request.POST)
        if not form.is_valid():
            return self._render_request(request, user_request, form=form, status=400)
        if audit.resolve_requests(request.user, [user_request], form.cleaned_data["note"]):
            messages.success(request, "Resolved.")
        else:
            messages.warning(request, "This request was already resolved.")
        return HttpResponseRedirect(
            reverse("admin:welfare_admin_welfarerequest_change", args=[user_request.pk])
        )


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
            '<a href="{}">{}</a>', _transcript_url(obj.conversation.id), obj.conversation.display_title
        )

    @admin.display(description="Note")
    def note_excerpt(self, obj: AuditEntry) -> str:
        return Truncator(obj.note).chars(80)
