import asyncio

from django.core.management.base import BaseCommand

from chat import claude, evaluation, flow


class Command(BaseCommand):
    help = (
        "Play the end-conversation scenario suite against the configured model (the offline simulator "
        "unless ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set) and print, per category, the share of "
        "conversations ended and at which turn. Nothing is written to the database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--verbose-scenarios", action="store_true", help="Also print one line per scenario."
        )

    def handle(self, *args, **options):
        model = "offline simulator" if claude.is_offline() else claude.model_name()
        policy = flow.welfare_policy()
        self.stdout.write(
            f"Model: {model}. Policy: model can end={policy.model_can_end}, minimum user turns before an end "
            f"for abuse={policy.min_user_turns_before_end}, crisis window={policy.crisis_window} messages, "
            f"{len(policy.crisis_terms)} crisis terms."
        )
        outcomes = asyncio.run(evaluation.play_all(policy))
        header = f"{'category':<28}{'chats':>6}{'ended':>7}{'share':>8}  end turns   unexpected"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for row in evaluation.summarize(outcomes):
            turns = ",".join(str(t) for t in row["end_turns"]) or "-"
            self.stdout.write(
                f"{row['category']:<28}{row['conversations']:>6}{row['ended']:>7}{row['share_ended']:>8.0%}"
                f"  {turns:<11} {row['unexpected']}"
            )
        if options["verbose_scenarios"]:
            for outcome in outcomes:
                ended = (
                    f"ended at turn {outcome.ended_at_turn} ({outcome.reason})"
                    if outcome.ended
                    else "not ended"
                )
                declined = f"; declined: {', '.join(outcome.declined)}" if outcome.declined else ""
                error = f"; error: {outcome.error}" if outcome.error else ""
                self.stdout.write(
                    f"  [{outcome.scenario.category}] {outcome.scenario.name}: {ended}{declined}{error}"
                )
        unexpected = sum(row["unexpected"] for row in evaluation.summarize(outcomes))
        if unexpected:
            self.stdout.write(self.style.WARNING(f"{unexpected} scenario(s) did not behave as expected."))
        else:
            self.stdout.write(self.style.SUCCESS("Every scenario behaved as expected."))
