"""Accounts through django-allauth: sign up with email, log in and out, change and reset a password."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-pass-phrase-7"


def test_sign_up_with_email_logs_in_and_lands_on_the_chats():
    client = Client()
    response = client.post(
        reverse("account_signup"),
        {"email": "carol@example.com", "password1": PASSWORD, "password2": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("chat:home")
    assert "Chat with Claude" in response.content.decode()
    assert User.objects.get(email="carol@example.com").check_password(PASSWORD)


def test_a_duplicate_or_weak_sign_up_is_refused_with_a_reason(alice):
    client = Client()
    taken = client.post(
        reverse("account_signup"),
        {"email": "alice@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert taken.status_code == 200 and "already registered" in taken.content.decode()
    weak = client.post(
        reverse("account_signup"), {"email": "dan@example.com", "password1": "123", "password2": "123"}
    )
    assert weak.status_code == 200 and "too short" in weak.content.decode()
    assert not User.objects.filter(email="dan@example.com").exists()


def test_log_in_and_out(alice):
    client = Client()
    wrong = client.post(reverse("account_login"), {"login": "alice@example.com", "password": "nope"})
    assert wrong.status_code == 200 and "not correct" in wrong.content.decode()

    response = client.post(reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("chat:home")).status_code == 200

    client.post(reverse("account_logout"))
    assert client.get(reverse("chat:home")).status_code == 302


def test_change_password(alice_client, alice):
    response = alice_client.post(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_reset_a_forgotten_password_by_email(alice):
    client = Client()
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/password/reset/key/" in line)
    path = link[link.index("/accounts/") :].strip()

    form_page = client.get(path, follow=True)
    form_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path
    done = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
