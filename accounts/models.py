from typing import ClassVar

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models


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

    def _create_user(self, email: str, password: str | None, **extra_fields) -> "User":
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields) -> "User":
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields) -> "User":
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


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

    def delete(self, using=None, keep_parents=False) -> tuple[int, dict[str, int]]:
        """Deleting a person, from any path (account page, admin, shell), follows the one rule in
        `accounts.retention`: their data goes, what staff need to audit ends stays without them."""
        from accounts.retention import delete_account

        delete_account(self)
        return 1, {self._meta.label: 1}

    def erase(self) -> None:
        """Remove the row itself. Only the retention rule calls this, once nothing is kept for audit."""
        models.Model.delete(self)
