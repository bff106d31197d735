"""Personas for the audit: an auditor (the Welfare auditors group, as the migration made it), an auditor who
may also reopen, a superuser; plain `staff` and non-staff `alice` come from tests/conftest.py."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from welfare_admin.permissions import AUDITORS_GROUP


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """The personas are made with a password; PBKDF2 would spend most of this suite's time hashing it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def auditor(make_user):
    user = make_user("welfare-auditor@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITORS_GROUP))
    return user


@pytest.fixture
def reopener(make_user):
    user = make_user("reopener@example.com", is_staff=True)
    user.groups.add(Group.objects.get(name=AUDITORS_GROUP))
    user.user_permissions.add(Permission.objects.get(codename="reopen_conversation"))
    return user


@pytest.fixture
def superuser(make_user):
    return make_user("root@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def auditor_client(auditor) -> Client:
    return client_for(auditor)


@pytest.fixture
def reopener_client(reopener) -> Client:
    return client_for(reopener)


@pytest.fixture
def staff_client(staff) -> Client:
    return client_for(staff)


@pytest.fixture
def superuser_client(superuser) -> Client:
    return client_for(superuser)
