"""Response times of the welfare admin at scale: seeds its own SQLite database with N demo conversations,
then times the changelists, a transcript, the CSV export and the dashboard through Django's test Client,
logged in as a superuser. Prints median and p95 milliseconds and the query count of each page.

    .venv/bin/python benchmarks/admin_pages.py                       # 100,000 conversations
    .venv/bin/python benchmarks/admin_pages.py --conversations 10000 --runs 10
    .venv/bin/python benchmarks/admin_pages.py --database /tmp/bench.sqlite3   # keep it; reuse it next time

It never touches the project's database: DATABASE_URL is ignored and BOWOUT_SQLITE_PATH points at a
temporary file (removed afterwards unless --database is given). It measures; it asserts nothing.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--conversations", type=int, default=100_000, help="demo conversations (default 100000)"
    )
    parser.add_argument("--users", type=int, default=500, help="demo users (default 500)")
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (default 20)")
    parser.add_argument(
        "--database", help="SQLite file to use and keep; seeded only if it has no conversations"
    )
    return parser.parse_args()


def configure(database: str) -> None:
    """Production-like settings on a throwaway database, before Django loads them."""
    os.environ.pop("DATABASE_URL", None)
    os.environ["BOWOUT_SQLITE_PATH"] = database
    # DEBUG off: no query log kept in memory, templates as in production.
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DJANGO_HTTPS"] = "0"  # plain HTTP on loopback, as behind a TLS-terminating proxy
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(40))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # whitenoise: no collectstatic here
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class QueryCounter:
    """Counts queries across reconnects (each request closes its connection, as CONN_MAX_AGE=0 does in
    production; CaptureQueriesContext would lose them)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def fetch(client, url: str) -> int:
    response = client.get(url)
    if response.streaming:
        b"".join(response.streaming_content)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return response.status_code


def main() -> None:
    args = parse_args()
    workdir = None
    if args.database:
        database = args.database
    else:
        workdir = tempfile.TemporaryDirectory(prefix="bowout-bench-")
        database = str(Path(workdir.name) / "bench.sqlite3")
    configure(database)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from accounts.models import User
    from chat.models import Conversation, Message, UserRequest
    from welfare_admin.models import EndedConversation

    call_command("migrate", verbosity=0)
    if Conversation.objects.exists():
        print(f"Reusing {database}: {Conversation.objects.count():,} conversations already there.")
    else:
        print(f"Seeding {args.conversations:,} conversations into {database}…")
        started = time.perf_counter()
        call_command("seed_demo", conversations=args.conversations, users=args.users, force=True)
        print(f"Seeding took {time.perf_counter() - started:.1f} s in all (migrations excluded).")
    admin, _ = User.objects.get_or_create(
        email="bench-admin@example.com", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(admin)

    ended_list = reverse("admin:welfare_admin_endedconversation_changelist")
    requests_list = reverse("admin:welfare_admin_welfarerequest_changelist")
    claude_end = EndedConversation.objects.filter(ended_by="assistant").order_by("-ended_at").first()
    today = Conversation.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    pages = [
        ("dashboard", reverse("welfare_admin:dashboard")),
        ("ended: list", ended_list),
        ("ended: page 2", f"{ended_list}?p=2"),
        ("ended: by Claude, abuse", f"{ended_list}?ended_by=assistant&reason=abusive_user"),
        ("ended: not reviewed", f"{ended_list}?review=unreviewed"),
        ("ended: 1-2 turns", f"{ended_list}?turns=1-2"),
        (
            "ended: month drill-down",
            f"{ended_list}?ended_at__year={today.year}&ended_at__month={today.month}",
        ),
        ("ended: search email", f"{ended_list}?q=demo-user-0007"),
        ("ended: search message text", f"{ended_list}?q=coworker"),
        ("ended: transcript", reverse("admin:welfare_admin_endedconversation_change", args=[claude_end.pk])),
        ("ended: CSV export (all)", reverse("admin:welfare_admin_endedconversation_export_csv")),
        ("requests: list", requests_list),
        ("requests: open appeals", f"{requests_list}?status__exact=open&kind__exact=appeal"),
        ("requests: search", f"{requests_list}?q=quoting"),
        ("audit log", reverse("admin:welfare_admin_auditentry_changelist")),
    ]

    print(
        f"\n{Conversation.objects.count():,} conversations, {EndedConversation.objects.count():,} ended or reopened, "
        f"{Message.objects.count():,} messages, {UserRequest.objects.count():,} requests. "
        f"{args.runs} runs per page after one warm-up; SQLite, DEBUG off.\n"
    )
    print(f"{'page':<30} {'median ms':>10} {'p95 ms':>10} {'queries':>8}")
    for name, url in pages:
        fetch(client, url)  # warm-up: caches, SQLite pages
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            fetch(client, url)
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            fetch(client, url)
            timings.append((time.perf_counter() - started) * 1000)
        median, p95 = statistics.median(timings), percentile(timings, 0.95)
        print(f"{name:<30} {median:>10.1f} {p95:>10.1f} {counter.count:>8}")

    if workdir is not None:
        connection.close()
        workdir.cleanup()


if __name__ == "__main__":
    main()
