"""`make screenshots`: PNGs of the pages people see, for the README (docs/screenshots/).

Starts a Bowout server of its own (a fresh SQLite file, the offline model), makes the content the way a
person does through Debian's Chromium (Playwright), then shoots each page at 1280 px and 390 px wide, in
the light and the dark theme. Prints what it wrote.

    .venv/bin/python tools/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery-staple"
WIDTHS = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
WHOLE_REPLY = 30_000  # ms
CHAT = re.compile(r"/c/[0-9a-f-]{36}/$")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir: Path) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        BOWOUT_SQLITE_PATH=str(workdir / "db.sqlite3"),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="screenshots-" + uuid.uuid4().hex,
        DJANGO_SECURE_COOKIES="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        BOWOUT_EMAIL_VERIFICATION="optional",
        BOWOUT_SIMULATOR_DELAY="0.01",
        ANTHROPIC_API_KEY="",
        ANTHROPIC_BASE_URL="",
    )
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    port = free_port()
    log = (workdir / "server.log").open("wb")
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/accounts/login/", timeout=1).close()
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The server did not start; see {workdir / 'server.log'}") from None
            time.sleep(0.2)
    return server, url


def send(page: Page, text: str, replies: int) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send").click()
    reply = page.locator('[data-role="assistant"]').nth(replies - 1)
    expect(reply).to_have_attribute("data-status", re.compile("complete|refused"), timeout=WHOLE_REPLY)


def new_chat(page: Page) -> str:
    page.locator('[data-role="new-chat"]').click()
    page.wait_for_url(CHAT)
    expect(page.locator("html")).to_have_attribute("data-ws-opens", "1")
    return page.url


WS_PROBE = """document.addEventListener("htmx:wsOpen", () => {
  document.documentElement.dataset.wsOpens = String(Number(document.documentElement.dataset.wsOpens || 0) + 1);
});"""


def make_content(browser: Browser, url: str) -> tuple[Path, dict[str, str]]:
    """Sign up and make the chats to show, as a person would. Returns the signed-in state and the pages."""
    context = browser.new_context(base_url=url)
    context.add_init_script(WS_PROBE)
    page = context.new_page()
    email = f"sam-{uuid.uuid4().hex[:6]}@example.com"
    page.goto("/accounts/signup/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(url + "/")

    pages: dict[str, str] = {}
    pages["ended-chat"] = new_chat(page)
    send(page, "Please end this chat.", 1)
    send(page, "Yes, I'm sure.", 2)
    expect(page.locator('[data-role="ended-banner"]')).to_be_visible(timeout=WHOLE_REPLY)

    pages["crisis-panel"] = new_chat(page)
    send(page, "Everything feels pointless lately and I want to die", 1)
    expect(page.get_by_role("complementary", name="Support")).to_be_visible()

    pages["reply-with-code-and-table"] = new_chat(page)
    send(page, "How do tides work?", 1)
    send(page, "Compare databases for a small app in a table, with python code for retries", 2)

    new_chat(page)
    send(page, "Which databases suit a phone app that works offline?", 1)
    pages["search-results"] = url + "/search/?q=databases"

    pages["empty-chat"] = new_chat(page)
    state = Path(tempfile.mkstemp(suffix=".json")[1])
    context.storage_state(path=state)
    context.close()
    return state, pages


def shoot(browser: Browser, url: str, out: Path, state: Path, pages: dict[str, str]) -> list[Path]:
    written = []
    for width, viewport in WIDTHS.items():
        for scheme in SCHEMES:
            options = {"base_url": url, "viewport": viewport, "color_scheme": scheme}
            if width == "390":
                options.update(device_scale_factor=2, is_mobile=True, has_touch=True)
            signed_in = browser.new_context(storage_state=str(state), **options)
            signed_in.add_init_script(WS_PROBE)
            page = signed_in.new_page()
            for name, address in pages.items():
                page.goto(address)
                if CHAT.search(address):  # a chat page: connected, and the list has scrolled to its end
                    expect(page.locator("html")).to_have_attribute("data-ws-opens", "1")
                    page.wait_for_timeout(300)
                if name == "reply-with-code-and-table":  # from the start of the reply: its table, then code
                    page.locator(".message--assistant").last.evaluate(
                        "e => e.scrollIntoView({block: 'start'})"
                    )
                path = out / f"{name}-{width}-{scheme}.png"
                page.screenshot(path=path)
                written.append(path)
            signed_in.close()
            visitor = browser.new_context(**options)
            page = visitor.new_page()
            page.goto("/accounts/login/")
            path = out / f"login-{width}-{scheme}.png"
            page.screenshot(path=path)
            written.append(path)
            visitor.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bowout-screenshots-") as workdir:
        server, url = start_server(Path(workdir))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                state, pages = make_content(browser, url)
                written = shoot(browser, url, args.out, state, pages)
                state.unlink()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    for path in written:
        sys.stdout.write(f"{path.relative_to(ROOT)}  {path.stat().st_size / 1024:.0f} KB\n")


if __name__ == "__main__":
    main()
