"""One login path: the admin's own login form would bypass allauth's rate limits and lockout (40 wrong
passwords, then a successful superuser login), so /admin/login/ sends people to allauth's form instead."""

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def admin_login(request: HttpRequest) -> HttpResponse:
    target = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return redirect(target)
        # Logged in without staff rights: sending them to log in again would only bring them back here.
        return render(request, "admin/no_access.html", status=403)
    return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")
