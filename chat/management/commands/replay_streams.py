"""Serve recorded-format Messages API streams, so an operator can see how Bowout handles a model server's
shapes (errors, cut-off streams, tool calls) before switching ANTHROPIC_BASE_URL to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.replay import create_app, load_scenarios
from chat.replay.recordings import RecordingError


class Command(BaseCommand):
    help = "Replay recorded Messages API responses: POST /<scenario>/v1/messages gets the next one."
    # Like the simulator, the replay server touches neither models nor the database.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8766, help="Port to listen on (default: 8766).")
        parser.add_argument(
            "--dir",
            dest="directory",
            default=str(Path(settings.BASE_DIR) / "tests" / "fixtures" / "streams"),
            help="Folder with one sub-folder of 01.http, 02.http, ... per scenario (default: the test fixtures).",
        )
        parser.add_argument(
            "--delay", type=float, default=0.05, help="Seconds between streamed events (default: 0.05)."
        )

    def handle(self, *args: Any, host: str, port: int, directory: str, delay: float, **options: Any) -> None:
        if delay < 0:
            raise CommandError("--delay must be zero or more.")
        try:
            scenarios = load_scenarios(Path(directory))
        except RecordingError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Replaying {len(scenarios)} scenarios from {directory}:")
        for name, responses in scenarios.items():
            self.stdout.write(
                f"  ANTHROPIC_BASE_URL=http://{host}:{port}/{name}  ({len(responses)} responses)"
            )
        self.stdout.write(
            f"Requests received: GET http://{host}:{port}/<scenario>/_requests; reset: POST .../_reset"
        )
        uvicorn.run(create_app(scenarios, delay=delay), host=host, port=port, lifespan="on", log_level="info")
