"""Real Bowout server processes (uvicorn) for tests that kill, stop and restart them, and a user who drives
them over HTTP and the websocket the way the page does. Everything a test knows it reads off the server."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from websockets.sync.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery-staple"
START_TIMEOUT = 30.0


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    """Production-like settings over plain HTTP on loopback, the offline model, slow enough to watch."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="live-server-tests-" + "x" * 40,
        DJANGO_SECURE_COOKIES="0",
        DJANGO_HTTPS="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        # Sign-up in one step, without an email to confirm (production's default may require one).
        BOWOUT_EMAIL_VERIFICATION="optional",
        BOWOUT_SIMULATOR_DELAY="0.02",
        ANTHROPIC_API_KEY="",
        ANTHROPIC_BASE_URL="",
    )
    env.update(overrides)
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [python(), "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if done.returncode != 0:
        pytest.fail(f"migrate failed:\n{done.stdout}\n{done.stderr}", pytrace=False)


class Server:
    """One uvicorn process; start() again after a kill or stop is a restart on the same port and data."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = env
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.extra_args: list[str] = []

    def start(self) -> "Server":
        command = [python(), "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), *self.extra_args]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                pytest.fail(f"The server exited with {self.process.returncode}:\n{self.log()}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(
                    f"The server did not answer in {START_TIMEOUT:.0f} s:\n{self.log()}", pytrace=False
                )
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        try:
            httpx2.get(self.url + "/accounts/login/", timeout=1)
        except httpx2.HTTPError:
            return False
        return True

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> float:
        """SIGTERM, as a process manager sends it; returns how long the server took to exit."""
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=timeout)
        return time.monotonic() - began

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def log(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no server log: {error})"


class Visitor:
    """A signed-up person with a browser's cookies; talks to any server of the deployment."""

    def __init__(self, server: Server) -> None:
        self.http = httpx2.Client(base_url=server.url, timeout=30)
        self.email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        self._post_form(
            server.url,
            "/accounts/signup/",
            {"email": self.email, "password1": PASSWORD, "password2": PASSWORD},
        )

    def _csrf(self, base: str, path: str) -> str:
        page = self.http.get(base + path)
        page.raise_for_status()
        return self.http.cookies["csrftoken"]

    def _post_form(self, base: str, path: str, data: dict, page: str | None = None) -> httpx2.Response:
        token = self._csrf(base, page or path)
        return self.http.post(
            base + path, data={**data, "csrfmiddlewaretoken": token}, headers={"Referer": base}
        )

    def post(self, server: Server, path: str, data: dict | None = None, page: str = "/") -> httpx2.Response:
        return self._post_form(server.url, path, data or {}, page=page)

    def new_chat(self, server: Server) -> str:
        response = self.post(server, "/c/new/")
        assert response.status_code == 302, response.text
        return response.headers["location"].strip("/").split("/")[-1]

    def page(self, server: Server, conversation_id: str) -> str:
        response = self.http.get(f"{server.url}/c/{conversation_id}/")
        assert response.status_code == 200
        return response.text

    def socket(self, server: Server, conversation_id: str) -> "Tab":
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        connection = connect(
            f"ws://127.0.0.1:{server.port}/ws/c/{conversation_id}/",
            additional_headers={"Cookie": cookies},
            origin=server.url,
            open_timeout=10,
            legacy=True,  # opened here, closed by Tab.close()
        )
        return Tab(connection)


class Tab:
    """An open tab's socket: what it sends and the frames it receives."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.frames: list[str] = []

    def send(self, **data) -> None:
        self.connection.send(json.dumps(data))

    def say(self, text: str) -> None:
        self.send(action="send", text=text, client_id=str(uuid.uuid4()))

    def receive_until(self, predicate: Callable[[str], bool], timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"No matching frame in {timeout} s; last frames: {self.frames[-3:]}")
            try:
                frame = self.connection.recv(timeout=remaining)
            except TimeoutError:
                continue
            self.frames.append(frame)
            if predicate(frame):
                return frame

    def close(self) -> None:
        self.connection.close()


def streaming_text(frame: str) -> bool:
    """A frame that carries words of a reply being written (JSON, see chat.fragments.render_stream)."""
    return frame.startswith('{"stream":')


def reply_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="msg-(\d+)"', html)]
