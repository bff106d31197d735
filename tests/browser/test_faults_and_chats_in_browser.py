"""Faults that heal and chats that say what they are, in a real browser (issue 17): a failed reply does not
poison the chat, Retry works and the stale one goes, Delete chat asks first, feedback and appeal status
and ended chats in the list survive a reload."""

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import (
    USER,
    WHOLE_REPLY,
    body,
    expect_complete,
    expect_sent,
    reply,
    send,
    start_chat,
    wait_connected,
)
from tests.browser.test_ending_in_browser import SNAPSHOT_PROBE, end_with_button

pytestmark = pytest.mark.browser

RETRY = {"role": "button", "name": "Retry"}


@pytest.fixture(autouse=True)
def count_snapshots(context: BrowserContext) -> None:
    context.add_init_script(SNAPSHOT_PROBE)  # end_with_button waits for the end's snapshot


def expect_failed(page: Page, number: int) -> None:
    failed = reply(page, number)
    expect(failed).to_have_attribute("data-status", "failed", timeout=WHOLE_REPLY)
    expect(failed.get_by_role("button", name="Retry")).to_be_visible()


def expect_title(page: Page, title: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    chats = page.get_by_role("navigation", name="Your chats")
    expect(chats.locator('a[aria-current="page"]')).to_have_text(title)


def test_a_failed_message_is_not_merged_into_the_next_one_nor_names_the_chat(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "Tell me about owls [fault:server]")
    expect_sent(page, "Tell me about owls [fault:server]")
    expect_failed(page, 1)
    expect_title(page, "New chat")

    # The user writes on instead of retrying: the next reply is to this message alone, and it works.
    send(page, "How do tides work?")
    expect_sent(page, "How do tides work?")
    expect_complete(reply(page, 2))
    expect(body(reply(page, 2))).not_to_be_empty()
    expect_title(page, "How do tides work?")
    expect(page.get_by_role(**RETRY)).to_have_count(0)

    page.reload()
    expect_title(page, "How do tides work?")
    expect(page.locator(USER)).to_have_count(2)
    expect(page.get_by_role(**RETRY)).to_have_count(0)
    expect_complete(reply(page, 2))


def test_retry_after_a_fault_succeeds_and_no_stale_retry_stays(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "Write a haiku about rain [fault:overloaded]")
    expect_failed(page, 1)
    reply(page, 1).get_by_role("button", name="Retry").click()

    expect_complete(reply(page, 2))
    expect(page.get_by_role(**RETRY)).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("[fault:")
    page.reload()
    expect(page.get_by_role(**RETRY)).to_have_count(0)
    expect_complete(reply(page, 2))
    expect(page.get_by_role("heading", level=1)).not_to_contain_text("[fault:")

    # A fault strikes once per call: the same words sent again later fail again, and heal again.
    send(page, "Another haiku [fault:midstream]")
    interrupted = reply(page, 3)
    expect(interrupted).to_have_attribute("data-status", "interrupted", timeout=WHOLE_REPLY)
    expect(page.get_by_role(**RETRY)).to_have_count(1)
    interrupted.get_by_role("button", name="Retry").click()
    expect_complete(reply(page, 4))
    expect(page.get_by_role(**RETRY)).to_have_count(0)


def test_delete_chat_asks_first(page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    send(page, "Keep this one")
    expect_complete(reply(page, 1))

    page.get_by_text("Chat options").click()
    page.get_by_role("button", name="Delete chat").click()
    dialog = page.get_by_role("dialog", name="Delete this chat?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("cannot be opened again")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert page.url == url
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Keep this one")

    page.get_by_text("Chat options").click()
    page.get_by_role("button", name="Delete chat").click()
    page.get_by_role("dialog", name="Delete this chat?").get_by_role("button", name="Delete chat").click()
    page.wait_for_url(app_server.url + "/")
    expect(page.get_by_role("status").filter(has_text="Chat deleted.")).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Your chats").get_by_role("link", name="Keep this one")
    ).to_have_count(0)


def test_delete_chat_asks_first_without_javascript(new_context, app_server):
    page = new_context(java_script_enabled=False).new_page()
    sign_up(page, app_server.url)
    page.get_by_role("button", name="New chat", exact=True).click()
    page.get_by_label("Message", exact=True).fill("Gone soon")
    page.get_by_role("button", name="Send").click()
    chat_url = page.url.split("#")[0]

    page.get_by_text("Chat options").click()
    page.get_by_role("button", name="Delete chat").click()
    expect(page.get_by_role("heading", name="Delete this chat?")).to_be_visible()
    page.get_by_role("button", name="Delete chat").click()
    page.wait_for_url(app_server.url + "/")
    assert page.goto(chat_url).status == 404


def test_feedback_and_appeal_status_stay_after_a_reload(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, "Hello there")
    expect_complete(reply(page, 1))
    end_with_button(page)
    banner = page.locator('[data-role="ended-banner"]')

    banner.get_by_text("Give feedback").click()
    banner.get_by_label("Anything else? (optional)").fill("I pressed it by mistake.")
    banner.get_by_role("button", name="Send feedback").click()
    feedback = banner.get_by_role("status").filter(has_text="your feedback reached Bowout's staff")
    expect(feedback).to_be_visible()

    page.reload()
    expect(feedback).to_have_text("Thank you — your feedback reached Bowout's staff.")
    expect(banner.get_by_text("Give feedback")).to_have_count(0)

    banner.get_by_role("button", name="Ask staff to review this end").click()
    appeal = banner.get_by_role("status").filter(has_text="your request for a review reached Bowout's staff")
    expect(appeal).to_be_visible()
    page.reload()
    expect(appeal).to_contain_text("It is open")
    expect(feedback).to_be_visible()
    expect(banner.get_by_role("button", name="Ask staff to review this end")).to_have_count(0)


def test_the_chat_list_shows_which_chats_ended(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, "An open chat")
    expect_complete(reply(page, 1))
    start_chat(page)
    send(page, "A chat I will end")
    expect_complete(reply(page, 1))
    other = context.new_page()
    other.goto(page.url)
    wait_connected(other)

    end_with_button(page)

    for tab in (page, other):  # live, in this tab and in the chat's other tab
        chats = tab.get_by_role("navigation", name="Your chats")
        expect(chats.get_by_role("link", name=re.compile(r"^Ended: A chat I will end$"))).to_be_visible()
    page.reload()
    chats = page.get_by_role("navigation", name="Your chats")
    expect(chats.get_by_role("link", name=re.compile(r"^Ended: A chat I will end$"))).to_be_visible()
    expect(chats.get_by_role("link", name="An open chat", exact=True)).to_be_visible()
