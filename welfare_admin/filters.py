"""Changelist filters. Those over the annotated end (`end_by`, `end_why`) also find conversations that
staff reopened, whose end lives on in the reopen event."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest

from chat.models import EndedBy, EndReason, UserRequest
from welfare_admin.models import FEEDBACK_KINDS, ReviewStatus, reopened_conversation_ids


class EndedByFilter(admin.SimpleListFilter):
    title = "ended by"
    parameter_name = "ended_by"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return EndedBy.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in EndedBy.values:
            return queryset.filter(end_by=self.value())
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return EndReason.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in EndReason.values:
            return queryset.filter(end_why=self.value())
        return queryset


class ReviewFilter(admin.SimpleListFilter):
    title = "review status"
    parameter_name = "review"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return ReviewStatus.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ReviewStatus.values:
            return queryset.filter(review=self.value())
        return queryset


class FeedbackFilter(admin.SimpleListFilter):
    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [
            ("yes", "Feedback or appeal"),
            ("mistake", "User says the end was a mistake"),
            ("no", "None"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(has_feedback=True)
        if self.value() == "no":
            return queryset.filter(has_feedback=False)
        if self.value() == "mistake":
            says_mistake = UserRequest.objects.filter(
                conversation=OuterRef("pk"), kind__in=FEEDBACK_KINDS, end_was_mistake=True
            )
            return queryset.filter(Exists(says_mistake))
        return queryset


class TurnsFilter(admin.SimpleListFilter):
    """Turns are the user's messages: an end for abuse after one or two is the one to look at first."""

    title = "turns"
    parameter_name = "turns"
    RANGES = {"1-2": (1, 2), "3-5": (3, 5), "6-10": (6, 10), "11-": (11, None)}

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [("1-2", "1–2"), ("3-5", "3–5"), ("6-10", "6–10"), ("11-", "More than 10")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None or value not in self.RANGES:
            return queryset
        low, high = self.RANGES[value]
        queryset = queryset.filter(turns__gte=low)
        return queryset.filter(turns__lte=high) if high else queryset


class StateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [
            ("ended", "Ended"),
            ("reopened", "Reopened by staff"),
            ("deleted", "Deleted by the user"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "ended":
            return queryset.filter(ended_at__isnull=False)
        if self.value() == "reopened":
            return queryset.filter(pk__in=reopened_conversation_ids())
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class ConversationFilter(admin.SimpleListFilter):
    """The requests of one conversation, linked from its transcript. Shown only while it is applied."""

    title = "conversation"
    parameter_name = "conversation"

    def _conversation_id(self, value: object) -> uuid.UUID | None:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            return None

    def lookups(self, request: HttpRequest, model_admin: ModelAdmin[Any]) -> list[tuple[str, str]]:
        value = request.GET.get(self.parameter_name)
        if value and self._conversation_id(value):
            return [(value, "This conversation")]
        return []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        conversation_id = self._conversation_id(self.value()) if self.value() else None
        if conversation_id:
            return queryset.filter(conversation_id=conversation_id)
        return queryset
