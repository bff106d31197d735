"""Searching one's own chats with the database's own search: PostgreSQL's full-text search (stemmed, ranked,
with its own headline for the snippet), or a plain case-insensitive match on SQLite. Every query starts
from the user's own conversations."""

from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chat.models import Conversation, Message

MAX_QUERY_CHARS = 200
MAX_RESULTS = 50
SNIPPET_CHARS = 160
# Markers PostgreSQL puts around the words it matched: characters no one types, so the text around them
# can be escaped first and the markers turned into <mark> after.
_START, _STOP = "\ue000", "\ue001"


class BadQuery(ValueError):
    """A search that cannot be run; the message is shown as it is."""


@dataclass
class Result:
    conversation: Conversation
    message_id: int | None  # the message that matched, to link to; None when only the title did
    snippet: SafeString  # escaped text with the matched words in <mark>


def clean_query(query: object) -> str:
    if not isinstance(query, str):
        return ""
    query = " ".join(query.split())
    if "\x00" in query:
        raise BadQuery("The search contains a NUL character (\\0). Remove it and try again.")
    if len(query) > MAX_QUERY_CHARS:
        raise BadQuery(f"A search can be at most {MAX_QUERY_CHARS} characters; this one has {len(query)}.")
    return query


def search(user, query: str) -> list[Result]:
    """The user's chats whose title or messages match, best first, each with a snippet of the match."""
    if not query:
        return []
    conversations = Conversation.objects.for_user(user)
    if connection.vendor == "postgresql":
        return _full_text(conversations, query)
    return _contains(conversations, query)


def _visible_messages(conversations):
    # Replies as the user reads them: no earlier versions they paged away from, no failed attempts' text.
    return Message.objects.filter(conversation__in=conversations, version_shown=True).exclude(content="")


def _full_text(conversations, query: str) -> list[Result]:
    words = SearchQuery(query, search_type="websearch", config="english")
    matches = (
        _visible_messages(conversations)
        .annotate(rank=SearchRank(SearchVector("content", config="english"), words))
        .filter(rank__gt=0)
        .annotate(
            headline=SearchHeadline(
                "content",
                words,
                config="english",
                start_sel=_START,
                stop_sel=_STOP,
                max_words=30,
                min_words=12,
            )
        )
        .select_related("conversation")
        .order_by("-rank", "-id")
    )
    titled = (
        conversations.annotate(rank=SearchRank(SearchVector("title", config="english"), words))
        .filter(rank__gt=0)
        .annotate(headline=SearchHeadline("title", words, config="english", start_sel=_START, stop_sel=_STOP))
        .order_by("-rank", "-updated_at")
    )
    results: dict = {}
    for conversation in titled[:MAX_RESULTS]:
        results[conversation.pk] = Result(conversation, None, _marked(conversation.headline))
    for message in matches[: MAX_RESULTS * 4]:
        if message.conversation_id not in results or results[message.conversation_id].message_id is None:
            results[message.conversation_id] = Result(
                message.conversation, message.pk, _marked(message.headline)
            )
    return list(results.values())[:MAX_RESULTS]


def _marked(headline: str) -> SafeString:
    return mark_safe(escape(headline).replace(_START, "<mark>").replace(_STOP, "</mark>"))  # noqa: S308  # escaped first


def _contains(conversations, query: str) -> list[Result]:
    """SQLite: the whole query as one phrase, case-insensitive (ASCII letters only: SQLite's LIKE)."""
    results: dict = {}
    for conversation in conversations.filter(title__icontains=query).order_by("-updated_at")[:MAX_RESULTS]:
        results[conversation.pk] = Result(conversation, None, snippet(conversation.title, query))
    matches = (
        _visible_messages(conversations)
        .filter(content__icontains=query)
        .select_related("conversation")
        .order_by(F("conversation__updated_at").desc(), "-id")
    )
    for message in matches[: MAX_RESULTS * 4]:
        if message.conversation_id not in results or results[message.conversation_id].message_id is None:
            results[message.conversation_id] = Result(
                message.conversation, message.pk, snippet(message.content, query)
            )
    return list(results.values())[:MAX_RESULTS]


def snippet(text: str, query: str) -> SafeString:
    """Some words around the first match, escaped, the match in <mark>."""
    text = " ".join(text.split())
    at = text.lower().find(query.lower())
    if at < 0:
        return mark_safe(escape(text[:SNIPPET_CHARS]))  # noqa: S308  # escaped
    start = max(0, at - SNIPPET_CHARS // 2)
    end = min(len(text), at + len(query) + SNIPPET_CHARS // 2)
    before, found, after = text[start:at], text[at : at + len(query)], text[at + len(query) : end]
    return mark_safe(  # noqa: S308  # every piece escaped
        ("…" if start else "")
        + escape(before)
        + f"<mark>{escape(found)}</mark>"
        + escape(after)
        + ("…" if end < len(text) else "")
    )
