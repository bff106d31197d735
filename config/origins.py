"""The websocket origin check, held to the same standard as Django's CSRF origin check.

Channels' AllowedHostsOriginValidator compares the host only, so a page served on another port or scheme
of the same host (another app on :8080, plain http next to https) could open a socket with the user's
cookie, read a transcript and post into it. Here the browser's Origin must be the site's own origin
(scheme, host and port of the request, with the host in ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

Scope = dict[str, Any]
# An ASGI application; its receive and send callables are passed through untouched.
App = Callable[..., Awaitable[None]]

logger = logging.getLogger("bowout.security")

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int | None]


def parse_origin(value: str) -> Origin | None:
    """(scheme, host, port) with the default port filled in; None for anything that is not an origin."""
    try:
        parts = urlsplit(value.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", [])}


def _scheme(scope: Scope, headers: dict[str, str]) -> str:
    """http or https as the browser sees the site; behind a proxy, as SECURE_PROXY_SSL_HEADER says."""
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:
        name, secure_value = proxy_header
        header = name.removeprefix("HTTP_").replace("_", "-").lower()
        if header in headers:
            return "https" if headers[header].split(",")[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme", "ws") in ("wss", "https") else "http"


def own_origin(scope: Scope, headers: dict[str, str]) -> Origin | None:
    host = headers.get("host", "")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return parse_origin(f"{_scheme(scope, headers)}://{host}")


def _trusted(origin: Origin, pattern: str) -> bool:
    trusted = parse_origin(pattern.replace("://*.", "://wildcard."))
    if trusted is None:
        return False
    scheme, host, port = trusted
    if pattern.split("://", 1)[-1].startswith("*."):
        host_ok = is_same_domain(origin[1], "." + host.removeprefix("wildcard."))
    else:
        host_ok = origin[1] == host
    return host_ok and (origin[0], origin[2]) == (scheme, port)


def origin_allowed(scope: Scope) -> bool:
    headers = _headers(scope)
    origin = parse_origin(headers.get("origin", ""))
    if origin is None:
        return False
    if origin == own_origin(scope, headers):
        return True
    return any(_trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """ASGI middleware for websockets: refuse the handshake (HTTP 403) from any other origin."""

    def __init__(self, application: App) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if origin_allowed(scope):
            await self.application(scope, receive, send)
            return
        logger.warning(
            "Refused a socket to %s from origin %r", scope.get("path"), _headers(scope).get("origin")
        )
        await WebsocketDenier()(scope, receive, send)
