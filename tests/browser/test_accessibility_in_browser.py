"""axe-core (tests/fixtures/axe, vendored from the npm registry) on the pages people use: no serious or
critical violation on the login and signup pages, an empty chat, a chat with a reply that has code, a
table and math, a chat with the support panel, an ended chat, search results, the archived chats and the
settings (custom instructions), in the light and the dark theme."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_up
from tests.browser.test_chat_in_browser import expect_complete, reply, send, start_chat, wait_connected
from tests.browser.test_design_in_browser import CODE_AND_TABLE

pytestmark = pytest.mark.browser

AXE = (Path(__file__).resolve().parents[1] / "fixtures" / "axe" / "axe-4.14.1.min.js").read_text()
# Evaluated through the DevTools protocol, so the page's Content-Security-Policy does not block it.
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                   targets: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
}"""


def serious_violations(page: Page) -> list[dict]:
    page.evaluate(AXE)
    return page.evaluate(RUN_AXE)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_users_pages_have_no_serious_axe_violations(new_context, app_server, scheme):
    page = new_context(color_scheme=scheme).new_page()
    found: dict[str, list[dict]] = {}

    for path in ("/accounts/login/", "/accounts/signup/"):
        page.goto(app_server.url + path)
        found[path] = serious_violations(page)

    sign_up(page, app_server.url)
    start_chat(page)
    found["empty chat"] = serious_violations(page)

    send(page, CODE_AND_TABLE)
    expect_complete(reply(page, 1))
    found["chat with code and a table"] = serious_violations(page)

    page.goto(app_server.url + "/search/?q=table")
    expect(page.locator('[data-role="search-results"] li mark').first).to_be_visible()
    found["search results"] = serious_violations(page)
    page.go_back()
    wait_connected(page)

    start_chat(page)
    send(page, "I want to die")
    expect_complete(reply(page, 1))
    expect(page.get_by_role("complementary", name="Support")).to_be_visible()
    found["support panel"] = serious_violations(page)

    start_chat(page)
    send(page, "Please end this chat.")
    expect_complete(reply(page, 1))
    send(page, "Yes")
    expect(page.locator('[data-role="ended-banner"]')).to_be_visible(timeout=20_000)
    page.reload()
    found["ended chat"] = serious_violations(page)

    page.get_by_text("Chat options").click()
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(page).to_have_url(app_server.url + "/")
    page.get_by_role("link", name="Archived chats").click()
    expect(page.locator('[data-role="archived-chats"] li')).to_have_count(1)
    found["archived chats"] = serious_violations(page)

    page.get_by_role("link", name="Settings").click()
    expect(page.get_by_label("Custom instructions")).to_be_visible()
    found["settings"] = serious_violations(page)

    assert {where: issues for where, issues in found.items() if issues} == {}
