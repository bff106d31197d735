"""The one adapter over the Anthropic SDK: client set-up, streaming, and errors in words a user reads.

With no ANTHROPIC_API_KEY the same SDK code path talks to the built-in simulator of the Messages API
(chat.simulator) through an in-process streaming transport, so Bowout works offline on a fresh machine.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message as ApiMessage
from django.conf import settings

OFFLINE_BASE_URL = "http://offline-simulator.invalid"


def is_offline() -> bool:
    """True when replies come from the built-in simulator rather than a configured model server."""
    return not settings.ANTHROPIC_API_KEY and not settings.ANTHROPIC_BASE_URL


# One client per event loop: an httpx2 pool belongs to the loop it was made on.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, anthropic.AsyncAnthropic]]" = (
    weakref.WeakKeyDictionary()
)


def _client_config() -> tuple:
    return (
        settings.ANTHROPIC_API_KEY,
        settings.ANTHROPIC_BASE_URL,
        settings.BOWOUT_MAX_RETRIES,
        settings.BOWOUT_REQUEST_TIMEOUT,
        settings.BOWOUT_SIMULATOR_DELAY,
        getattr(settings, "BOWOUT_SIMULATOR_CRISIS_TRIES_END", False),
    )


def get_client() -> anthropic.AsyncAnthropic:
    config = _client_config()
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    if config not in per_loop:
        per_loop[config] = _make_client()
    return per_loop[config]


def _make_client() -> anthropic.AsyncAnthropic:
    common = {"max_retries": settings.BOWOUT_MAX_RETRIES, "timeout": settings.BOWOUT_REQUEST_TIMEOUT}
    if not is_offline():
        return anthropic.AsyncAnthropic(
            api_key=settings.ANTHROPIC_API_KEY or "not-needed",
            base_url=settings.ANTHROPIC_BASE_URL or None,
            **common,
        )
    from chat.simulator import StreamingASGITransport, create_app

    simulator = create_app(
        delay=settings.BOWOUT_SIMULATOR_DELAY,
        crisis_tries_end=getattr(settings, "BOWOUT_SIMULATOR_CRISIS_TRIES_END", False),
    )
    return anthropic.AsyncAnthropic(
        api_key="offline-demo",
        base_url=OFFLINE_BASE_URL,
        http_client=httpx2.AsyncClient(
            transport=StreamingASGITransport(simulator), base_url=OFFLINE_BASE_URL
        ),
        **common,
    )


def model_name() -> str:
    return settings.BOWOUT_MODEL


@cache
def _read_prompt(path: str) -> str:
    return Path(path).read_text(encoding="utf-8").strip()


def system_prompt() -> str:
    return _read_prompt(settings.BOWOUT_SYSTEM_PROMPT_FILE)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finished:
    message: ApiMessage


async def stream_reply(
    messages: list[dict[str, Any]], *, tools: list[dict[str, Any]] | None = None
) -> AsyncIterator[TextDelta | Finished]:
    """Stream one model turn: text deltas as they arrive, then the final message (content, stop reason, usage)."""
    options: dict[str, Any] = {}
    if tools:
        options["tools"] = tools
    async with get_client().messages.stream(
        model=model_name(),
        max_tokens=settings.BOWOUT_MAX_TOKENS,
        system=system_prompt(),
        messages=messages,
        **options,
    ) as stream:
        async for event in stream:
            if event.type == "text" and event.text:
                yield TextDelta(event.text)
        final = await stream.get_final_message()
    yield Finished(final)


_ERROR_WORDS = {
    "overloaded_error": "Claude is overloaded right now. Please try again in a moment.",
    "rate_limit_error": "Too many requests are reaching Claude right now. Please try again in a moment.",
    "api_error": "Claude's service had an internal error. Please try again.",
    "authentication_error": "Bowout could not sign in to the model service. An operator needs to check the API key.",
    "permission_error": "The configured API key may not use this model. An operator needs to check the settings.",
    "not_found_error": "The configured model was not found. An operator needs to check BOWOUT_MODEL.",
    "invalid_request_error": "The model service rejected the request. Please try again or start a new chat.",
    "request_too_large": "This conversation is too long for the model. Please start a new chat.",
}


def describe_error(error: BaseException) -> str:
    """A sentence for the user. Mid-stream errors arrive as APIStatusError with status 200, so the
    error type from the body decides, not the HTTP status."""
    if isinstance(error, anthropic.APITimeoutError):
        return "Claude took too long to answer. Please try again."
    if isinstance(error, anthropic.APIConnectionError):
        return "The connection to Claude was lost. Please try again."
    if isinstance(error, anthropic.APIStatusError):
        if error.type in _ERROR_WORDS:
            return _ERROR_WORDS[error.type]
        if error.status_code >= 500:
            return _ERROR_WORDS["api_error"]
        return _ERROR_WORDS["invalid_request_error"]
    if isinstance(error, httpx2.TransportError):
        return "The connection to Claude was lost. Please try again."
    return "Something went wrong while Claude was answering. Please try again."
