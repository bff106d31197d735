"""The model picker, with a model server configured (the simulator served on its own, strict about model
names): offered, the choice stored per chat and used for its replies."""

import re
import subprocess
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, AppServer, _answers, _free_port, _python, running_app_server, sign_up
from tests.browser.test_chat_in_browser import expect_complete, reply, send, start_chat

pytestmark = pytest.mark.browser

MODELS = "claude-sonnet-5-5,claude-haiku-5-5"


@pytest.fixture(scope="module")
def model_server_url(tmp_path_factory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("simulator") / "simulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [_python(), "manage.py", "run_simulator", "--port", str(port), "--delay", "0.01"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url + "/v1/models"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, model_server_url: str) -> Iterator[AppServer]:
    with running_app_server(
        tmp_path_factory.mktemp("bowout-models"),
        ANTHROPIC_BASE_URL=model_server_url,
        BOWOUT_MODELS=MODELS,
        BOWOUT_MAX_RETRIES="0",
    ) as server:
        yield server


def test_the_chosen_model_writes_the_chats_replies(page: Page, app_server: AppServer):
    sign_up(page, app_server.url)
    start_chat(page)
    page.get_by_text("Chat options").click()
    picker = page.get_by_label("Model", exact=True)
    expect(picker).to_have_value("claude-sonnet-5-5")

    picker.select_option("claude-haiku-5-5")
    page.get_by_role("button", name="Use this model").click()

    expect(page.get_by_text("New replies in this chat will be written by claude-haiku-5-5")).to_be_visible()
    send(page, "How do tides work?")
    answer = reply(page, 1)
    expect_complete(answer)
    expect(answer.locator('[data-role="reply-model"]')).to_have_text("claude-haiku-5-5")
    page.reload()
    page.get_by_text("Chat options").click()
    expect(page.get_by_label("Model", exact=True)).to_have_value("claude-haiku-5-5")
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f-]{36}/"))
