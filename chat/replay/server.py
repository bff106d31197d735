"""Running the replay server on a loopback port in a background thread (tests, scripts), with a small
HTTP client for its control routes. The management command `replay_streams` serves it in the foreground."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .recordings import load_scenarios

START_TIMEOUT = 10.0


@dataclass
class RunningReplay:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def url(self, scenario: str) -> str:
        """What ANTHROPIC_BASE_URL should be to get `scenario`."""
        return f"{self.base_url}/{scenario}"

    def reset(self, scenario: str | None = None) -> None:
        self._call("POST", f"/{scenario}/_reset" if scenario else "/_reset")

    def requests(self, scenario: str) -> list[dict[str, Any]]:
        """The request bodies the scenario received since its last reset, oldest first."""
        bodies: list[dict[str, Any]] = self._call("GET", f"/{scenario}/_requests")
        return bodies

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=START_TIMEOUT)

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            self.base_url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())


def serve_in_thread(directory: Path, *, delay: float = 0.0, host: str = "127.0.0.1") -> RunningReplay:
    """Serve the scenarios under `directory` on a free port; returns once the server answers."""
    app = create_app(load_scenarios(directory), delay=delay)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="replay-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The replay server did not start on {host}:{port}")
        time.sleep(0.02)
    return RunningReplay(base_url=f"http://{host}:{port}", server=server, thread=thread)
