from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from accounts.retention import expired_accounts
from welfare_admin.retention import purge_expired


class Command(BaseCommand):
    help = (
        "Remove what was kept for audit of accounts deleted more than BOWOUT_AUDIT_RETENTION_DAYS ago "
        "(their conversations, requests, events and staff reviews). Run it daily, e.g. from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say how many accounts are due; remove nothing."
        )

    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        days = settings.BOWOUT_AUDIT_RETENTION_DAYS
        if dry_run:
            due = expired_accounts().count()
            self.stdout.write(f"{due} deleted account(s) older than {days} days would be purged.")
            return
        result = purge_expired()
        self.stdout.write(
            f"Purged {result.accounts} deleted account(s) older than {days} days: "
            f"{result.conversations} conversation(s), {result.audit_entries} audit entr(ies)."
        )
