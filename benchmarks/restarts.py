"""How long a chat is held by a reply whose server went away, and how long a clean shutdown takes.

Starts a real uvicorn server on its own SQLite file (the helpers of tests/live_server.py), streams a slow
reply, then either kills the server (-9) or stops it (SIGTERM), restarts it and loads the page. Prints, per
round: seconds from the restart's first answer until the page shows the reply interrupted, the page load
itself, and for SIGTERM the time the server took to exit. Numbers, not a test.

    .venv/bin/python benchmarks/restarts.py [--rounds 3] [--drain 1]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.live_server import Server, Visitor, migrate, server_env, streaming_text  # noqa: E402

RESTARTED = "Bowout restarted while Claude was writing"


def one_round(server: Server, how: str) -> dict:
    visitor = Visitor(server)
    conversation = visitor.new_chat(server)
    tab = visitor.socket(server, conversation)
    tab.say("[fault:slow] a long story")
    tab.receive_until(streaming_text)
    exit_seconds = float("nan")
    if how == "kill":
        server.kill()
    else:
        exit_seconds = server.terminate()
    tab.close()
    server.start()
    began = time.monotonic()
    loads = []
    while True:
        load = time.monotonic()
        page = visitor.page(server, conversation)
        loads.append(time.monotonic() - load)
        if RESTARTED in page:
            break
        time.sleep(0.05)
    return {
        "until_shown": time.monotonic() - began,
        "page_load": loads[-1],
        "loads": len(loads),
        "exit": exit_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--drain", type=float, default=1.0, help="BOWOUT_DRAIN_SECONDS of the server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        env = server_env(BOWOUT_SQLITE_PATH=f"{workdir}/db.sqlite3", BOWOUT_DRAIN_SECONDS=str(args.drain))
        migrate(env)
        server = Server(env, Path(workdir) / "server.log").start()
        try:
            for how in ("kill", "sigterm"):
                rounds = [one_round(server, how) for _ in range(args.rounds)]
                shown = [r["until_shown"] for r in rounds]
                print(
                    f"{how:8} rounds={len(rounds)} interrupted shown after restart: median {statistics.median(shown):.3f} s"
                    f" max {max(shown):.3f} s; page load {statistics.median(r['page_load'] for r in rounds):.3f} s;"
                    f" page loads needed {max(r['loads'] for r in rounds)}"
                    + (
                        f"; exit after SIGTERM {statistics.median(r['exit'] for r in rounds):.2f} s"
                        if how == "sigterm"
                        else ""
                    )
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
