from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from welfare_admin import demo


class Command(BaseCommand):
    help = (
        "Fill the database with demo users, ordinary and ended conversations, events, requests and reviews, "
        "so the welfare admin has something to show. Safe to run twice: users are reused, conversations added."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--conversations", type=int, default=2000, help="How many to add (default 2000).")
        parser.add_argument(
            "--users", type=int, default=50, help="Demo users to spread them over (default 50)."
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="Random seed (default: from the table's size)."
        )
        parser.add_argument(
            "--force", action="store_true", help="Run even with DJANGO_DEBUG off (it writes fake data)."
        )

    def handle(
        self, *args: Any, conversations: int, users: int, seed: int | None, force: bool, **options: Any
    ) -> None:
        if conversations < 0 or users < 1:
            raise CommandError("--conversations must be 0 or more and --users at least 1.")
        # Demo data in a production database would pollute the audit; make that a deliberate choice.
        if not settings.DEBUG and not force:
            raise CommandError(
                "DJANGO_DEBUG is off: this looks like production. Pass --force if you mean it."
            )

        def progress(report: demo.SeedReport) -> None:
            if conversations >= 20000:
                self.stdout.write(f"  {report.conversations:,} / {conversations:,} conversations…")

        report = demo.seed(conversations, users, random_seed=seed, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"Added {report.conversations:,} conversations ({report.ended:,} ended), {report.messages:,} "
                f"messages, {report.events:,} events, {report.requests:,} requests and {report.reviews:,} "
                f"audit entries; {report.users:,} new demo users. Took {report.seconds:.1f} s."
            )
        )
        self.stdout.write(
            "Demo users cannot sign in. To look around: python manage.py createsuperuser, then /admin/."
        )
