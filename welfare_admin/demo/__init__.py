"""Demo data for the welfare audit: users, ordinary and ended conversations, messages, events, requests and a
few reviews, spread over the last 45 days.

Rows are built as plain values and written in batches with one `executemany` per table and chunk: no
per-row saves, and no model instances either. Measured here, bulk_create spent most of its time preparing
each value through the field machinery (about 2,000 rows a second on this machine; 100,000 conversations
are ~600,000 rows), so values are adapted once per column with the backend's own adapters instead.

Safe to run twice: demo users are reused by email, and each run adds new conversations.
"""

import random
import time
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from chat.models import Conversation
from welfare_admin.demo.plans import Builder, scenario_for
from welfare_admin.demo.tables import REVIEWER_EMAIL, SeedReport, write

__all__ = ["REVIEWER_EMAIL", "SeedReport", "seed"]

USER_EMAIL = "demo-user-{:04d}@example.com"
CHUNK = 5000  # conversations built and written per transaction


def _demo_users(count: int) -> tuple[list[int], int]:
    User = get_user_model()
    emails = [USER_EMAIL.format(i) for i in range(1, count + 1)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    # Demo people cannot sign in: they are data, not accounts.
    unusable = make_password(None)
    User.objects.bulk_create(
        [User(email=email, password=unusable) for email in emails if email not in existing], batch_size=500
    )
    return list(User.objects.filter(email__in=emails).values_list("pk", flat=True)), len(emails) - len(
        existing
    )


def seed(
    conversations: int,
    users: int,
    *,
    random_seed: int | None = None,
    progress: Callable[[SeedReport], None] | None = None,
) -> SeedReport:
    started = time.perf_counter()
    report = SeedReport()
    user_ids, report.users = _demo_users(users)
    User = get_user_model()
    reviewer, _ = User.objects.get_or_create(
        email=REVIEWER_EMAIL, defaults={"is_staff": True, "password": make_password(None)}
    )
    # Seeded from the table's size by default: a second run adds different conversations, reproducibly.
    rnd = random.Random(Conversation.objects.count() if random_seed is None else random_seed)
    builder = Builder(rnd, user_ids, timezone.now())
    for offset in range(0, conversations, CHUNK):
        plans = [
            builder.plan(scenario_for(rnd, n)) for n in range(offset, min(offset + CHUNK, conversations))
        ]
        with transaction.atomic():
            write(plans, reviewer.pk, report)
        if progress:
            progress(report)
    report.seconds = time.perf_counter() - started
    return report
