from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts import retention
from accounts.models import User

# UserAdmin is generic for the type checker only (it is not subscriptable at run time).
if TYPE_CHECKING:
    _BaseUserAdmin = BaseUserAdmin[User]
else:
    _BaseUserAdmin = BaseUserAdmin


@admin.register(User)
class UserAdmin(_BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "date_joined", "deleted_at"]
    list_filter = [*BaseUserAdmin.list_filter, "deleted_at"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined", "deleted_at")}),
    )
    readonly_fields = ["deleted_at"]
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)

    # Deleting people here follows the same rule as the account page (accounts.retention): the confirmation
    # page says what goes and what is kept for audit, instead of listing a cascade that is not what happens.
    def get_deleted_objects(
        self, objs: Sequence[User] | QuerySet[User], request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        described = []
        for user in objs:
            described.append(f"{user}: " + " ".join(retention.plan(user).describe()))
        return described, {str(User._meta.verbose_name_plural): len(described)}, set(), []

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        retention.delete_account(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            retention.delete_account(user)
