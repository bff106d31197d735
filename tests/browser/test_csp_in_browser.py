"""The Content-Security-Policy in a real browser: htmx, the websocket and the page's own script work under
it, and nothing on the pages is refused. Then an account is deleted the way a person does it."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PASSWORD, sign_up

pytestmark = pytest.mark.browser

CHAT_URL = re.compile(r"/c/[0-9a-f-]{36}/$")
# Every refusal the policy makes, counted on the page itself (the browser fires this event for each).
VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  const html = document.documentElement;
  html.dataset.cspViolations = (html.dataset.cspViolations || "") + e.violatedDirective + " " + e.blockedURI + "\\n";
});
"""


def refused(page: Page, console: list[str]) -> list[str]:
    on_page = page.evaluate("document.documentElement.dataset.cspViolations || ''")
    return [line for line in on_page.splitlines() if line] + [
        text for text in console if "Content Security Policy" in text
    ]


def test_chatting_and_ending_work_under_the_policy_with_nothing_refused(new_context, app_server):
    context = new_context()
    context.add_init_script(VIOLATIONS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto(app_server.url + "/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    sign_up(page, app_server.url)
    page.get_by_role("button", name="New chat", exact=True).click()
    page.wait_for_url(CHAT_URL)
    expect(page.locator("html")).to_have_attribute("data-ws-opens", "1")

    page.get_by_label("Message", exact=True).fill("How do tides work?")
    page.keyboard.press("Enter")  # chat.js: Enter sends
    reply = page.locator('[data-role="assistant"]').last
    expect(reply).to_have_attribute("data-status", "complete", timeout=20_000)
    expect(reply).to_contain_text("tide")

    page.get_by_role("button", name="End chat").click()  # chat.js opens the dialog
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="End chat").click()
    expect(page.locator('[data-role="ended-banner"]')).to_be_visible()
    assert refused(page, console) == []


def test_a_person_deletes_their_account_with_their_password(new_context, app_server):
    page = new_context().new_page()
    email = sign_up(page, app_server.url)
    page.get_by_role("link", name="Delete account").click()
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("alert")).to_contain_text("That is not your password")

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account has been deleted.")).to_be_visible()
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(
        page.get_by_text("The email address and/or password you specified are not correct.")
    ).to_be_visible()
