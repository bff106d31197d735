"""The everyday features of issue 17 in a real browser: search, export, timestamps, regenerate with
versions, pin and archive, custom instructions."""

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import (
    CHAT_URL,
    expect_complete,
    reply,
    send,
    start_chat,
)

pytestmark = pytest.mark.browser


def chat_with_reply(page: Page, text: str) -> str:
    start_chat(page)
    send(page, text)
    expect_complete(reply(page, 1))
    return page.url


def open_chat_options(page: Page) -> None:
    page.get_by_text("Chat options").click()


def test_search_finds_my_chat_with_the_words_highlighted(page: Page, app_server):
    sign_up(page, app_server.url)
    url = chat_with_reply(page, "Tell me about the albatross and its wingspan")

    page.get_by_label("Search your chats").fill("albatross")
    page.get_by_role("button", name="Search", exact=True).click()

    expect(page).to_have_url(re.compile(r"/search/\?q=albatross$"))
    results = page.locator('[data-role="search-results"] li')
    expect(results.first.locator("mark").first).to_have_text(re.compile("albatross", re.I))
    results.first.get_by_role("link").click()
    # The link opens the page of the chat that holds the message (a long chat opens at its latest ones).
    expect(page).to_have_url(re.compile(re.escape(url) + r"\?before=\d+#msg-\d+$"))
    expect(page.locator('[data-role="user"]').filter(has_text="albatross")).to_be_visible()


def test_another_users_search_does_not_see_my_chat(new_context, app_server):
    mine, theirs = new_context().new_page(), new_context().new_page()
    sign_up(mine, app_server.url)
    chat_with_reply(mine, "My secret word is quokkaberry")
    sign_up(theirs, app_server.url)

    theirs.goto(app_server.url + "/search/?q=quokkaberry")

    expect(theirs.locator('[data-role="search-summary"]')).to_have_text(
        re.compile("No chat of yours matches")
    )


def test_a_chat_exports_as_markdown_and_json(page: Page, app_server, tmp_path):
    sign_up(page, app_server.url)
    chat_with_reply(page, "How do tides work?")
    open_chat_options(page)

    with page.expect_download() as markdown:
        page.locator('[data-role="export-chat"]').get_by_role("link", name="Markdown").click()
    with page.expect_download() as as_json:
        page.locator('[data-role="export-chat"]').get_by_role("link", name="JSON").click()

    text = markdown.value.path().read_text()
    assert text.startswith("# How do tides work?") and "## You" in text and "## Claude" in text
    record = json.loads(as_json.value.path().read_text())["conversations"][0]
    assert [m["role"] for m in record["messages"]] == ["user", "assistant"]
    assert record["messages"][0]["text"] == "How do tides work?"


def test_each_message_has_a_readable_timestamp(page: Page, app_server):
    sign_up(page, app_server.url)
    chat_with_reply(page, "Hello there")
    page.reload()

    stamps = page.locator("article.message time")
    expect(stamps).to_have_count(2)
    expect(stamps.first).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"))
    expect(stamps.first).to_have_text(re.compile(r"^\d{1,2} \w{3} \d{4}, \d\d:\d\d$"))


def test_regenerate_keeps_versions_to_page_between(page: Page, app_server):
    sign_up(page, app_server.url)
    chat_with_reply(page, "Give me an idea for a picnic")
    first_id = reply(page, 1).get_attribute("id")

    page.get_by_role("button", name="Regenerate").click()

    expect(page.locator(f"#{first_id}")).to_have_count(0)
    expect_complete(reply(page, 1))
    expect(page.locator('[data-role="version-count"]')).to_have_text("2/2")
    page.get_by_role("button", name="Previous version").click()
    expect(page.locator('[data-role="version-count"]')).to_have_text("1/2")
    expect(page.locator(f"#{first_id}")).to_be_visible()
    page.get_by_role("button", name="Next version").click()
    expect(page.locator('[data-role="version-count"]')).to_have_text("2/2")


def test_only_the_last_reply_offers_regenerate_after_a_new_message(page: Page, app_server):
    sign_up(page, app_server.url)
    chat_with_reply(page, "Give me an idea for a picnic")
    earlier = reply(page, 1)
    expect(earlier.get_by_role("button", name="Regenerate")).to_be_visible()

    send(page, "And one for a rainy day?")
    latest = reply(page, 2)
    expect_complete(latest)

    # The server refuses to regenerate an earlier reply (400): without a reload it is not offered either.
    expect(earlier.get_by_role("button", name="Regenerate")).to_have_count(0)
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(1)
    expect(latest.get_by_role("button", name="Regenerate")).to_be_visible()


def test_an_ended_chat_offers_no_regenerate(page: Page, app_server):
    sign_up(page, app_server.url)
    chat_with_reply(page, "Hello there")
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible()

    page.locator('[data-role="end-chat"]').click()
    page.locator("#end-dialog").get_by_role("button", name="End chat").click()

    expect(page.locator('[data-role="ended-banner"]')).to_be_visible()
    expect(page.get_by_role("button", name="Regenerate")).to_have_count(0)


def test_pinned_chats_come_first_and_archived_ones_leave_the_list(page: Page, app_server):
    sign_up(page, app_server.url)
    first = chat_with_reply(page, "First chat about owls")
    page.goto(app_server.url + "/")
    chat_with_reply(page, "Second chat about bees")
    chats = page.locator("#conversation-list li a")
    expect(chats.first).to_have_text(re.compile("bees"))

    page.goto(first)
    open_chat_options(page)
    page.get_by_role("button", name="Pin", exact=True).click()
    expect(chats.first).to_have_text(re.compile("owls"))
    expect(page.locator('[data-role="pinned"]')).to_have_count(1)

    open_chat_options(page)
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page).to_have_url(app_server.url + "/")
    expect(page.locator("#conversation-list")).not_to_contain_text("owls")
    page.get_by_role("link", name="Archived chats").click()
    page.get_by_role("link", name=re.compile("owls")).click()
    expect(page).to_have_url(CHAT_URL)


def test_custom_instructions_are_saved_and_a_too_long_text_is_kept_with_the_error(page: Page, app_server):
    sign_up(page, app_server.url)
    page.get_by_role("link", name="Settings").click()
    box = page.get_by_label("Custom instructions")

    box.fill("I'm a nurse; keep answers short.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Settings saved")).to_be_visible()
    expect(box).to_have_value("I'm a nurse; keep answers short.")

    too_long = "x" * 1501
    box.fill(too_long)
    page.get_by_role("button", name="Save").click()
    expect(page.locator('[data-role="error"]')).to_contain_text("at most 1,500 characters")
    expect(box).to_have_value(too_long)
