"""The look people see (issue 17) in a real browser: a compact composer that grows, ready to type, themes
that follow the system and a remembered toggle, a phone layout with every helpline a tap away, and replies
whose code is highlighted and copyable and whose tables and code scroll inside their own boxes."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import expect_complete, reply, send, start_chat

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
CODE_AND_TABLE = "Compare databases for a small app in a table, with python code for retries"


def height(page: Page, selector: str) -> float:
    return page.locator(selector).bounding_box()["height"]


def test_the_composer_is_one_line_grows_to_forty_percent_and_is_ready_to_type(new_context, app_server):
    page = new_context(viewport=DESKTOP).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    box = page.get_by_label("Message", exact=True)

    expect(box).to_be_focused()  # on load, without a click
    one_line = height(page, "#message-text")
    assert one_line < 48, one_line
    box.fill("\n".join(f"line {n}" for n in range(4)))
    four_lines = height(page, "#message-text")
    assert four_lines > one_line * 2.5, (one_line, four_lines)
    box.fill("\n".join(f"line {n}" for n in range(80)))
    tallest = height(page, "#message-text")
    assert DESKTOP["height"] * 0.3 < tallest <= DESKTOP["height"] * 0.4 + 1, tallest

    # From the top of a fresh page, the skip link is the first Tab stop and lands in the message box.
    page.reload()
    page.evaluate(
        "() => { document.body.tabIndex = -1; document.body.focus(); document.body.removeAttribute('tabindex'); }"
    )
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to the message box")).to_be_focused()
    page.keyboard.press("Enter")
    expect(box).to_be_focused()


def test_the_theme_follows_the_system_and_the_toggle_is_remembered(new_context, app_server):
    page = new_context(color_scheme="dark").new_page()
    sign_up(page, app_server.url)
    background = "getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(background)
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "true")

    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    light = page.evaluate(background)
    assert light != dark
    page.reload()
    expect(page.get_by_role("button", name="Dark theme")).to_have_attribute("aria-pressed", "false")
    assert page.evaluate(background) == light
    page.goto(app_server.url + "/accounts/password/change/")  # every page, the account pages too
    assert page.evaluate(background) == light

    # Focus is visible: a ring of at least 2 px on whatever the keyboard reached.
    page.keyboard.press("Tab")
    outline = page.evaluate("parseFloat(getComputedStyle(document.activeElement).outlineWidth)")
    assert outline >= 2


def test_on_a_phone_the_support_panel_shows_every_helpline_as_a_link(new_context, app_server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, "I want to die")
    expect_complete(reply(page, 1))

    support = page.get_by_role("complementary", name="Support")
    expect(support).to_be_visible()
    helplines = support.get_by_role("listitem")
    assert helplines.count() == 4
    for index in range(helplines.count()):
        expect(helplines.nth(index)).to_be_in_viewport(ratio=1)
    expect(support.locator('a[href="tel:988"]')).to_be_visible()
    expect(support.locator('a[href="sms:988"]')).to_be_visible()
    expect(support.locator('a[href="tel:116123"]')).to_have_text("116 123")
    expect(support.locator('a[href="https://findahelpline.com"]')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_on_a_phone_the_ended_banner_is_compact(new_context, app_server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, "Please end this chat.")
    expect_complete(reply(page, 1))
    send(page, "Yes")
    banner = page.locator('[data-role="ended-banner"]')
    expect(banner).to_be_visible(timeout=20_000)
    page.reload()

    assert height(page, '[data-role="ended-banner"]') < PHONE["height"] * 0.4
    expect(banner.get_by_role("button", name="New chat")).to_be_in_viewport(ratio=1)
    expect(banner.get_by_role("button", name="Ask staff to review this end")).to_be_in_viewport(ratio=1)


def test_code_is_highlighted_and_copied_and_wide_blocks_scroll_in_their_own_box(new_context, app_server):
    context = new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, CODE_AND_TABLE)
    answer = reply(page, 1)
    expect_complete(answer)

    code = answer.get_by_role("region", name="Python code")
    expect(code).to_be_visible()
    expect(code.locator("span.k").first).to_have_text(re.compile(r"^(def|import|for|return|try)$"))
    keyword_colour = code.locator("span.k").first.evaluate("e => getComputedStyle(e).color")
    assert keyword_colour != code.evaluate("e => getComputedStyle(e).color")

    answer.get_by_role("button", name="Copy code").click()
    expect(answer.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(code.inner_text().strip()[:40]) and "<span" not in copied

    table = answer.get_by_role("region", name="Table")
    expect(table).to_have_attribute("tabindex", "0")
    assert table.evaluate("e => e.scrollWidth > e.clientWidth")  # wider than the phone: it scrolls inside
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    table.focus()
    expect(table).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.scrollLeft > 0")

    expect(answer.locator("math").first).to_be_visible()  # $L \\approx n \\cdot r$ as MathML

    answer.get_by_role("button", name="Copy", exact=True).click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("Here's a side-by-side comparison")


# The words of each table cell that a line break cuts in two (a word drawn as more than one box).
WORDS_SPLIT_IN_CELLS = """(table) => {
  const split = [];
  for (const cell of table.querySelectorAll("th, td")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.data.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        if (range.getClientRects().length > 1) split.push(match[0]);
      }
    }
  }
  return split;
}"""


def test_on_a_phone_table_cells_keep_their_words_whole(new_context, app_server):
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_up(page, app_server.url)
    start_chat(page)
    send(page, CODE_AND_TABLE)
    answer = reply(page, 1)
    expect_complete(answer)

    table = answer.get_by_role("region", name="Table")
    assert table.evaluate(WORDS_SPLIT_IN_CELLS) == []  # "PostgreSQL", not "Postgre" / "SQL"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
