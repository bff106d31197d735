"""Chatting in a real browser against a real server: what a person sees on the page, and nothing else."""

import re

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from tests.browser.conftest import sign_up

pytestmark = pytest.mark.browser

USER = '[data-role="user"]'
ASSISTANT = '[data-role="assistant"]'
STREAMING = '[data-role="assistant"][data-status="streaming"]'
CHAT_URL = re.compile(r"/c/[0-9a-f-]{36}/$")
AT_ONCE = 5_000  # ms: a sent message is on the page long before any reply could be
WHOLE_REPLY = 20_000  # ms: a whole reply at the test server's pace takes a few seconds

# The streaming reply's text once it is longer than `length`, read in one step so that the reply cannot
# finish between "is it still streaming?" and "what does it say?".
STREAMING_TEXT_LONGER_THAN = f"""(length) => {{
  const body = document.querySelector('{STREAMING} .message__body');
  return body !== null && body.innerText.trim().length > length ? body.innerText.trim() : null;
}}"""


def start_chat(page: Page) -> str:
    """Press "New chat" and wait until the page's live connection is open; returns the chat's URL."""
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(CHAT_URL)
    wait_connected(page)
    return page.url


def wait_connected(page: Page, opens: int = 1) -> None:
    expect(page.locator("html")).to_have_attribute("data-ws-opens", str(opens))


def send(page: Page, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()


def expect_sent(page: Page, text: str) -> None:
    """The message just sent shows at once, as the user's."""
    expect(page.locator(USER).last.locator(".message__body")).to_have_text(text, timeout=AT_ONCE)


def reply(page: Page, number: int) -> Locator:
    """The page's `number`th reply (1-based), waiting until there are that many."""
    expect(page.locator(ASSISTANT)).to_have_count(number)
    return page.locator(ASSISTANT).nth(number - 1)


def body(message: Locator) -> Locator:
    return message.locator(".message__body")


def text_while_streaming(page: Page, longer_than: int = 0) -> str:
    """Wait until the streaming reply shows more than `longer_than` characters; return its text."""
    return page.wait_for_function(STREAMING_TEXT_LONGER_THAN, arg=longer_than).json_value()


def expect_reply_grows(page: Page) -> None:
    """Read the streaming reply twice: the second reading, still streaming, is longer."""
    first = text_while_streaming(page)
    second = text_while_streaming(page, longer_than=len(first))
    assert second.startswith(first[:20]) and len(second) > len(first)


def expect_complete(message: Locator) -> None:
    expect(message).to_have_attribute("data-status", "complete", timeout=WHOLE_REPLY)


def test_a_reply_streams_in_and_is_kept(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    question = "Tell me about the history of tea"

    send(page, question)

    expect_sent(page, question)
    expect(page.get_by_label("Message", exact=True)).to_have_value("")
    expect_reply_grows(page)
    answer = reply(page, 1)
    expect_complete(answer)
    text = body(answer).inner_text()
    assert len(text.split()) > 10

    page.reload()
    expect(body(reply(page, 1))).to_have_text(text)
    expect(body(page.locator(USER))).to_have_text(question)
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

    expect_sent(page, "first line\nsecond line")
    expect(box).to_have_value("")
    expect_complete(reply(page, 1))


def test_stop_keeps_the_text_written_so_far(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "Write me something long [fault:slow]")
    expect_sent(page, "Write me something long [fault:slow]")
    text_while_streaming(page, longer_than=20)
    page.get_by_role("button", name="Stop").click()

    stopped = reply(page, 1)
    expect(stopped).to_have_attribute("data-status", "stopped")
    expect(stopped.locator('[data-role="stopped"]')).to_contain_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)
    kept = body(stopped).inner_text()
    assert len(kept.split()) > 3

    page.reload()
    stopped = reply(page, 1)
    expect(stopped).to_have_attribute("data-status", "stopped")
    expect(body(stopped)).to_have_text(kept)


def test_a_reply_streams_into_a_second_tab(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    other = context.new_page()
    other.goto(url)
    wait_connected(other)

    send(page, "Hello from the first tab")

    expect_sent(page, "Hello from the first tab")
    expect_sent(other, "Hello from the first tab")
    expect_reply_grows(other)
    expect_complete(reply(other, 1))
    expect_complete(reply(page, 1))
    expect(body(reply(other, 1))).to_have_text(body(reply(page, 1)).inner_text())


def test_a_model_error_says_what_happened_and_offers_retry(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    send(page, "hello [fault:overloaded]")

    expect_sent(page, "hello [fault:overloaded]")
    error = reply(page, 1).get_by_role("alert")
    expect(error).to_contain_text(re.compile("overloaded", re.IGNORECASE), timeout=WHOLE_REPLY)
    expect(error.get_by_role("button", name="Retry")).to_be_visible()


def test_the_page_reconnects_and_shows_what_it_missed(context: BrowserContext, page: Page, app_server):
    sign_up(page, app_server.url)
    # This tab's sockets go through a route, so the test can drop one the way a server restart does
    # (close code 1012) and hold the page's own reconnection until there is something it missed.
    sockets: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        if len(sockets) == 1:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"/ws/c/"), route)
    url = start_chat(page)
    send(page, "Before the drop")
    expect_sent(page, "Before the drop")
    expect_complete(reply(page, 1))

    sockets[0].close(code=1012, reason="Service restart")
    expect(page.get_by_role("status").filter(has_text="Connection lost")).to_have_text(
        "Connection lost. Reconnecting…"
    )
    wait_connected(page, opens=2)  # the page opened a new socket by itself; the route holds it for now

    other = context.new_page()
    other.goto(url)
    wait_connected(other)
    send(other, "While the first tab was away")
    expect_sent(other, "While the first tab was away")
    expect_complete(reply(other, 2))
    missed = body(reply(other, 2)).inner_text()
    expect(page.locator(USER)).to_have_count(1)

    sockets[1].connect_to_server()

    expect(page.locator(USER)).to_have_count(2)
    expect(body(page.locator(USER).last)).to_have_text("While the first tab was away")
    expect(body(reply(page, 2))).to_have_text(missed)
    expect(page.locator("#connection-status")).to_be_hidden()


def test_chatting_works_without_javascript(new_context, app_server):
    page = new_context(java_script_enabled=False).new_page()
    sign_up(page, app_server.url)
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(CHAT_URL)

    send(page, "Hello without scripts")

    # The form posts and the server answers once the reply is written, with a redirect to it.
    page.wait_for_url(re.compile(r"/c/[0-9a-f-]{36}/#msg-\d+$"), timeout=WHOLE_REPLY)
    expect(body(page.locator(USER))).to_have_text("Hello without scripts")
    answer = reply(page, 1)
    expect(answer).to_have_attribute("data-status", "complete")
    expect(body(answer)).to_have_text(re.compile(r"\w+( \w+){5}"))


def test_another_users_chat_is_not_found(new_context, app_server):
    alice = new_context().new_page()
    sign_up(alice, app_server.url)
    url = start_chat(alice)
    alice.get_by_text("Chat options").click()
    alice.get_by_label("Title", exact=True).fill("Alice's private chat")
    alice.get_by_role("button", name="Rename").click()
    expect(alice.get_by_role("heading", name="Alice's private chat")).to_be_visible()

    bob = new_context().new_page()
    sign_up(bob, app_server.url)
    response = bob.goto(url)

    assert response is not None and response.status == 404
    expect(bob.get_by_role("heading", name="Not Found")).to_be_visible()
    expect(bob.get_by_text("Alice's private chat")).to_have_count(0)
