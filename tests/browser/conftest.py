"""A real Bowout server and Debian's Chromium, for tests that drive the app the way a person does.

The server is a subprocess with its own SQLite file and the offline model, so these tests never touch the
ORM or pytest-django's database: everything they know, they read off the page.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery-staple"
START_TIMEOUT = 30.0
LOG_TAIL_LINES = 60
TIMEOUT = 10_000  # ms, for every action and expectation unless a test says otherwise

# Counts the page's socket openings through htmx's documented ws event, so a test can wait until the page
# is connected (or has reconnected) without reaching into htmx internals.
WS_PROBE = """
document.addEventListener("htmx:wsOpen", () => {
  const html = document.documentElement;
  html.dataset.wsOpens = String(Number(html.dataset.wsOpens || 0) + 1);
});
"""


@dataclass
class AppServer:
    url: str
    log_path: Path
    env: dict[str, str]

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as error:
            return f"(no server log: {error})"
        return "\n".join(text.splitlines()[-lines:])


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_command(port: int) -> list[str]:
    # Without the websockets (or wsproto) package uvicorn answers every /ws/ upgrade with 404, and every
    # test would fail later and more obscurely.
    if not (find_spec("websockets") or find_spec("wsproto")):
        pytest.fail("uvicorn cannot serve WebSockets: install the websockets package", pytrace=False)
    return [_python(), "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)]


def _server_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        BOWOUT_SQLITE_PATH=str(db_path),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="browser-tests",
        DJANGO_SECURE_COOKIES="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        # Slow enough that a reply visibly streams word by word, fast enough to keep the suite short.
        BOWOUT_SIMULATOR_DELAY="0.02",
        ANTHROPIC_API_KEY="",
        ANTHROPIC_BASE_URL="",
    )
    return env


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer means the server is up
    except OSError:
        return False


@contextmanager
def running_app_server(workdir: Path, **env_overrides: str) -> Iterator[AppServer]:
    """A Bowout server in a subprocess on a free port, with its own SQLite file under `workdir`.
    `env_overrides` change its environment (another model server, other policy settings)."""
    env = {**_server_env(workdir / "db.sqlite3"), **env_overrides}
    port = _free_port()
    server = AppServer(url=f"http://127.0.0.1:{port}", log_path=workdir / "server.log", env=env)
    command = _server_command(port)
    migrate = subprocess.Popen(
        [_python(), "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # The server only opens the database on its first request, so it can load while migrate runs.
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        migrate_output, _ = migrate.communicate(timeout=120)
        if migrate.returncode != 0:
            pytest.fail(f"migrate failed:\n{migrate_output}", pytrace=False)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(server.url + "/accounts/login/"):
            if process.poll() is not None:
                pytest.fail(
                    f"The server exited with {process.returncode}:\n{server.log_tail()}", pytrace=False
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The server did not answer in {START_TIMEOUT:.0f} s:\n{server.log_tail()}", pytrace=False
                )
            time.sleep(0.1)
        yield server
    finally:
        if migrate.poll() is None:
            migrate.kill()
            migrate.wait()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    with running_app_server(tmp_path_factory.mktemp("bowout-browser")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    expect.set_options(timeout=TIMEOUT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class ContextFactory:
    """new_context(**options): a fresh BrowserContext on the app. It remembers them all, to screenshot
    their pages when a test fails and to close them afterwards."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []

    def __call__(self, **options) -> BrowserContext:
        context = self.browser.new_context(base_url=self.base_url, **options)
        context.set_default_timeout(TIMEOUT)
        context.add_init_script(WS_PROBE)
        self.contexts.append(context)
        return context

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def new_context(browser: Browser, app_server: AppServer) -> Iterator[ContextFactory]:
    factory = ContextFactory(browser, app_server.url)
    yield factory
    factory.close()


@pytest.fixture
def context(new_context: ContextFactory) -> BrowserContext:
    return new_context()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call" and report.failed:
        _record_failure(item, report)
    return report


def _record_failure(item: pytest.Item, report: pytest.TestReport) -> None:
    funcargs = getattr(item, "funcargs", {})
    server = funcargs.get("app_server")
    if server is not None:
        report.sections.append(("server log (tail)", server.log_tail()))
    factory = funcargs.get("new_context")
    if factory is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    saved = []
    for c, context in enumerate(factory.contexts):
        for p, page in enumerate(context.pages):
            path = ARTIFACTS / f"{item.name}-{c}-{p}.png"
            try:
                page.screenshot(path=path, full_page=True)
            except Exception as error:  # a crashed page must not hide the test's own failure
                saved.append(f"{path.name}: could not save ({error})")
            else:
                saved.append(str(path.relative_to(ROOT)))
    if saved:
        report.sections.append(("screenshots", "\n".join(saved)))


# --- Acting as a user ----------------------------------------------------------------------------


def make_superuser(server: AppServer) -> str:
    """A superuser in the server's database, made the way an operator does; returns the email."""
    email = f"root-{uuid.uuid4().hex[:12]}@example.com"
    subprocess.run(
        [_python(), "manage.py", "createsuperuser", "--noinput", "--email", email],
        cwd=ROOT,
        env={**server.env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    return email


def sign_up(page: Page, base_url: str) -> str:
    """Sign a new user up through the real form; returns the email. Ends on the home page."""
    email = f"user-{uuid.uuid4().hex[:12]}@example.com"
    page.goto(base_url + "/accounts/signup/")
    page.get_by_label("Email:").fill(email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(base_url + "/")
    return email
