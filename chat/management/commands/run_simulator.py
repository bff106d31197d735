"""Serve the offline model over HTTP, so any Anthropic client can use it via ANTHROPIC_BASE_URL."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.core.management.base import BaseCommand, CommandError, CommandParser

from simulator import create_app


class Command(BaseCommand):
    help = "Serve the offline Messages API simulator (the scripted demo model) with uvicorn."
    # The simulator touches neither models nor settings, so it can start before the project is configured.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to bind (default: 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8765, help="Port to listen on (default: 8765).")
        parser.add_argument(
            "--delay", type=float, default=0.03, help="Seconds between streamed tokens (default: 0.03)."
        )
        parser.add_argument(
            "--crisis-tries-end",
            action="store_true",
            help="Make the model wrongly call end_conversation in a crisis, to demonstrate the server declining it.",
        )
        parser.add_argument(
            "--no-thinking",
            action="store_true",
            help="Serve an Ollama-like model instead: any model name, no thinking blocks, thinking options ignored.",
        )

    def handle(
        self,
        *args: Any,
        host: str,
        port: int,
        delay: float,
        crisis_tries_end: bool,
        no_thinking: bool,
        **options: Any,
    ) -> None:
        if delay < 0:
            raise CommandError("--delay must be zero or more.")
        app = create_app(
            delay=delay, crisis_tries_end=crisis_tries_end, thinking=False if no_thinking else None
        )
        self.stdout.write(f"Offline model simulator: set ANTHROPIC_BASE_URL=http://{host}:{port}")
        uvicorn.run(app, host=host, port=port, lifespan="on", log_level="info")
