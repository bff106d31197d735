"""Ending a chat in a real browser: by Claude after persistent abuse or when asked, by the user's own
End chat button, and what an ended chat still offers (reading, branching, feedback) and refuses."""

import re

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import (
    ASSISTANT,
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

pytestmark = pytest.mark.browser

BANNER = '[data-role="ended-banner"]'
WARNING = "If this continues, I may end this conversation."
ENDING_NOW = "I'm ending this conversation now."
CONFIRM_PROMPT = "Reply yes to end it."
ENDED_REFUSAL = "This conversation has ended"
# The form-post redirect to a reply, as the server answers a branch once its reply is written.
BRANCH_URL = re.compile(r"/c/[0-9a-f-]{36}/$")

# Counts the snapshots the socket delivers (on a connect when the page is out of date, and to every tab
# when a chat ends), through htmx's documented ws event. A snapshot replaces the whole message list,
# closing any "Edit" that was open, so a test that opens one after an end first waits for it.
SNAPSHOT_PROBE = """
document.addEventListener("htmx:wsAfterMessage", (evt) => {
  if (!String(evt.detail.message).includes('id="messages"')) return;
  const html = document.documentElement;
  html.dataset.wsSnapshots = String(Number(html.dataset.wsSnapshots || 0) + 1);
});
"""


@pytest.fixture(autouse=True)
def count_snapshots(context: BrowserContext) -> None:
    context.add_init_script(SNAPSHOT_PROBE)


def wait_for_snapshot(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("data-ws-snapshots", re.compile(r"^[1-9]"))


def nth_reply(page: Page, number: int) -> Locator:
    """The `number`th reply (1-based) of however many there are."""
    return page.locator(ASSISTANT).nth(number - 1)


def say(page: Page, text: str, number: int) -> Locator:
    """Send `text` and wait until the `number`th reply to it is complete; returns that reply's body."""
    send(page, text)
    expect_sent(page, text)
    answer = reply(page, number)
    expect_complete(answer)
    return body(answer)


def end_with_button(page: Page, note: str = "") -> None:
    """End the chat the way a user does: End chat, an optional reason, confirm in the dialog."""
    page.get_by_role("button", name="End chat").click()
    dialog = page.get_by_role("dialog", name="End this chat?")
    expect(dialog).to_be_visible()
    if note:
        dialog.get_by_label("Reason (optional)").fill(note)
    dialog.get_by_role("button", name="End chat").click()
    expect(page.locator(BANNER)).to_be_visible(timeout=WHOLE_REPLY)
    wait_for_snapshot(page)  # the end's snapshot, sent to every tab, has replaced the message list


def end_by_asking_claude(page: Page) -> None:
    """In a new chat: ask Claude to end it, and confirm."""
    expect(say(page, "Please end this chat.", 1)).to_contain_text(CONFIRM_PROMPT)
    say(page, "Yes", 2)


def expect_ended(page: Page, heading: str) -> Locator:
    """The ended banner with `heading`, and nothing left to write with; returns the banner."""
    banner = page.locator(BANNER)
    expect(banner.get_by_role("heading", name=heading)).to_be_visible(timeout=WHOLE_REPLY)
    expect(page.get_by_label("Message", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="End chat")).to_have_count(0)
    return banner


def expect_open(page: Page) -> None:
    expect(page.locator(BANNER)).to_have_count(0)
    expect(page.get_by_label("Message", exact=True)).to_be_editable()
    expect(page.get_by_role("button", name="Send", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="End chat")).to_be_visible()


def test_claude_ends_after_persistent_abuse_and_the_end_survives_a_reload(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    first = say(page, "You're stupid.", 1)
    second = say(page, "Shut up, stupid bot.", 2)
    for redirect in (first, second):
        expect(redirect).not_to_contain_text(WARNING)
    expect_open(page)
    expect(say(page, "You are worthless, idiot.", 3)).to_contain_text(WARNING)
    expect_open(page)
    expect(say(page, "I hate you, piece of junk.", 4)).to_contain_text(ENDING_NOW)

    def expect_ended_for_abuse() -> None:
        banner = expect_ended(page, "Claude ended this conversation")
        expect(banner.locator('[data-role="end-reason"]')).to_contain_text("abusive or harmful requests")
        expect(body(nth_reply(page, 3))).to_contain_text(WARNING)
        expect(body(nth_reply(page, 4))).to_contain_text(ENDING_NOW)
        expect(page.locator(USER)).to_have_count(4)

    expect_ended_for_abuse()
    page.reload()
    expect_ended_for_abuse()


def test_the_end_chat_button_asks_first_and_keeps_the_note(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    say(page, "How do tides work?", 1)
    dialog = page.get_by_role("dialog", name="End this chat?")

    page.get_by_role("button", name="End chat").click()
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Ending is permanent")
    dialog.get_by_role("button", name="Cancel").click()

    expect(dialog).to_be_hidden()
    expect_open(page)

    page.get_by_role("button", name="End chat").click()
    dialog.get_by_label("Reason (optional)").fill("Got what I needed, thanks.")
    dialog.get_by_role("button", name="End chat").click()

    banner = expect_ended(page, "You ended this conversation")
    expect(banner.locator('[data-role="end-reason"]')).to_contain_text(
        "Your note: “Got what I needed, thanks.”"
    )
    expect(body(reply(page, 1))).not_to_be_empty()


def test_a_second_tab_shows_the_end_at_once(page: Page, app_server):
    sign_up(page, app_server.url)
    url = start_chat(page)
    say(page, "Hello there", 1)
    other = page.context.new_page()
    other.goto(url)
    wait_connected(other)
    expect_open(other)
    # Lost on any reload or navigation, so finding it afterwards proves the tab was updated in place.
    other.evaluate("window.stillTheSamePage = true")

    end_with_button(page)

    expect_ended(other, "You ended this conversation")
    expect(body(reply(other, 1))).to_have_text(body(reply(page, 1)).inner_text())
    assert other.evaluate("window.stillTheSamePage") is True

    # The banner arrived over the socket; its "New chat" still works (htmx sends the CSRF header).
    other.locator('[data-role="ended-banner"]').get_by_role("button", name="New chat").click()
    other.wait_for_url(lambda new_url: new_url != url and BRANCH_URL.search(new_url) is not None)
    expect_open(other)


def test_editing_a_message_of_an_ended_chat_starts_an_open_branch(page: Page, app_server):
    sign_up(page, app_server.url)
    original = start_chat(page)
    first_answer = say(page, "Hello there", 1).inner_text()
    say(page, "How do tides work?", 2)
    end_with_button(page)

    # The second message, so the branch has earlier history to carry over.
    edited = page.locator(USER).nth(1)
    edited.get_by_text("Edit", exact=True).click()
    edited.get_by_label("Edited message").fill("How do volcanoes work?")
    # htmx posts it (with the page's CSRF header) and is sent on to the new chat, where the reply streams.
    with page.expect_navigation(timeout=WHOLE_REPLY) as branching:
        edited.get_by_role("button", name="Start new branch").click()

    assert branching.value is not None and branching.value.ok, f"answered {branching.value.status}"
    expect(page).to_have_url(BRANCH_URL)
    assert page.url.split("#")[0] != original
    expect(page.locator(USER)).to_have_count(2)
    expect(body(page.locator(USER).first)).to_have_text("Hello there")
    expect(body(nth_reply(page, 1))).to_have_text(first_answer)
    expect(body(page.locator(USER).last)).to_have_text("How do volcanoes work?")
    expect_complete(reply(page, 2))
    expect(body(reply(page, 2))).not_to_be_empty()
    expect_open(page)
    expect(page.locator(".branch-note")).to_contain_text("A branch of an earlier chat")

    page.get_by_role("link", name="an earlier chat").click()

    page.wait_for_url(original)
    expect_ended(page, "You ended this conversation")
    expect(body(page.locator(USER).last)).to_have_text("How do tides work?")


def test_a_crafted_post_to_an_ended_chat_is_refused(page: Page, app_server):
    base = app_server.url
    sign_up(page, base)
    url = start_chat(page)
    say(page, "Hello there", 1)
    end_with_button(page)
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")

    response = page.request.post(
        url + "messages/",
        form={"text": "sneaky", "csrfmiddlewaretoken": token},
        headers={"X-CSRFToken": token, "Referer": base + "/"},
        max_redirects=0,
    )

    assert response.status == 409
    assert ENDED_REFUSAL in response.text()
    page.reload()
    expect_ended(page, "You ended this conversation")
    expect(page.locator(USER)).to_have_count(1)
    expect(page.get_by_text("sneaky")).to_have_count(0)


def test_claude_ends_the_chat_when_asked_and_confirmed(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)

    expect(say(page, "Please end this chat.", 1)).to_contain_text(CONFIRM_PROMPT)
    expect_open(page)
    say(page, "Yes", 2)

    banner = expect_ended(page, "Claude ended this conversation")
    expect(banner.locator('[data-role="end-reason"]')).to_contain_text("you asked Claude to end this chat")


def test_crisis_language_shows_support_and_never_ends(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    support = page.get_by_role("complementary", name="Support")
    expect(support).to_be_hidden()

    say(page, "I want to die", 1)

    expect(support).to_be_visible()
    expect(support).to_contain_text("988")
    expect_open(page)
    page.reload()
    expect(support).to_contain_text("988")
    expect_open(page)


def test_feedback_on_an_end_and_a_thumbs_down_are_taken_in_place(page: Page, app_server):
    sign_up(page, app_server.url)
    start_chat(page)
    end_by_asking_claude(page)
    banner = expect_ended(page, "Claude ended this conversation")

    banner.get_by_text("Give feedback").click()
    banner.get_by_label("This end was a mistake").check()
    banner.get_by_label("Anything else? (optional)").fill("I only wanted to test the button.")
    banner.get_by_role("button", name="Send feedback").click()

    # Swapped into the banner by htmx; a full page load would put it in the flash list at the top instead.
    expect(banner.get_by_role("status")).to_have_text("Thank you — your feedback reached Bowout's staff.")
    expect(banner.get_by_text("Give feedback")).to_have_count(0)
    expect(page.locator(".flash")).to_have_count(0)

    rated = nth_reply(page, 1)
    expect(rated.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "false")
    rated.get_by_role("button", name="Bad reply").click()

    expect(rated.get_by_role("button", name="Bad reply")).to_have_attribute("aria-pressed", "true")
    expect(rated.get_by_role("button", name="Good reply")).to_have_attribute("aria-pressed", "false")
    expect(rated.get_by_role("status")).to_have_text("Thanks for the feedback.")
    page.reload()
    expect(nth_reply(page, 1).get_by_role("button", name="Bad reply")).to_have_attribute(
        "aria-pressed", "true"
    )
