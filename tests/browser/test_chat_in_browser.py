"""Chatting in a real browser against a real server: what a person sees on the page, and nothing else."""

import re

import pytest
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.browser.conftest import sign_up

pytestmark = pytest.mark.browser

USER = '[data-role="user"]'
ASSISTANT = '[data-role="assistant"]'
STREAMING = '[data-role="assistant"][data-status="streaming"]'
SLOW_REPLY = 20_000  # ms; a whole reply at the test server's pace takes a few seconds

# The streaming reply's text, read in one step so the reply cannot finish between "is it streaming?" and
# "what does it say?".
STREAMING_TEXT = f"""() => {{
  const body = document.querySelector('{STREAMING} .message__body');
  return body ? body.innerText : null;
}}"""
STREAMING_TEXT_LONGER_THAN = f"""(length) => {{
  const body = document.querySelector('{STREAMING} .message__body');
  return body !== null && body.innerText.trim().length > length ? body.innerText : null;
}}"""


def start_chat(page: Page) -> str:
    """Press "New chat" and wait until the page's live connection is open; returns the chat's URL."""
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]{36}/$"))
    wait_connected(page)
    return page.url


def wait_connected(page: Page, opens: int = 1) -> None:
    expect(page.locator("html")).to_have_attribute("data-ws-opens", str(opens))


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def text_while_streaming(page: Page, longer_than: int = 0) -> str:
    """Wait until the streaming reply shows more than `longer_than` characters, and return its text."""
    return page.wait_for_function(STREAMING_TEXT_LONGER_THAN, arg=longer_than).json_value()


def expect_reply_grows(page: Page) -> None:
    first = text_while_streaming(page)
    second = text_while_streaming(page, longer_than=len(first.strip()))
    assert len(second.strip()) > len(first.strip())


def last_reply(page: Page):
    return page.locator(ASSISTANT).last


def test_a_reply_streams_in_and_is_kept(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    question = "Tell me about the history of tea"

    send(page, question)

    expect(page.locator(USER)).to_have_text(re.compile(re.escape(question)))
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    expect_reply_grows(page)
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete", timeout=SLOW_REPLY)
    text = reply.locator(".message__body").inner_text()
    assert len(text.split()) > 10

    page.reload()
    expect(last_reply(page).locator(".message__body")).to_have_text(text)
    expect(page.locator(USER).locator(".message__body")).to_have_text(question)
    chats = page.get_by_role("navigation", name="Your chats")
    expect(chats.get_by_role("link", name=question)).to_have_attribute("aria-current", "page")


def test_enter_sends_and_shift_enter_adds_a_line(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    box = page.get_by_label("Message", exact=True)

    box.click()
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    page.keyboard.press("Enter")

    expect(page.locator(USER).locator(".message__body")).to_have_text("first line\nsecond line")
    expect(box).to_have_value("")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=SLOW_REPLY)


def test_stop_keeps_the_text_written_so_far(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "Write me something long [fault:slow]")
    text_while_streaming(page, longer_than=20)
    page.get_by_role("button", name="Stop").click()

    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.locator('[data-role="stopped"]')).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    kept = reply.locator(".message__body").inner_text()
    assert len(kept.split()) > 3

    page.reload()
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "stopped")
    expect(reply.locator(".message__body")).to_have_text(kept)


def test_a_reply_streams_into_a_second_tab(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    other = context.new_page()
    other.goto(url)
    wait_connected(other)

    send(page, "Hello from the first tab")

    expect(other.locator(USER).locator(".message__body")).to_have_text("Hello from the first tab")
    expect_reply_grows(other)
    expect(last_reply(other)).to_have_attribute("data-status", "complete", timeout=SLOW_REPLY)
    expect(last_reply(page)).to_have_attribute("data-status", "complete")
    expect(last_reply(other).locator(".message__body")).to_have_text(last_reply(page).locator(".message__body").inner_text())


def test_a_model_error_says_what_happened_and_offers_retry(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "hello [fault:overloaded]")

    error = last_reply(page).get_by_role("alert")
    expect(error).to_contain_text(re.compile("overloaded", re.IGNORECASE), timeout=SLOW_REPLY)
    expect(error.get_by_role("button", name="Retry")).to_be_visible()


def test_the_page_reconnects_and_shows_what_it_missed(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    # The first tab's socket goes through a route, so the test can drop it as a server restart would
    # (close code 1012) and hold the page's reconnection until the missed activity has happened.
    routes: list[WebSocketRoute] = []

    def handle(ws: WebSocketRoute) -> None:
        routes.append(ws)
        if len(routes) == 1:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/c/"), handle)
    url = start_chat(page)
    send(page, "Before the drop")
    expect(last_reply(page)).to_have_attribute("data-status", "complete", timeout=SLOW_REPLY)

    routes[0].close(code=1012, reason="Service restart")
    expect(page.locator("#connection-status")).to_have_text("Connection lost. Reconnecting…")

    other = context.new_page()
    other.goto(url)
    wait_connected(other)
    send(other, "While the first tab was away")
    expect(last_reply(other)).to_have_attribute("data-status", "complete", timeout=SLOW_REPLY)
    missed = last_reply(other).locator(".message__body").inner_text()

    expect.poll  # noqa: B018
    expect(page.locator(USER)).to_have_count(1)
    expect(lambda: len(routes) == 2)
    routes[1].connect_to_server()

    expect(page.locator(USER)).to_have_count(2)
    expect(page.locator(USER).last).to_contain_text("While the first tab was away")
    expect(last_reply(page).locator(".message__body")).to_have_text(missed)
    expect(page.locator("#connection-status")).to_be_hidden()


def test_chatting_works_without_javascript(new_context, app_server):
    page = new_context(java_script_enabled=False).new_page()
    sign_up(page, app_server.url)
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]{36}/$"))

    send(page, "Hello without scripts")

    page.wait_for_url(re.compile(r"/c/[0-9a-f-]{36}/#msg-\d+$"), timeout=SLOW_REPLY)
    expect(page.locator(USER).locator(".message__body")).to_have_text("Hello without scripts")
    reply = last_reply(page)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".message__body")).to_have_text(re.compile(r"\w+( \w+){5}"))


def test_another_users_chat_is_not_found(new_context, app_server):
    alice = new_context().new_page()
    sign_up(alice, app_server.url)
    url = start_chat(alice)
    send(alice, "Alice's private question")
    expect(alice.locator(USER)).to_have_count(1)

    bob = new_context().new_page()
    sign_up(bob, app_server.url)
    response = bob.goto(url)

    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(bob.get_by_text("Alice's private question")).to_have_count(0)
