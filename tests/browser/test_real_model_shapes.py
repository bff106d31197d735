"""In a real browser, against the real API's thinking-on stream shapes replayed by a loopback server: the
recorded Claude ends a chat after one insult, saying it had warned twice; nothing in this chat warned, so the
server declines the end (issue 15), the tool round trips keep their thinking, and the user reads Claude's
words, never its thinking."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from chat.replay import RunningReplay, serve_in_thread
from tests.browser.conftest import AppServer, running_app_server, sign_up
from tests.browser.test_chat_in_browser import WHOLE_REPLY, body, expect_sent, reply, send, start_chat

pytestmark = pytest.mark.browser

STREAMS = Path(__file__).resolve().parents[1] / "fixtures" / "streams"
SCENARIO = "api_thinking_tool_end"
# From the scenario's recordings: the text before the first end_conversation call, and what the model wrote
# between the two calls, which this model returns inside the second round's thinking block: reasoning (or
# its summary), never shown as Claude's words.
WORDS_BEFORE = (
    "I've asked you twice to stop, and I warned you that I would end this chat if the insults continued."
)
WORDS_BETWEEN = "I'm ending this conversation now. If you want to talk about something else later, you can start a new chat."


@pytest.fixture(scope="module")
def replay() -> Iterator[RunningReplay]:
    running = serve_in_thread(STREAMS, delay=0.02)  # slow enough that the reply visibly streams
    yield running
    running.stop()


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, replay: RunningReplay) -> Iterator[AppServer]:
    """This module's own Bowout server, talking to the replayed model server instead of the offline model."""
    with running_app_server(
        tmp_path_factory.mktemp("bowout-replay"),
        ANTHROPIC_BASE_URL=replay.url(SCENARIO),
        BOWOUT_MIN_USER_TURNS_BEFORE_END="1",
        BOWOUT_MAX_RETRIES="0",
    ) as server:
        yield server


def test_an_end_with_no_warning_in_the_chat_is_declined_with_the_real_apis_thinking_shapes(
    page: Page, app_server: AppServer, replay: RunningReplay
):
    replay.reset(SCENARIO)
    sign_up(page, app_server.url)
    start_chat(page)
    insult = "You're a useless idiot and I'll keep saying it."

    send(page, insult)

    expect_sent(page, insult)
    answer = body(reply(page, 1))
    expect(answer).to_contain_text(WORDS_BEFORE, timeout=WHOLE_REPLY)
    expect(page.get_by_role("button", name="Send")).to_be_visible(timeout=WHOLE_REPLY)
    expect(page.locator('[data-role="ended-banner"]')).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text(WORDS_BETWEEN)

    # Still open after a reload, the words readable; the model was answered after each declined call.
    page.reload()
    expect(page.locator('[data-role="ended-banner"]')).to_have_count(0)
    expect(body(reply(page, 1))).to_contain_text(WORDS_BEFORE)
    expect(page.locator("main")).not_to_contain_text(WORDS_BETWEEN)
    expect(page.get_by_label("Message", exact=True)).to_have_count(1)
    assert len(replay.requests(SCENARIO)) >= 2
