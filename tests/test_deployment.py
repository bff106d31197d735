"""Production mode: `check --deploy` is clean, HTTPS is enforced (also behind a proxy), every page carries
a Content-Security-Policy with no inline code, and the pages themselves hold no inline script or style."""

import secrets
import subprocess
from html.parser import HTMLParser

import httpx2
import pytest
from django.test import Client
from django.urls import reverse

from chat.models import Message
from tests.live_server import ROOT, Server, migrate, python, server_env
from tests.welfare_admin import builders

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "chat.example.com,127.0.0.1",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://chat.example.com",
}


def _production_env(**extra: str) -> dict[str, str]:
    env = server_env(**PRODUCTION, **extra)
    for name in ("DJANGO_HTTPS", "DJANGO_SECURE_COOKIES"):
        env.pop(name, None)  # production defaults, as an operator gets them
    return env


def test_check_deploy_reports_nothing_in_production_mode():
    done = subprocess.run(
        [python(), "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    done = subprocess.run(
        [python(), "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in done.stderr


@pytest.fixture(scope="module")
def production_server(tmp_path_factory):
    """Behind a proxy that says the visitor used HTTPS in X-Forwarded-Proto (uvicorn's own proxy handling
    off, so Django's SECURE_PROXY_SSL_HEADER is what decides)."""
    workdir = tmp_path_factory.mktemp("production")
    env = _production_env(
        BOWOUT_SQLITE_PATH=str(workdir / "db.sqlite3"), DJANGO_PROXY_SSL_HEADER="X-Forwarded-Proto"
    )
    migrate(env)
    server = Server(env, workdir / "server.log")
    server.extra_args = ["--no-proxy-headers"]
    yield server.start()
    server.stop()


def test_plain_http_is_redirected_to_https(production_server):
    response = httpx2.get(production_server.url + "/accounts/login/")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://127.0.0.1")


def test_https_through_the_proxy_gets_hsts_csp_and_referrer_policy(production_server):
    response = httpx2.get(production_server.url + "/accounts/login/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains; preload"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    policy = dict(
        part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    cookie = response.headers["set-cookie"]
    assert "csrftoken" in cookie and "Secure" in cookie


# --- No inline code on any page (what the policy would block) ---------------------------------------


class InlineCode(HTMLParser):
    """Collects what a strict CSP refuses: inline <script> and <style>, style="" and on*="" attributes,
    javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self._in_script = True
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.found.append(f'<{tag} {name}="{value}">')
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f'<{tag} {name}="{value}">')

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}")


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def superuser_client(make_user, settings) -> Client:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client = Client()
    client.force_login(make_user("root@example.com", is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_no_page_holds_inline_script_or_style(alice, alice_client, superuser_client):
    chat = builders.conversation(alice, texts=["How do tides work?"])
    Message.objects.create(
        conversation=chat, role=Message.Role.ASSISTANT, status=Message.Status.FAILED, error="Overloaded"
    )
    ended = builders.ended(alice, title="Ended")
    builders.request(ended)
    open_chat = builders.conversation(alice, texts=["Hello"])
    pages = {
        "login": (Client(), reverse("account_login")),
        "signup": (Client(), reverse("account_signup")),
        "home": (alice_client, reverse("chat:home")),
        "chat with Retry": (alice_client, reverse("chat:conversation", args=[chat.pk])),
        "ended chat": (alice_client, reverse("chat:conversation", args=[ended.pk])),
        "end confirmation": (alice_client, reverse("chat:end", args=[open_chat.pk])),
        "password": (alice_client, reverse("account_change_password")),
        "delete account": (alice_client, reverse("account_delete")),
        "admin": (superuser_client, reverse("admin:index")),
        "ended list": (superuser_client, reverse("admin:welfare_admin_endedconversation_changelist")),
        "transcript": (
            superuser_client,
            reverse("admin:welfare_admin_endedconversation_change", args=[ended.pk]),
        ),
        "requests": (superuser_client, reverse("admin:welfare_admin_welfarerequest_changelist")),
        "dashboard": (superuser_client, reverse("welfare_admin:dashboard")),
        "people": (superuser_client, reverse("admin:accounts_user_changelist")),
    }
    found = {}
    for name, (client, url) in pages.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        if problems := inline_code(response.content.decode()):
            found[name] = problems
    assert found == {}
