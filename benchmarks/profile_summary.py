"""Summarise a py-spy raw (collapsed stacks) profile: the functions with the most samples on the stack
(inclusive) and at its top (self).

    .venv/bin/python benchmarks/profile_summary.py profile.raw [--top 15]
"""

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/perf/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def summarise(raw: str, top: int = 15) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    inclusive, own, total = Counter(), Counter(), 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [short(f) for f in stack.split(";") if f.strip()]
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    return total, inclusive.most_common(top), own.most_common(top)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("raw")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    total, inclusive, own = summarise(Path(args.raw).read_text(), args.top)
    print(f"{total} samples\n\ninclusive (on the stack):")
    for frame, n in inclusive:
        print(f"  {n / total * 100:5.1f}%  {frame}")
    print("\nself (top of the stack):")
    for frame, n in own:
        print(f"  {n / total * 100:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
