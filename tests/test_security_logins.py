"""One login path: the admin logs in through allauth's form, so its rate limits and lockout (counted in the
shared cache) hold for staff too."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser(email="root@example.com", password=PASSWORD)


def test_the_admin_login_sends_people_to_the_one_login_form():
    response = Client().get(reverse("admin:login") + "?next=/admin/welfare/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2Fwelfare%2F"


def test_the_admin_login_form_no_longer_takes_passwords(superuser):
    client = Client()
    response = client.post(reverse("admin:login"), {"username": superuser.email, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))


def test_an_outside_next_is_not_followed():
    response = Client().get(reverse("admin:login") + "?next=https://evil.example/")
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2F"


def test_staff_log_in_through_allauth_and_reach_the_admin(superuser):
    client = Client()
    response = client.post(
        reverse("account_login") + "?next=/admin/", {"login": superuser.email, "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_wrong_passwords_lock_the_superuser_out_like_anyone(superuser):
    client = Client()
    for _ in range(5):
        wrong = client.post(reverse("account_login"), {"login": superuser.email, "password": "wrong"})
        assert wrong.status_code == 200
    right = client.post(reverse("account_login"), {"login": superuser.email, "password": PASSWORD})
    assert right.status_code in (200, 429)
    assert "Too many failed login attempts" in right.content.decode()
    assert client.get("/admin/").status_code == 302  # not logged in
    # Another client (another worker, another browser) sees the same count: it lives in the shared cache.
    other = Client()
    again = other.post(reverse("account_login"), {"login": superuser.email, "password": PASSWORD})
    assert "Too many failed login attempts" in again.content.decode()


def test_logged_in_without_staff_rights_gets_a_clear_403(alice_client):
    response = alice_client.get(reverse("admin:login") + "?next=/admin/")
    assert response.status_code == 403
    assert "No access to the staff area" in response.content.decode()


def test_logged_in_staff_are_sent_on(superuser):
    client = Client()
    client.force_login(superuser)
    response = client.get(reverse("admin:login") + "?next=/admin/welfare/")
    assert response.status_code == 302 and response["Location"] == "/admin/welfare/"


def sign_up(email: str) -> tuple[Client, str]:
    client = Client()
    response = client.post(
        reverse("account_signup"), {"email": email, "password1": PASSWORD, "password2": PASSWORD}, follow=True
    )
    return client, response.content.decode()


def test_signup_does_not_say_an_email_is_registered(alice, settings, mailoutbox):
    """Production's mandatory verification: a taken email and a new one get the same answer; the owner of
    the taken one is told by email instead."""
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    _, taken = sign_up("alice@example.com")
    _, new = sign_up("carol@example.com")
    assert "already" not in taken.lower()
    assert "Verify Your Email Address" in taken and "Verify Your Email Address" in new
    assert [m.to for m in mailoutbox] == [["alice@example.com"], ["carol@example.com"]]
    assert "already" in mailoutbox[0].body.lower()
    assert alice.__class__.objects.filter(email__iexact="alice@example.com").count() == 1


def test_production_settings_make_email_verification_mandatory():
    script = "import django; django.setup(); from django.conf import settings; print(settings.ACCOUNT_EMAIL_VERIFICATION)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "BOWOUT_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="a.example"
    )
    production = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "0"},
        capture_output=True,
        text=True,
    )
    development = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_DEBUG": "1"},
        capture_output=True,
        text=True,
    )
    assert (production.stdout.strip(), development.stdout.strip()) == ("mandatory", "optional"), (
        production.stderr
    )


def test_the_lockout_holds_whatever_port_the_host_header_names(superuser, settings):
    """Five wrong passwords sent to one port lock the account on every port: with BOWOUT_SITE_URL the
    Host header's port is not believed."""
    settings.BOWOUT_SITE_URL = "http://testserver"
    client = Client()
    for port in range(5):
        wrong = client.post(
            reverse("account_login"),
            {"login": superuser.email, "password": "wrong"},
            HTTP_HOST=f"testserver:{9000 + port}",
        )
        assert wrong.status_code == 200
    right = Client().post(
        reverse("account_login"),
        {"login": superuser.email, "password": PASSWORD},
        HTTP_HOST="testserver:9999",
    )
    assert "Too many failed login attempts" in right.content.decode()


def test_a_password_reset_link_points_at_the_site_not_the_port_asked_for(alice, settings, mailoutbox):
    settings.BOWOUT_SITE_URL = "http://testserver"
    response = Client().post(
        reverse("account_reset_password"), {"email": alice.email}, HTTP_HOST="testserver:6666"
    )
    assert response.status_code == 302
    [email] = mailoutbox
    assert "http://testserver/accounts/password/reset/key/" in email.body
    assert ":6666" not in email.body
