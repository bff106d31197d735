import asyncio
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.loader import render_to_string
from django.test import override_settings

from chat import claude, evaluation, flow, recognition_eval, scenarios


class Command(BaseCommand):
    help = (
        "Play the end-conversation scenario suite (evaldata/scenarios/*.yaml) against the configured model "
        "(the offline simulator unless ANTHROPIC_API_KEY or ANTHROPIC_BASE_URL is set), print per category "
        "how many conversations ended, when and how, and write a JSON report and an HTML page with a chart. "
        "Exits non-zero when a category that must never end did. Nothing is written to the database. "
        "With --classifier, score the offline model's recognisers and the crisis guard on the held-out "
        "labelled messages instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--classifier", action="store_true", help="Score the recognisers on held-out data."
        )
        parser.add_argument(
            "--compare",
            nargs=2,
            metavar=("PROMPT_A", "PROMPT_B"),
            help="Run the suite once with each system prompt file and report them side by side.",
        )
        parser.add_argument("--scenarios", type=Path, default=scenarios.SCENARIO_DIR, help="Scenario folder.")
        parser.add_argument(
            "--category", action="append", default=[], help="Only this category (repeatable)."
        )
        parser.add_argument("--out", type=Path, default=Path("welfare-eval"), help="Folder for the reports.")
        parser.add_argument("--concurrency", type=int, default=16, help="Scenarios played at once.")
        parser.add_argument(
            "--verbose-scenarios", action="store_true", help="Also print one line per scenario."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["classifier"]:
            self.score_recognisers()
            return
        try:
            suite = scenarios.load_all(options["scenarios"])
        except (scenarios.ScenarioError, OSError) as error:
            raise CommandError(str(error)) from error
        if options["category"]:
            wanted = set(options["category"])
            unknown = wanted - {s.category for s in suite}
            if unknown:
                raise CommandError(f"No such category: {', '.join(sorted(unknown))}")
            suite = tuple(s for s in suite if s.category in wanted)
        prompts = options["compare"] or []
        for prompt in prompts:
            if not Path(prompt).is_file():
                raise CommandError(f"No such prompt file: {prompt}")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1")

        model = "offline simulator" if claude.is_offline() else claude.model_name()
        policy = flow.welfare_policy()
        self.stdout.write(
            f"Model: {model}. Policy: model can end={policy.model_can_end}, minimum user turns before an end "
            f"for abuse={policy.min_user_turns_before_end}, crisis window={policy.crisis_window} messages, "
            f"{len(policy.crisis_terms)} extra crisis terms. {len(suite)} scenarios in "
            f"{len({s.category for s in suite})} categories."
        )
        plan = [("A", prompts[0]), ("B", prompts[1])] if prompts else [("", "")]
        runs = [self.play(label, prompt, policy, suite, options["concurrency"]) for label, prompt in plan]
        for one in runs:
            self.print_table(one, options["verbose_scenarios"])
        if len(runs) == 2:
            self.print_comparison(runs)
        self.write_reports(options["out"], model, policy, runs)

        violations = sorted({c for one in runs for c in evaluation.never_end_violations(one.rows)})
        errors = sum(row["errors"] for one in runs for row in one.rows)
        if errors:
            self.stdout.write(self.style.WARNING(f"{errors} scenario(s) failed with a model error."))
        if violations:
            raise CommandError(f"Conversations ended in never-end categories: {', '.join(violations)}")
        if errors:
            raise CommandError("The suite did not complete: see the errors above.")

    def play(
        self, label: str, prompt: str, policy: Any, suite: tuple[scenarios.Scenario, ...], concurrency: int
    ) -> evaluation.Run:
        overrides: dict[str, Any] = {}
        if prompt:
            overrides["BOWOUT_SYSTEM_PROMPT_FILE"] = prompt
        if claude.is_offline():
            overrides["BOWOUT_SIMULATOR_DELAY"] = 0  # pacing tokens for a reader means nothing here
        with override_settings(**overrides):
            return asyncio.run(evaluation.run(label, prompt, policy, suite, concurrency=concurrency))

    def print_table(self, run: evaluation.Run, verbose: bool) -> None:
        title = f"Prompt {run.label}: {run.prompt}. " if run.label else ""
        self.stdout.write(f"\n{title}{len(run.outcomes)} scenarios in {run.seconds:.1f} s")
        header = (
            f"{'category':<28}{'expect':>7}{'chats':>6}{'ended':>6}{'share':>7}{'<t7':>6}"
            f"{'warned':>8}{'confirmed':>10}  declines by cause{'':<8}unexpected"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for row in run.rows:
            warned = f"{row['warned_before_end']}/{row['abuse_ends']}" if row["abuse_ends"] else "-"
            confirmed = (
                f"{row['confirmed_before_end']}/{row['requested_ends']}" if row["requested_ends"] else "-"
            )
            declines = ", ".join(f"{cause} {n}" for cause, n in row["declines"].items()) or "-"
            self.stdout.write(
                f"{row['category']:<28}{row['expect']:>7}{row['conversations']:>6}{row['ended']:>6}"
                f"{row['share_ended']:>7.0%}{row['share_ended_before_turn_7']:>6.0%}{warned:>8}{confirmed:>10}"
                f"  {declines:<25}{row['unexpected']}"
            )
        if verbose:
            for outcome in run.outcomes:
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
        unexpected = sum(row["unexpected"] for row in run.rows)
        if unexpected:
            self.stdout.write(self.style.WARNING(f"{unexpected} scenario(s) did not behave as expected."))
        else:
            self.stdout.write(self.style.SUCCESS("Every scenario behaved as expected."))

    def print_comparison(self, runs: list[evaluation.Run]) -> None:
        a, b = ({row["category"]: row for row in one.rows} for one in runs)
        self.stdout.write(f"\n{'category':<28}{'ended A':>9}{'ended B':>9}")
        for category in a:
            share_b = b.get(category, {}).get("share_ended")
            shown_b = f"{share_b:.0%}" if share_b is not None else "-"
            self.stdout.write(f"{category:<28}{a[category]['share_ended']:>9.0%}{shown_b:>9}")

    def write_reports(self, out: Path, model: str, policy: Any, runs: list[evaluation.Run]) -> None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"Cannot write the reports to {out}: {error}") from error
        report = {
            "model": model,
            "policy": {
                "model_can_end": policy.model_can_end,
                "min_user_turns_before_end": policy.min_user_turns_before_end,
                "crisis_window": policy.crisis_window,
                "extra_crisis_terms": list(policy.crisis_terms),
            },
            "early_turns": evaluation.EARLY_TURNS,
            "runs": [one.as_dict() for one in runs],
        }
        (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        html = render_to_string("chat/welfare_eval_report.html", {"report": report, "chart": chart(runs)})
        (out / "report.html").write_text(html, encoding="utf-8")
        self.stdout.write(f"\nReports: {out / 'report.json'} and {out / 'report.html'}")

    def score_recognisers(self) -> None:
        examples = recognition_eval.load("messages_heldout.txt") + recognition_eval.load(
            "answers_heldout.txt"
        )
        report = recognition_eval.score_classifier(examples)
        self.stdout.write(
            f"Offline model's recognisers on the held-out half ({len(examples)} messages, "
            f"evaldata/messages_heldout.txt and answers_heldout.txt):"
        )
        self.stdout.write(f"{'class':<16}{'examples':>9}{'precision':>11}{'recall':>8}")
        for score in report.classes.values():
            self.stdout.write(
                f"{score.label:<16}{score.support:>9}{score.precision:>11.0%}{score.recall:>8.0%}"
            )
        self.stdout.write(
            f"ordinary, heated, dark fiction and venting texts taken for something to act on: "
            f"{report.benign_flagged}/{report.benign_total} ({report.benign_false_positive_rate:.1%})"
        )
        self.stdout.write(
            f"answers to the end prompt (confirmation or withdrawal) right: "
            f"{report.answers_right}/{report.answers_total} ({report.answers_accuracy:.1%})"
        )
        crisis_examples = recognition_eval.load("crisis_heldout.txt")
        crisis = recognition_eval.score_crisis_guard(crisis_examples, flow.welfare_policy())
        self.stdout.write(
            f"\nServer's crisis guard on the held-out half ({len(crisis_examples)} messages, "
            f"evaldata/crisis_heldout.txt):"
        )
        for label, (blocked, total) in crisis.per_label.items():
            self.stdout.write(f"{label:<16}blocks an end {blocked}/{total}")
        self.stdout.write(
            f"crisis recall {crisis.recall:.0%}; abuse without crisis wrongly blocked "
            f"{crisis.abuse_blocked_rate:.1%}; figures of speech blocked {crisis.lookalike_blocked_rate:.1%}"
        )
        if report.mistakes or crisis.mistakes:
            self.stdout.write("\nMistakes:")
            for example, got in report.mistakes:
                self.stdout.write(f"  {example.label} taken for {got}: {example.text}")
            for example, found in crisis.mistakes:
                self.stdout.write(f"  {example.label} {'blocks' if found else 'missed'}: {example.text}")
        targets = {**report.meets_targets(), **crisis.meets_targets()}
        self.stdout.write("\nTargets (issue 8):")
        for name, met in targets.items():
            goal = recognition_eval.TARGETS[name]
            mark = self.style.SUCCESS("met") if met else self.style.ERROR("missed")
            self.stdout.write(f"  {name} {'<=' if 'rate' in name else '>='} {goal:.0%}: {mark}")
        missed = [name for name, met in targets.items() if not met]
        if missed:
            raise CommandError(f"Targets missed: {', '.join(missed)}")


def chart(runs: list[evaluation.Run]) -> dict[str, Any]:
    """Bar geometry for the HTML report's SVG: share ended per category, one bar per run."""
    bar, gap, label_width, plot_width = 14, 10, 230, 420
    categories = list(dict.fromkeys(row["category"] for one in runs for row in one.rows))
    shares = [{row["category"]: row for row in one.rows} for one in runs]
    groups = []
    y = 24
    for category in categories:
        bars = []
        for index, per_run in enumerate(shares):
            row = per_run.get(category)
            share = row["share_ended"] if row else 0.0
            bars.append(
                {
                    "y": y + index * bar,
                    "width": round(share * plot_width, 1),
                    "share": share,
                    "run": runs[index].label,
                    "never": row is not None and row["expect"] == "never",
                    "violation": row is not None and row["expect"] == "never" and row["ended"] > 0,
                }
            )
        groups.append({"category": category, "y": y, "text_y": y + bar * len(runs) / 2 + 4, "bars": bars})
        y += bar * len(runs) + gap
    return {
        "groups": groups,
        "height": y + 10,
        "label_width": label_width,
        "plot_width": plot_width,
        "width": label_width + plot_width + 60,
        "bar": bar - 2,
        "ticks": [{"x": label_width + plot_width * t / 4, "label": f"{t * 25}%"} for t in range(5)],
    }
