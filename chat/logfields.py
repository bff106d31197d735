"""Fields every log line carries, so an operator can follow one reply or one request through the log:
user id, conversation id, reply id and request id. They live in context variables: a request sets its
own (the middleware below), a reply's task sets the reply's, and the log filter copies them onto each
record, where the formatter in settings.LOGGING prints them."""

import contextvars
import logging
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType

from django.http import HttpRequest, HttpResponse

FIELDS = ("user_id", "conversation_id", "reply_id", "request_id")
_current: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "bowout_log_fields", default=MappingProxyType({})
)


def bind(**fields: object) -> None:
    """Add fields for the rest of this task or request (None leaves a field as it was)."""
    _current.set({**_current.get(), **{k: str(v) for k, v in fields.items() if v is not None}})


def current(name: str) -> str:
    return _current.get().get(name, "")


class ContextFilter(logging.Filter):
    """Puts the bound fields on every record ("-" where none is bound); `extra=` given to a call wins."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _current.get()
        for name in FIELDS:
            if not getattr(record, name, None):
                setattr(record, name, bound.get(name, "-"))
        return True


class RequestIdMiddleware:
    """A request id for every request: the proxy's X-Request-ID when it sends one (deploy/nginx), or a
    new one; returned in the response's X-Request-ID so a user's report can be found in the log."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sent = request.headers.get("X-Request-ID", "")
        request_id = sent if sent and len(sent) <= 64 and sent.isascii() else uuid.uuid4().hex
        token = _current.set({"request_id": request_id})
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id
        return response
