"""In a real browser, against stream shapes of other servers replayed by a loopback server: a reply that is
only reasoning is offered again, and its reasoning is never shown as Claude's words."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chat.replay import RunningReplay, load_scenarios, serve_in_thread
from tests.browser.conftest import AppServer, running_app_server, sign_up
from tests.browser.test_chat_in_browser import WHOLE_REPLY, expect_sent, reply, send, start_chat

pytestmark = pytest.mark.browser

STREAMS = Path(__file__).resolve().parents[1] / "fixtures" / "streams"
SCENARIO = "api_thinking_only"


def recorded_thinking() -> str:
    body = load_scenarios(STREAMS)[SCENARIO][0].body.decode()
    deltas = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    return "".join(
        d["delta"]["thinking"]
        for d in deltas
        if d.get("type") == "content_block_delta" and d["delta"]["type"] == "thinking_delta"
    )


@pytest.fixture(scope="module")
def replay() -> Iterator[RunningReplay]:
    running = serve_in_thread(STREAMS, delay=0.02)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, replay: RunningReplay) -> Iterator[AppServer]:
    with running_app_server(
        tmp_path_factory.mktemp("bowout-any-server"),
        ANTHROPIC_BASE_URL=replay.url(SCENARIO),
        BOWOUT_MAX_RETRIES="0",
    ) as server:
        yield server


def test_a_reply_that_only_reasons_is_offered_again_and_its_reasoning_never_shown(
    page: Page, app_server: AppServer, replay: RunningReplay
):
    replay.reset(SCENARIO)
    sign_up(page, app_server.url)
    start_chat(page)
    question = "What caused the French Revolution?"

    send(page, question)

    expect_sent(page, question)
    answer = reply(page, 1)
    expect(answer).to_have_attribute("data-status", "interrupted", timeout=WHOLE_REPLY)
    expect(answer.locator('[data-role="error"]')).to_contain_text("without writing a reply")
    expect(answer.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.locator("main")).not_to_contain_text(recorded_thinking()[:40])
