"""An open socket obeys its session: a logout closes it, a password change elsewhere or a deactivation
closes it, and a frame sent with a session that is no longer valid is refused and saves nothing."""

import json
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chat import close_codes
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

LOGGED_OUT = "Your session has ended"
NEW_PASSWORD = "another-long-pass-phrase-7"


def logged_in_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
async def tab_of():
    """tab_of(client, conversation) -> a connected communicator using that client's session cookie."""
    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_(client: Client, conversation) -> WebsocketCommunicator:
        headers = [
            (b"origin", b"http://testserver"),
            (b"host", b"testserver"),
            (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        ]
        communicator = WebsocketCommunicator(application, f"/ws/c/{conversation.pk}/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_from(timeout=5)  # the snapshot
        opened.append(communicator)
        return communicator

    yield open_
    for communicator in opened:
        await communicator.disconnect()


async def expect_closed_logged_out(tab: WebsocketCommunicator) -> None:
    frame = await tab.receive_from(timeout=5)
    assert LOGGED_OUT in frame and "log in again" in frame
    assert await tab.receive_output(timeout=5) == {"type": "websocket.close", "code": close_codes.SIGNED_OUT}


async def send(tab: WebsocketCommunicator, text: str) -> None:
    await tab.send_to(text_data=json.dumps({"action": "send", "text": text, "client_id": str(uuid.uuid4())}))


def count(conversation) -> int:
    return conversation.messages.count()


async def test_logging_out_closes_the_open_tabs_of_that_session(alice, conversation, tab_of):
    client = await sync_to_async(logged_in_client)(alice)
    tab = await tab_of(client, conversation)
    await sync_to_async(client.post)(reverse("account_logout"))
    await expect_closed_logged_out(tab)


async def test_logging_out_leaves_other_devices_open(alice, conversation, tab_of):
    laptop, phone = await sync_to_async(logged_in_client)(alice), await sync_to_async(logged_in_client)(alice)
    laptop_tab, phone_tab = await tab_of(laptop, conversation), await tab_of(phone, conversation)
    await sync_to_async(laptop.post)(reverse("account_logout"))
    await expect_closed_logged_out(laptop_tab)
    await send(phone_tab, "Still here")
    assert 'data-role="user"' in await phone_tab.receive_from(timeout=5)


async def test_a_password_change_closes_the_tabs_of_other_sessions(alice, conversation, tab_of):
    other, changer = (
        await sync_to_async(logged_in_client)(alice),
        await sync_to_async(logged_in_client)(alice),
    )
    other_tab = await tab_of(other, conversation)
    response = await sync_to_async(changer.post)(
        reverse("account_change_password"),
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    await expect_closed_logged_out(other_tab)
    # The session that changed the password goes on: a tab opened with its cookie works.
    own_tab = await tab_of(changer, conversation)
    await send(own_tab, "Still mine")
    assert 'data-role="user"' in await own_tab.receive_from(timeout=5)


async def test_deactivating_a_user_closes_their_tabs(alice, conversation, tab_of):
    tab = await tab_of(await sync_to_async(logged_in_client)(alice), conversation)
    alice.is_active = False
    await sync_to_async(alice.save)()
    await expect_closed_logged_out(tab)
    assert await sync_to_async(count)(conversation) == 0


async def test_a_frame_after_the_session_was_removed_is_refused(alice, conversation, tab_of):
    """No signal at all (an expired or flushed session): the frame itself is checked."""
    tab = await tab_of(await sync_to_async(logged_in_client)(alice), conversation)
    await sync_to_async(Session.objects.all().delete)()
    await send(tab, "Sneaking in")
    await expect_closed_logged_out(tab)
    assert await sync_to_async(count)(conversation) == 0


async def test_a_frame_after_a_password_set_in_the_shell_is_refused(alice, conversation, tab_of):
    tab = await tab_of(await sync_to_async(logged_in_client)(alice), conversation)

    def set_password() -> None:
        alice.set_password(NEW_PASSWORD)
        alice.save(update_fields=["password"])

    await sync_to_async(set_password)()
    await send(tab, "Sneaking in")
    await expect_closed_logged_out(tab)
    assert await sync_to_async(count)(conversation) == 0


async def test_an_idle_tab_closes_when_staff_set_the_password_in_the_admin(
    alice, staff, conversation, tab_of
):
    """The admin's password form sends no allauth signal; the tab, sending nothing, is closed anyway."""
    tab = await tab_of(await sync_to_async(logged_in_client)(alice), conversation)
    staff.is_superuser = True
    await sync_to_async(staff.save)()
    admin = await sync_to_async(logged_in_client)(staff)
    url = reverse("admin:auth_user_password_change", args=[alice.pk])
    response = await sync_to_async(admin.post)(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    await expect_closed_logged_out(tab)


@pytest.mark.parametrize("how", ["deleted", "expired"])
async def test_an_idle_tab_closes_when_its_session_is_gone_from_the_store(
    alice, conversation, tab_of, settings, how
):
    """No signal at all, and no frame from the tab: it is re-checked against the session store."""
    settings.BOWOUT_SESSION_RECHECK_SECONDS = 0.2
    tab = await tab_of(await sync_to_async(logged_in_client)(alice), conversation)
    if how == "deleted":
        await sync_to_async(Session.objects.all().delete)()
    else:
        await sync_to_async(Session.objects.all().update)(expire_date=timezone.now() - timedelta(seconds=1))
    await expect_closed_logged_out(tab)
