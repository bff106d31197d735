"""A long chat in a real browser: the page shows its latest messages, and "Load earlier messages" brings
the rest in above them without leaving the page."""

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import AppServer, running_app_server, sign_up
from tests.browser.test_chat_in_browser import ASSISTANT, USER, WHOLE_REPLY, send, start_chat

pytestmark = pytest.mark.browser

LOAD_EARLIER = '[data-role="load-earlier"]'
QUESTIONS = f"{USER} .message__body"


@pytest.fixture(scope="module")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    """This module's own server, whose pages show two messages at first, so a short chat is a long one."""
    with running_app_server(tmp_path_factory.mktemp("bowout-long-chat"), BOWOUT_PAGE_MESSAGES="2") as server:
        yield server


def test_load_earlier_messages_brings_the_older_ones_in_above(page: Page, app_server: AppServer):
    sign_up(page, app_server.url)
    start_chat(page)
    for sent, text in enumerate(("How do tides work?", "And what are spring tides?"), start=1):
        send(page, text)
        expect(page.locator(f'{ASSISTANT}[data-status="complete"]')).to_have_count(sent, timeout=WHOLE_REPLY)

    page.reload()
    messages = page.locator(f"{USER}, {ASSISTANT}")
    expect(messages).to_have_count(2)
    expect(page.locator(QUESTIONS)).to_have_text(["And what are spring tides?"])

    page.get_by_role("link", name="Load earlier messages").click()

    expect(messages).to_have_count(4)
    expect(page.locator(QUESTIONS)).to_have_text(["How do tides work?", "And what are spring tides?"])
    expect(page.locator(LOAD_EARLIER)).to_have_count(0)  # nothing before the first message
    assert page.url.endswith("/")  # still the chat's own page, its socket open: no navigation
