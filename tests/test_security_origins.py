"""The socket's origin is checked like CSRF: the full scheme://host:port of the site itself, or one of
CSRF_TRUSTED_ORIGINS. ALLOWED_HOSTS='*' refuses to start outside debug. Unknown socket paths are refused
cleanly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from tests.conftest import session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parent.parent


async def connects(user, path: str, origin: str | None, host: str = "testserver", extra=()) -> bool:
    from asgiref.sync import sync_to_async

    from config.asgi import application

    headers = [(b"host", host.encode()), *extra]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    cookie = await sync_to_async(session_cookie_for)(user)
    headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize(
    "origin",
    [
        "http://testserver:8080",  # another port of the same host
        "https://testserver",  # another scheme
        "http://evil.example",
        "http://testserver.evil.example",
        "null",
        "",
        None,
    ],
)
async def test_a_socket_from_another_origin_is_refused(alice, conversation, origin):
    assert not await connects(alice, f"/ws/c/{conversation.pk}/", origin)


async def test_the_sites_own_origin_connects(alice, conversation):
    assert await connects(alice, f"/ws/c/{conversation.pk}/", "http://testserver")
    assert await connects(alice, f"/ws/c/{conversation.pk}/", "http://localhost:8000", host="localhost:8000")


async def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_origin(alice, conversation):
    assert not await connects(alice, f"/ws/c/{conversation.pk}/", "http://evil.example", host="evil.example")


async def test_csrf_trusted_origins_may_connect(alice, conversation, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    path = f"/ws/c/{conversation.pk}/"
    assert await connects(alice, path, "https://chat.example.com")
    assert await connects(alice, path, "https://app.example.org")
    assert not await connects(alice, path, "https://chat.example.com:8443")
    assert not await connects(alice, path, "http://chat.example.com")
    assert not await connects(alice, path, "https://example.com")


async def test_behind_a_proxy_the_forwarded_scheme_counts(alice, conversation, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    path = f"/ws/c/{conversation.pk}/"
    forwarded = [(b"x-forwarded-proto", b"https")]
    assert await connects(alice, path, "https://testserver", extra=forwarded)
    assert not await connects(alice, path, "http://testserver", extra=forwarded)


@pytest.mark.parametrize("path", ["/ws/nowhere/", "/ws/c/", "/", "/ws/c/123/extra/"])
async def test_a_socket_to_an_unknown_path_is_refused_cleanly(alice, path, caplog):
    assert not await connects(alice, path, "http://testserver")
    assert "Refused a socket to an unknown path" in caplog.text


def start_settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_allowed_hosts_star_refuses_to_start_outside_debug():
    refused = start_settings(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="*")
    assert refused.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS must name the site's hosts" in refused.stderr
    named = start_settings(
        DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50, DJANGO_ALLOWED_HOSTS="chat.example.com"
    )
    assert named.returncode == 0, named.stderr
