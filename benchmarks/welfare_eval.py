"""How long the offline welfare_eval takes, and how fast the offline model's recogniser reads messages.

    .venv/bin/python benchmarks/welfare_eval.py [--concurrency 1 4 16] [--runs 3]

Plays the whole scenario suite (evaldata/scenarios) against the offline simulator at each concurrency and
prints the wall time per run, then labels every message of evaldata/messages_*.txt and prints messages per
second (cold: the classifier's cache is cleared first). It measures; it asserts nothing.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ANTHROPIC_API_KEY"] = ""
    os.environ["ANTHROPIC_BASE_URL"] = ""
    os.environ["BOWOUT_SIMULATOR_DELAY"] = "0"
    import django

    django.setup()
    from chat import evaluation, flow, recognition_eval, scenarios
    from simulator import understanding

    started = time.perf_counter()
    understanding.offensive("warm up the classifier")
    print(f"loading the profanity model: {time.perf_counter() - started:.2f} s")

    suite = scenarios.load_all()
    policy = flow.welfare_policy()
    for concurrency in args.concurrency:
        seconds = []
        for _ in range(args.runs):
            understanding.classify.cache_clear()
            run = asyncio.run(evaluation.run("", "", policy, suite, concurrency=concurrency))
            seconds.append(run.seconds)
        print(
            f"welfare_eval, {len(suite)} scenarios, concurrency {concurrency:>2}: "
            f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s over {args.runs} runs"
        )

    texts = [
        e.text
        for name in sorted(p.name for p in recognition_eval.DATA_DIR.glob("messages_*.txt"))
        for e in recognition_eval.load(name)
    ]
    understanding.classify.cache_clear()
    started = time.perf_counter()
    for text in texts:
        understanding.classify(text)
    elapsed = time.perf_counter() - started
    print(
        f"classify: {len(texts)} messages in {elapsed:.3f} s ({len(texts) / elapsed:,.0f} messages/s, cold)"
    )


if __name__ == "__main__":
    main()
