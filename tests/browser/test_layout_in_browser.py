"""The page's layout on a desktop and on a phone: the window itself never scrolls (the header stays), the
message list scrolls with its newest message or the end banner in view, long words wrap, and on a 390 px
phone the chat list folds into a menu, the composer stays on screen and nothing overflows sideways."""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import PASSWORD, make_superuser, sign_up
from tests.browser.test_chat_in_browser import (
    USER,
    body,
    expect_complete,
    expect_sent,
    reply,
    send,
    start_chat,
)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
BANNER = '[data-role="ended-banner"]'
# Eighty lines: taller than any screen, so the chat must scroll.
TALL = "\n".join(f"Line {n} of a long message" for n in range(1, 81))
LONG_WORD = "Supercalifragilistic" * 15  # 300 characters without a break

# How far the document itself can scroll, both ways: 0 when only inner parts scroll.
WINDOW_OVERFLOW = """() => {
  const root = document.scrollingElement;
  return {x: root.scrollWidth - window.innerWidth, y: root.scrollHeight - window.innerHeight};
}"""


# Where the message list is scrolled to, and how far it can go.
LIST_SCROLL = """() => {
  const list = document.getElementById("messages");
  return {top: Math.round(list.scrollTop), end: list.scrollHeight - list.clientHeight};
}"""


def window_overflow(page: Page) -> dict[str, int]:
    return page.evaluate(WINDOW_OVERFLOW)


def list_scroll(page: Page) -> dict[str, int]:
    return page.evaluate(LIST_SCROLL)


def inside_screen(page: Page, locator: Locator) -> None:
    """Wholly on screen, neither cut off to a side nor below the fold."""
    box = locator.bounding_box()
    assert box is not None, "not rendered"
    size = page.viewport_size
    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 0.5, box


def say(page: Page, text: str, number: int) -> Locator:
    send(page, text)
    expect_sent(page, text)
    answer = reply(page, number)
    expect_complete(answer)
    return answer


def test_a_long_chat_scrolls_in_its_list_and_the_header_stays(new_context, app_server):
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page, app_server.url)
    start_chat(page)

    answer = say(page, TALL, 1)

    expect(answer).to_be_in_viewport()
    assert window_overflow(page) == {"x": 0, "y": 0}
    inside_screen(page, page.get_by_role("banner"))
    inside_screen(page, page.get_by_label("Message", exact=True))
    page.reload()
    # On load the list is scrolled to its end, the newest message in view; the header is still there.
    expect(reply(page, 1)).to_be_in_viewport()
    scroll = list_scroll(page)
    assert scroll["end"] > 500 and abs(scroll["top"] - scroll["end"]) <= 1, scroll
    assert window_overflow(page) == {"x": 0, "y": 0}
    inside_screen(page, page.get_by_role("banner"))
    page.mouse.move(640, 400)
    page.mouse.wheel(0, -5000)  # the list scrolls up on its own; the header and composer stay
    page.wait_for_function("() => document.getElementById('messages').scrollTop === 0")
    expect(page.locator(USER).locator(".message__author")).to_be_in_viewport()
    inside_screen(page, page.get_by_role("banner"))
    inside_screen(page, page.get_by_label("Message", exact=True))


def test_an_ended_long_chat_shows_its_banner_after_a_reload(new_context, app_server):
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    say(page, TALL, 1)
    page.get_by_role("button", name="End chat").click()
    page.get_by_role("dialog", name="End this chat?").get_by_role("button", name="End chat").click()
    expect(page.locator(BANNER)).to_be_visible()

    page.reload()

    inside_screen(page, page.locator(BANNER).get_by_role("heading", name="You ended this conversation"))
    inside_screen(page, page.get_by_role("button", name="New chat", exact=True).first)
    expect(reply(page, 1)).to_be_in_viewport()
    assert window_overflow(page) == {"x": 0, "y": 0}


def test_very_long_words_wrap_in_the_chat_and_in_the_audit(new_context, app_server):
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    say(page, LONG_WORD, 1)
    page.get_by_role("button", name="End chat").click()
    dialog = page.get_by_role("dialog", name="End this chat?")
    dialog.get_by_label("Reason (optional)").fill(LONG_WORD)
    dialog.get_by_role("button", name="End chat").click()
    expect(page.locator(BANNER)).to_contain_text(LONG_WORD)
    page.reload()

    assert window_overflow(page) == {"x": 0, "y": 0}
    page.mouse.move(640, 400)
    page.mouse.wheel(0, -5000)
    for part in (body(page.locator(USER)), page.locator(BANNER), page.get_by_role("heading", level=1)):
        inside_screen(page, part)

    staff = new_context(viewport=DESKTOP).new_page()
    email = make_superuser(app_server)
    staff.goto(app_server.url + "/admin/login/")  # sends staff to the one login form, allauth's
    staff.get_by_label("Email").fill(email)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign In").click()
    staff.wait_for_url(re.compile(r"/admin/$"))
    staff.goto(app_server.url + "/admin/welfare_admin/endedconversation/")
    expect(staff.get_by_role("link", name=LONG_WORD[:20])).to_be_visible()
    assert window_overflow(staff)["x"] == 0
    staff.get_by_role("link", name=LONG_WORD[:20]).click()
    expect(staff.get_by_text(LONG_WORD).first).to_be_visible()
    assert window_overflow(staff)["x"] == 0
    heading = staff.get_by_role("heading", level=1)
    assert heading.evaluate("h => h.scrollWidth <= h.clientWidth"), "the chat's title runs out of its heading"
    inside_screen(staff, heading)


def test_on_a_phone_the_chat_fits_the_screen(new_context, app_server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    first_chat = page.url
    say(page, LONG_WORD, 1)  # also the chat's title: one long word
    say(page, TALL, 2)

    page.reload()

    assert window_overflow(page) == {"x": 0, "y": 0}
    inside_screen(page, page.get_by_role("button", name="Log out"))
    inside_screen(page, page.get_by_role("link", name="Password"))
    inside_screen(page, page.get_by_role("heading", level=1))
    inside_screen(page, page.get_by_label("Message", exact=True))
    inside_screen(page, page.get_by_role("button", name="Send", exact=True))
    inside_screen(page, page.get_by_role("button", name="End chat"))
    expect(reply(page, 2)).to_be_in_viewport()
    # The chat list is a menu: folded, it takes one line; opened, it lists the chats over the chat.
    chats = page.get_by_role("navigation", name="Your chats")
    link = chats.get_by_role("link", name=LONG_WORD[:20])
    expect(link).to_be_hidden()
    nav_box = chats.bounding_box()
    assert nav_box is not None and nav_box["height"] < 80, nav_box
    chats.locator("summary", has_text="Your chats").click()
    expect(link).to_be_visible()
    inside_screen(page, link)
    assert window_overflow(page) == {"x": 0, "y": 0}
    chats.get_by_role("button", name="New chat").click()
    page.wait_for_url(lambda url: url != first_chat)
    inside_screen(page, page.get_by_label("Message", exact=True))
