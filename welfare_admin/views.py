"""The welfare dashboard at /admin/welfare/ (wrapped in admin_view by urls.py: staff only)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from welfare_admin import charts, permissions
from welfare_admin.dashboard import END_SERIES, welfare_stats


def dashboard(request: HttpRequest) -> HttpResponse:
    if not permissions.can_audit(request.user):
        raise PermissionDenied
    stats = welfare_stats()
    started_chart = charts.stacked_bars(
        "Conversations started per day",
        f"{stats.started_total:,} conversations started from {stats.first_day:%-d %B} to {stats.last_day:%-d %B}.",
        stats.days,
        [charts.Series("started", "Started", stats.started)],
        "bar-",
    )
    ended_chart = charts.stacked_bars(
        "Conversations ended per day, by who and why",
        f"{stats.ends_total:,} ends from {stats.first_day:%-d %B} to {stats.last_day:%-d %B}, "
        f"{stats.claude_ends:,} of them by Claude.",
        stats.days,
        [charts.Series(key, label, stats.ended[key]) for key, label in END_SERIES],
        "bar-",
    )
    context = {
        **admin.site.each_context(request),
        "title": "Welfare dashboard",
        "subtitle": f"Last 30 days: {stats.first_day:%-d %B %Y} to {stats.last_day:%-d %B %Y}",
        "stats": stats,
        "charts": [started_chart, ended_chart],
        "can_view_requests": request.user.has_perm(permissions.VIEW_REQUESTS),
    }
    return TemplateResponse(request, "welfare_admin/dashboard.html", context)
