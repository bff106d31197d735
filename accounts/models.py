from datetime import datetime
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.http import HttpRequest


class UserQuerySet(models.QuerySet["User"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        """A bulk delete (the admin's action, the shell) applies the deletion rule to each person."""
        deleted = 0
        for user in self:
            user.delete()
            deleted += 1
        return deleted, {self.model._meta.label: deleted}


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_queryset(self) -> UserQuerySet:
        return UserQuerySet(self.model, using=self._db)

    def _create_user(self, email: str, password: str | None, **extra_fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields: Any) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


# Where a deleted account's email points: a reserved domain (RFC 2606), so it can never be a real address.
DELETED_EMAIL_DOMAIN = "deleted.invalid"


class User(AbstractUser):
    """A person signs in with an email address; there is no username."""

    username = None  # type: ignore[assignment]  # no username: the email is the login
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # Set when the person deleted their account (or staff did): the row then holds no name or email and
    # only anchors what staff must keep to audit ends, until `purge_expired_audit` removes it.
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    # What the person wants Claude to know about them or how to answer: sent as user-provided context after
    # the fixed system prompt, never in place of it (chat.claude.system_prompt).
    custom_instructions = models.TextField(blank=True)

    # Not auth's UserManager (that one needs a username), so the stubs' type for `objects` differs.
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        """Deleting a person, from any path (account page, admin, shell), follows the one rule in
        `accounts.retention`: their data goes, what staff need to audit ends stays without them."""
        from accounts.retention import delete_account

        delete_account(self)
        return 1, {self._meta.label: 1}

    def erase(self) -> None:
        """Remove the row itself. Only the retention rule calls this, once nothing is kept for audit."""
        models.Model.delete(self)

    def detach(self, now: datetime) -> None:
        """Keep the row only as the anchor of what staff audit: no name, no email, no way to sign in.
        Only the retention rule calls this."""
        self.email = f"deleted-{self.pk}@{DELETED_EMAIL_DOMAIN}"
        self.first_name = ""
        self.last_name = ""
        # A new password hash also ends every session of the account (Django checks it on each request).
        self.set_unusable_password()
        self.is_active = False
        self.is_staff = False
        self.is_superuser = False
        self.last_login = None
        self.deleted_at = self.deleted_at or now
        self.save()
        self.groups.clear()
        self.user_permissions.clear()


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind `login_required`: its user is a signed-in User (healthchecks' name)."""

    user: User
