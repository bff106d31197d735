"""The site's one address. Django and allauth build links and keys from the request's Host header, whose
port ALLOWED_HOSTS does not check: a visitor naming another port got password-reset links to that port
and a login lockout of its own per port. With BOWOUT_SITE_URL set, every request is taken as addressed
to that host (and its port), whatever Host it sent."""

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse


def canonical_host(site_url: str) -> str:
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ImproperlyConfigured(f"BOWOUT_SITE_URL must be like https://chat.example.com; got {site_url!r}")
    return parts.netloc


class SiteUrlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.BOWOUT_SITE_URL:
            request.META["HTTP_HOST"] = canonical_host(settings.BOWOUT_SITE_URL)
            request.META.pop("HTTP_X_FORWARDED_HOST", None)
            request.META.pop("HTTP_X_FORWARDED_PORT", None)
        return self.get_response(request)
