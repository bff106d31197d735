"""Shared fixtures: three personas (alice owns, bob must not see, a staff auditor) and a websocket
client that authenticates through the real session cookie and origin check."""

import asyncio
import json
from collections.abc import Callable

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat.models import Conversation

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def offline_model(settings):
    """Every test talks to the built-in simulator, instantly."""
    settings.ANTHROPIC_API_KEY = ""
    settings.ANTHROPIC_BASE_URL = ""
    settings.BOWOUT_SIMULATOR_DELAY = 0.0
    settings.BOWOUT_STREAM_FLUSH_SECONDS = 0.0
    settings.BOWOUT_MAX_RETRIES = 0
    return settings


@pytest.fixture(scope="session", autouse=True)
def recogniser_ready():
    """The welfare policy's classifier loaded once, as the server does at start, not inside a test's
    first send (where loading or training it could outlast a socket's receive timeout)."""
    from chat import recognise

    recognise.warm_up()


@pytest.fixture(scope="session", autouse=True)
def close_persistent_connections(django_db_setup, django_db_blocker):
    """Connections persist (CONN_MAX_AGE), the one on the thread every database_sync_to_async call
    shares included: close it before the test database is dropped (PostgreSQL refuses while in use)."""
    yield
    import threading

    from django.db import connections

    def close_on_that_thread() -> None:
        asyncio.run(sync_to_async(connections.close_all)())

    with django_db_blocker.unblock():
        # A thread of its own: the browser tests leave an event loop running in this one.
        closer = threading.Thread(target=close_on_that_thread)
        closer.start()
        closer.join(timeout=10)


@pytest.fixture(autouse=True)
def empty_cache(request):
    """Quota counters and login limits live in the shared cache, which outlives a test's database (and,
    on Redis, a whole run): every test starts and ends with it empty."""
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    if request.node.get_closest_marker("browser"):
        # Browser tests talk to a server process of their own, and Playwright keeps an event loop running
        # in this thread, where the database cache could not be cleared.
        yield
        return
    cache = caches["default"]
    if not isinstance(cache, DatabaseCache):
        cache.clear()  # Redis or memory: no database needed
    yield
    if not isinstance(cache, DatabaseCache):
        cache.clear()
    elif "django_db_setup" in request.fixturenames:
        with request.getfixturevalue("django_db_blocker").unblock():
            cache.clear()


@pytest.fixture
def make_user(django_user_model):
    def make(email: str, **extra):
        return django_user_model.objects.create_user(email=email, password=PASSWORD, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice@example.com")


@pytest.fixture
def bob(make_user):
    return make_user("bob@example.com")


@pytest.fixture
def staff(make_user):
    return make_user("auditor@example.com", is_staff=True)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def conversation(alice) -> Conversation:
    return Conversation.objects.create(user=alice)


def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """A browser tab's websocket, driven from a test."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.frames: list[str] = []
        self.snapshot = ""
        self.close_code: int | None = None  # set when the server closed the socket as it opened

    async def send(self, **data) -> None:
        await self.communicator.send_to(text_data=json.dumps(data))

    async def send_raw(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 5) -> str:
        frame = await self.communicator.receive_from(timeout=timeout)
        self.frames.append(frame)
        return frame

    async def receive_until(self, predicate: Callable[[str], bool], timeout: float = 10) -> str:
        """Frames until one matches; fails the test if none does in time."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.receive(timeout=timeout)
                if predicate(frame):
                    return frame

    async def closed_with(self, timeout: float = 5) -> int:
        """Wait for the server to close this socket; returns the close code."""
        output = await self.communicator.receive_output(timeout=timeout)
        assert output["type"] == "websocket.close", f"expected a close, got {output}"
        return output.get("code", 1000)

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def open_socket():
    """open_socket(user, conversation_id) -> (connected, Socket); every socket is closed afterwards."""
    from config.asgi import application

    sockets: list[Socket] = []

    async def open_(
        user, conversation_id, *, origin: str = "http://testserver", shown: str = ""
    ) -> tuple[bool, Socket]:
        """`shown`: the state token of the page the socket belongs to (none: always sent a snapshot).
        Not connected: refused during the handshake, or closed at once (then `close_code` says why)."""
        headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
        if user is not None:
            cookie = await sync_to_async(session_cookie_for)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        path = f"/ws/c/{conversation_id}/" + (f"?v={shown}" if shown else "")
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect()
        socket = Socket(communicator)
        sockets.append(socket)
        if connected and not shown:
            # Every connection starts with a snapshot of the conversation as saved, or is closed at once.
            first = await communicator.receive_output(timeout=5)
            if first["type"] == "websocket.close":
                connected, socket.close_code = False, first.get("code", 1000)
            else:
                socket.snapshot = first["text"]
        return connected, socket

    yield open_
    for socket in sockets:
        await socket.close()


def stream_frame(frame: str) -> bool:
    """A frame with new text of a streaming reply (JSON, see chat.fragments.render_stream)."""
    return frame.startswith('{"stream":')


def reply_finished(frame: str) -> bool:
    """The frame that replaces a streaming reply with its finished form."""
    return 'data-role="assistant"' in frame and 'data-status="streaming"' not in frame


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API leaves an event loop running in the main thread, and
    async tests collected after it could not start their own."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
