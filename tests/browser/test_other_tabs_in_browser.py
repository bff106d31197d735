"""What a chat's other open tabs see when it changes elsewhere: a new title, a delete ("This chat was
deleted."), or a session that ended ("You have been signed out. Log in again.") instead of "Reconnecting…"
forever."""

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import start_chat, wait_connected

pytestmark = pytest.mark.browser

STATUS = "#connection-status"


def open_second_tab(context: BrowserContext, url: str) -> Page:
    other = context.new_page()
    other.goto(url)
    wait_connected(other)
    return other


def test_a_rename_shows_in_the_chats_other_tab(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    other = open_second_tab(context, url)

    page.get_by_text("Chat options").click()
    page.get_by_label("Title", exact=True).fill("Notes on owls")
    page.get_by_role("button", name="Rename").click()

    expect(other.get_by_role("heading", level=1)).to_have_text("Notes on owls")
    chats = other.get_by_role("navigation", name="Your chats")
    expect(chats.get_by_role("link", name="Notes on owls")).to_have_attribute("aria-current", "page")
    expect(other).to_have_title("Notes on owls · Bowout")
    expect(other.locator(STATUS)).to_be_hidden()


def test_a_deleted_chats_other_tab_says_so_and_stops_reconnecting(
    context: BrowserContext, page: Page, app_server
):
    sign_up(page, app_server.url)
    url = start_chat(page)
    other = open_second_tab(context, url)

    page.get_by_text("Chat options").click()
    page.get_by_role("button", name="Delete chat").click()
    page.get_by_role("dialog", name="Delete this chat?").get_by_role("button", name="Delete chat").click()
    page.wait_for_url(app_server.url + "/")
    expect(page.get_by_role("status").filter(has_text="Chat deleted.")).to_be_visible()

    status = other.locator(STATUS)
    expect(status).to_be_visible()
    expect(status).to_contain_text("This chat was deleted.")
    expect(status.get_by_role("link", name="Back to your chats")).to_have_attribute("href", "/")
    expect(other.get_by_label("Message", exact=True)).not_to_be_editable()
    other.wait_for_timeout(1500)  # the ws extension's first retry would come within a second
    expect(other.locator("html")).to_have_attribute("data-ws-opens", "1")
    expect(status).not_to_contain_text("Reconnecting")


def test_a_tab_whose_session_ended_says_log_in_again(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    wait_connected(page)
    # Logged out in another tab: the server closes this tab's socket at once (issue 7).
    other = context.new_page()
    other.goto(app_server.url + "/")
    other.get_by_role("button", name="Log out").click()
    other.wait_for_url(re.compile(r"/accounts/login/|/$"))

    status = page.locator(STATUS)
    expect(status).to_contain_text("You have been signed out. Log in again.")
    login = status.get_by_role("link", name="Log in")
    expect(login).to_have_attribute("href", re.compile(r"^/accounts/login/\?next="))
    page.wait_for_timeout(1500)
    expect(page.locator("html")).to_have_attribute("data-ws-opens", "1")  # no retry after the 4401
    login.click()
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    assert url.removeprefix(app_server.url) in page.url.replace("%2F", "/")
