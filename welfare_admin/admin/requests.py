"""What users asked of Bowout or its staff: the list, one request, resolving them."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.models import AuthenticatedHttpRequest
from chat.models import UserRequest
from welfare_admin import audit, permissions
from welfare_admin.admin.base import ReadOnlyAdmin, SortThenFetchPage, transcript_url
from welfare_admin.filters import ConversationFilter
from welfare_admin.forms import ResolveForm
from welfare_admin.models import AuditEntry, WelfareRequest


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

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
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
            '<a href="{}">{}</a>', transcript_url(obj.conversation.id), obj.conversation.display_title
        )

    @admin.action(description="Resolve selected requests (with a note)", permissions=["resolve"])
    def resolve_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[WelfareRequest]
    ) -> HttpResponse | None:
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

    def get_urls(self) -> list[URLPattern]:
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name=f"{name}_resolve",
            ),
            *super().get_urls(),
        ]

    def _get_request(self, request: HttpRequest, object_id: object) -> WelfareRequest:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = int(str(object_id))
        except (TypeError, ValueError):
            raise Http404 from None
        return get_object_or_404(
            WelfareRequest.objects.select_related("user", "conversation", "resolved_by"), pk=pk
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
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
            "transcript_url": transcript_url(user_request.conversation_id),
            "audit_entries": AuditEntry.objects.filter(user_request=user_request),
            "can_resolve": self.has_resolve_permission(request)
            and user_request.status == UserRequest.Status.OPEN,
            "form": form or ResolveForm(),
        }
        return TemplateResponse(request, "welfare_admin/request_detail.html", context, status=status)

    def resolve_view(self, request: AuthenticatedHttpRequest, object_id: int) -> HttpResponse:
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
