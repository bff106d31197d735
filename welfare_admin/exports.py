"""The filtered list of ended conversations as CSV, one row per conversation, streamed."""

import csv
from collections.abc import Iterable, Iterator

from welfare_admin.models import EndedConversation

HEADER = [
    "id",
    "user",
    "title",
    "created_at",
    "ended_at",
    "ended_by",
    "end_reason",
    "summary",
    "turns",
    "review_status",
    "feedback",
    "reopened_at",
    "deleted_at",
]

# Spreadsheets run cells that start with these as formulas; titles and summaries come from users and models.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def row_for(conversation: EndedConversation) -> list[str]:
    return [
        _cell(v)
        for v in (
            conversation.pk,
            conversation.user.email,
            conversation.title,
            conversation.created_at,
            conversation.ended_at or conversation.previous_ended_at,
            conversation.end_by,
            conversation.end_why,
            conversation.end_note,
            conversation.turns,
            conversation.review,
            "yes" if conversation.has_feedback else "no",
            conversation.reopened_at,
            conversation.deleted_at,
        )
    ]


def csv_lines(conversations: Iterable[EndedConversation]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    for conversation in conversations:
        yield writer.writerow(row_for(conversation))
