from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts import retention
from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
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
    def get_deleted_objects(self, objs, request):
        described = []
        for user in objs:
            described.append(f"{user}: " + " ".join(retention.plan(user).describe()))
        return described, {User._meta.verbose_name_plural: len(described)}, set(), []

    def delete_model(self, request, obj: User) -> None:
        retention.delete_account(obj)

    def delete_queryset(self, request, queryset) -> None:
        for user in queryset:
            retention.delete_account(user)
