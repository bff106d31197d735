"""What the per-frame security work costs: the session re-check every socket frame makes, and the quota
checks every send makes (concurrent replies, tokens today, one count in the shared cache). Prints the
median and p95 microseconds of each, on a throwaway SQLite database with the database cache, or on the
Redis cache when REDIS_URL is set.

    .venv/bin/python benchmarks/security_checks.py [--runs 2000] [--replies 2000]
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python benchmarks/security_checks.py

It never touches the project's database (DATABASE_URL is ignored). It measures; it asserts nothing.
"""

import argparse
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def configure(database: str) -> None:
    os.environ.pop("DATABASE_URL", None)
    os.environ["BOWOUT_SQLITE_PATH"] = database
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def timed(label: str, runs: int, call: Callable[[], object]) -> None:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    p95 = sorted(samples)[max(0, math.ceil(0.95 * runs) - 1)]
    print(f"{label:<44} median {statistics.median(samples):8.0f} µs   p95 {p95:8.0f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000, help="timed calls of each check")
    parser.add_argument("--replies", type=int, default=2000, help="saved replies of the user (tokens today)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        configure(str(Path(folder) / "bench.sqlite3"))
        from django.conf import settings
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        from accounts.models import User
        from chat import quotas, sessions
        from chat.models import Conversation, Message

        settings.BOWOUT_MESSAGES_PER_MINUTE = 10**9
        user = User.objects.create_user(email="bench@example.com", password=secrets.token_urlsafe())
        client = Client()
        client.force_login(user)
        session_key = client.cookies["sessionid"].value
        conversation = Conversation.objects.create(user=user)
        Message.objects.bulk_create(
            Message(
                conversation=conversation, role="assistant", content="x", input_tokens=100, output_tokens=50
            )
            for _ in range(args.replies)
        )
        print(
            f"cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}; {args.replies} replies today"
        )
        timed(
            "session re-check (each socket frame)",
            args.runs,
            lambda: sessions.session_is_valid(session_key, user.pk),
        )
        timed("concurrent replies (each send)", args.runs, lambda: quotas.concurrent_replies(user))
        timed("tokens used today (each send)", args.runs, lambda: quotas.tokens_left(user))
        timed("messages-per-minute count (each send)", args.runs, lambda: quotas.spend_model_call(user))


if __name__ == "__main__":
    main()
