"""Time the conversation page of a long chat: seeds a throwaway SQLite database with one conversation
of --messages messages (Markdown replies of a few paragraphs), then GETs its page (the latest
BOWOUT_PAGE_MESSAGES) and the "Load earlier messages" fragment through Django's test Client, logged in as
its owner. Prints median and p95 milliseconds, the query count and the size of each. Target (issues 9,
20): 1,000 messages under 150 ms. It measures; it asserts nothing.

    .venv/bin/python benchmarks/page.py [--messages 1000] [--runs 20]
"""

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REPLY = (
    "Tides come from the **Moon's pull** on the oceans.\n\n"
    "- The side facing the Moon bulges\n- So does the far side\n\n"
    "Most coasts see two highs and two lows a day. `Spring tides` are larger."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.pop("DATABASE_URL", None)
        os.environ["BOWOUT_SQLITE_PATH"] = str(Path(tmp) / "page.sqlite3")
        os.environ["DJANGO_DEBUG"] = "0"
        os.environ["DJANGO_HTTPS"] = "0"  # plain HTTP on loopback, as behind a TLS-terminating proxy
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        run(args.messages, args.runs)


def run(count: int, runs: int) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from chat.markdown import render_markdown
    from chat.models import Conversation, Message

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(email="page@example.com", password=secrets.token_urlsafe(16))
    conversation = Conversation.objects.create(user=user, title="A long chat")
    html = render_markdown(REPLY)
    Message.objects.bulk_create(
        Message(conversation=conversation, role=Message.Role.USER, content=f"Question {i // 2}?")
        if i % 2 == 0
        else Message(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            content=REPLY,
            content_html=html,
            status=Message.Status.COMPLETE,
        )
        for i in range(count)
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = f"/c/{conversation.pk}/"
    oldest_shown = conversation.messages.order_by("-id")[settings.BOWOUT_PAGE_MESSAGES - 1].pk
    # The page (the latest messages and "Load earlier messages"), and what that control fetches with htmx.
    time_get(client, f"conversation page, {count} messages", url, runs)
    time_get(client, "  load earlier (htmx)", f"{url}?before={oldest_shown}", runs, HX_Request="true")


def time_get(client, label: str, url: str, runs: int, **headers: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers)  # warm templates and caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    times.sort()
    p95 = times[max(0, int(0.95 * len(times)) - 1)]
    print(
        f"{label}: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms, {len(queries)} queries, "
        f"{len(response.content) / 1024:.0f} KB (load average {os.getloadavg()[0]:.2f})"
    )


if __name__ == "__main__":
    main()
