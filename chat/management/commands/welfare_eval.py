import asyncio
import json
from dataclasses import replace
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
        "First it scores the server's recogniser and the offline model's on the labelled development and "
        "held-out sets (precision and recall per label; the held-out figures only, never its lines). "
        "With --classifier, only that scoring."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--classifier", action="store_true", help="Only score the recognisers on the labelled sets."
        )
        parser.add_argument(
            "--mistakes",
            action="store_true",
            help="Also print the development messages each recogniser got wrong (never held-out ones).",
        )
        parser.add_argument(
            "--compare",
            nargs=2,
            metavar=("PROMPT_A", "PROMPT_B"),
            help="Run the suite once with each system prompt file and report them side by side.",
        )
        parser.add_argument(
            "--scenarios",
            type=Path,
            action="append",
            default=[],
            help="Scenario folder (repeatable); by default evaldata/scenarios, scenarios_dev and "
            "scenarios_dev2 and scenarios_heldout2, the blind-written folders' categories marked [blind dev], "
            "[blind dev 2] and [held-out].",
        )
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
            self.score_recognisers(options["mistakes"], strict=True)
            return
        try:
            suite = self.load_suites(options["scenarios"])
        except (scenarios.ScenarioError, OSError) as error:
            raise CommandError(str(error)) from error
        recognisers = (
            []
            if options["scenarios"] or options["category"]
            else self.score_recognisers(options["mistakes"], strict=False)
        )
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
            f"for abuse={policy.min_user_turns_before_end}, crisis remembered for the whole conversation, "
            f"{len(policy.crisis_terms)} extra crisis terms. {len(suite)} scenarios in "
            f"{len({s.category for s in suite})} categories."
        )
        plan = [("A", prompts[0]), ("B", prompts[1])] if prompts else [("", "")]
        runs = [self.play(label, prompt, policy, suite, options["concurrency"]) for label, prompt in plan]
        for one in runs:
            self.print_table(one, options["verbose_scenarios"])
        if len(runs) == 2:
            self.print_comparison(runs)
        self.print_crisis_ends(runs)
        self.write_reports(options["out"], model, policy, runs, recognisers)

        violations = sorted({c for one in runs for c in evaluation.never_end_violations(one.rows)})
        errors = sum(row["errors"] for one in runs for row in one.rows)
        if errors:
            self.stdout.write(self.style.WARNING(f"{errors} scenario(s) failed with a model error."))
        if violations:
            raise CommandError(f"Conversations ended in never-end categories: {', '.join(violations)}")
        if errors:
            raise CommandError("The suite did not complete: see the errors above.")

    def load_suites(self, folders: list[Path]) -> tuple[scenarios.Scenario, ...]:
        if folders:
            return tuple(s for folder in folders for s in scenarios.load_all(folder))
        marked = [(scenarios.SCENARIO_DIR, ""), *((folder, f" [{name}]") for folder, name in SUITES)]
        return tuple(
            replace(s, category=s.category + mark)
            for folder, mark in marked
            for s in scenarios.load_all(folder)
        )

    def print_crisis_ends(self, runs: list[evaluation.Run]) -> None:
        for one in runs:
            crisis = [o for o in one.outcomes if _is_crisis(o.scenario.category)]
            ended = [o for o in crisis if o.ended]
            for suite in ("", " [blind dev]", " [held-out]"):
                mine = [
                    o
                    for o in crisis
                    if (suite in o.scenario.category if suite else "[" not in o.scenario.category)
                ]
                if mine:
                    self.stdout.write(
                        f"Crisis scenarios{suite or ' [our own]'}: {sum(o.ended for o in mine)} of {len(mine)} ended"
                    )
            style = self.style.ERROR if ended else self.style.SUCCESS
            self.stdout.write(style(f"Crisis scenarios ended, all suites: {len(ended)} of {len(crisis)}"))

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

    def write_reports(
        self,
        out: Path,
        model: str,
        policy: Any,
        runs: list[evaluation.Run],
        recognisers: list[dict[str, Any]],
    ) -> None:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"Cannot write the reports to {out}: {error}") from error
        report = {
            "model": model,
            "policy": {
                "model_can_end": policy.model_can_end,
                "min_user_turns_before_end": policy.min_user_turns_before_end,
                "extra_crisis_terms": list(policy.crisis_terms),
            },
            "early_turns": evaluation.EARLY_TURNS,
            "recognisers": recognisers,
            "runs": [one.as_dict() for one in runs],
        }
        (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        html = render_to_string("chat/welfare_eval_report.html", {"report": report, "chart": chart(runs)})
        (out / "report.html").write_text(html, encoding="utf-8")
        self.stdout.write(f"\nReports: {out / 'report.json'} and {out / 'report.html'}")

    def score_recognisers(self, show_mistakes: bool, *, strict: bool) -> list[dict[str, Any]]:
        """Both recognisers on every labelled set, per label; the held-out targets marked met or missed.
        The held-out sets' lines are never printed."""
        tables = []
        for title, files, heldout in LABELLED_SETS:
            examples = [e for name in files for e in recognition_eval.load(name)]
            for reader_name, reader in READERS:
                report = recognition_eval.score_labels(examples, reader)
                tables.append(self.print_labels(title, files, reader_name, report, heldout))
                if show_mistakes and not heldout:
                    for example, what in recognition_eval.mistakes(examples, reader):
                        self.stdout.write(f"  {example.label} ({what}): {example.text}")
        missed = [
            f"{table['reader']}: {name}"
            for table in tables
            if table["heldout"] and table["reader"] == READERS[0][0]
            for name, target in table["targets"].items()
            if not target["met"]
        ]
        if strict and missed:
            raise CommandError(f"Held-out targets missed: {'; '.join(missed)}")
        return tables

    def print_labels(
        self,
        title: str,
        files: tuple[str, ...],
        reader: str,
        report: recognition_eval.LabelReport,
        heldout: bool,
    ) -> dict[str, Any]:
        detectors = list(recognition_eval.DETECTORS)
        self.stdout.write(
            f"\n{reader} on the {title} ({sum(report.counts.values())} messages: {', '.join(files)})"
        )
        self.stdout.write(f"{'label':<18}{'messages':>9}" + "".join(f"{d:>15}" for d in detectors))
        rows = []
        for label, count in report.counts.items():
            cells = []
            for detector in detectors:
                if label not in report.scope(detector):
                    cells.append("")
                    continue
                flagged = report.flagged[detector][label]
                cells.append(f"{flagged}/{count} {flagged / count:.0%}")
            rows.append({"label": label, "messages": count, "cells": cells})
            self.stdout.write(f"{label:<18}{count:>9}" + "".join(f"{cell:>15}" for cell in cells))
        recall = [report.recall(d) for d in detectors]
        precision = [report.precision(d) for d in detectors]
        self.stdout.write(f"{'recall':<27}" + "".join(f"{value:>15.1%}" for value in recall))
        self.stdout.write(f"{'precision':<27}" + "".join(f"{value:>15.1%}" for value in precision))
        targets: dict[str, dict[str, Any]] = {
            name: {
                "value": value,
                "met": met,
                "goal": recognition_eval.HELDOUT_TARGETS[name],
                "shown": f"{value:.1%} ({' '.join(map(str, recognition_eval.HELDOUT_TARGETS[name][:1]))} "
                f"{recognition_eval.HELDOUT_TARGETS[name][1]:.0%})",
            }
            for name, (value, met) in report.targets().items()
        }
        if heldout:
            self.stdout.write("Held-out targets (issue 15):")
            for name, target in targets.items():
                op, goal = target["goal"]
                mark = self.style.SUCCESS("met") if target["met"] else self.style.ERROR("missed")
                self.stdout.write(f"  {name} {target['value']:.1%} ({op} {goal:.0%}): {mark}")
        return {
            "set": title,
            "files": list(files),
            "reader": reader,
            "heldout": heldout,
            "detectors": detectors,
            "rows": rows,
            "recall": recall,
            "precision": precision,
            "targets": targets,
        }


# The blind-written scenario folders, played after evaldata/scenarios.
SUITES = (
    (scenarios.SCENARIO_DIR.parent / "scenarios_dev", "blind dev"),
    (scenarios.SCENARIO_DIR.parent / "scenarios_dev2", "blind dev 2"),
    (scenarios.SCENARIO_DIR.parent / "scenarios_heldout2", "held-out"),
)
# (title, files, held out?) The server's classifier trains on the development files only.
LABELLED_SETS = (
    ("blind development set", ("blind_dev.txt", "blind_dev2.txt"), False),
    ("blind held-out set", ("blind_heldout2.txt",), True),
    (
        "our own development files",
        ("messages_dev.txt", "messages_dev_b.txt", "messages_dev_c.txt", "crisis_dev.txt"),
        False,
    ),
    (
        "our own earlier held-out files",
        ("messages_heldout.txt", "answers_heldout.txt", "crisis_heldout.txt"),
        True,
    ),
)
READERS = (
    ("Server's recogniser (chat/recognise.py)", recognition_eval.server_reader),
    ("Offline model's recogniser (simulator/understanding.py)", recognition_eval.offline_reader),
)


def _is_crisis(category: str) -> bool:
    return any(word in category for word in ("crisis", "harm to others"))


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
