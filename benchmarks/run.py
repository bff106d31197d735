"""`make bench`: Bowout's streaming path against the floor and the canonical Channels peer, same run,
same load.

Starts the loopback model server (benchmarks/model_server.py, 50 tokens/s), then, one after the other,
servers under uvicorn: Bowout with 1 worker on SQLite, Bowout with 1, 2 and 4 workers on PostgreSQL +
Redis (`bowout-pgN`; database bowout_bench, Redis db 7), the floor (benchmarks/floor.py) and the peer
(benchmarks/peer.py). For each, it sweeps C simultaneous replies (C people, each with their own
conversation and websocket, all sending at once) and reports per point: completion, characters
delivered vs sent, time to first text, update latency, CPU per 1,000 tokens (workers, plus PostgreSQL's
backends and the Redis server), PostgreSQL connections at peak, peak RSS, bytes, database writes and
queries per reply; then bytes per reply at 1,500 tokens. A table on stdout, JSON and a PNG under
benchmarks/results/. It prints numbers; it asserts nothing.

    .venv/bin/python benchmarks/run.py            # the full sweep (< 10 min)
    .venv/bin/python benchmarks/run.py --quick    # one small point per configuration (< 1 min)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import html
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import websockets
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.model_server import RATE, TOKEN_CHARS, expected_text  # noqa: E402

PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/bowout_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
HOLD_LATENCY_P99 = 0.250
HOLD_COMPLETION = 0.98


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Processes -------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    times = {}
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            times[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return times


def peak_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


class Server:
    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.port = free_port()
        self.log = open(logs / f"{name}.log", "w")  # noqa: SIM115 (closed in stop)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [PYTHON, "-m", "uvicorn", *self.args, "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--no-access-log", "--log-level", "warning"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log.name}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
                time.sleep(0.5 if "--workers" in self.args else 0)  # let every worker come up
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start; see {self.log.name}")

    def pids(self) -> list[int]:
        return descendants(self.process.pid) if self.process else []

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# --- One configuration ------------------------------------------------------------------------------


@dataclass
class Config:
    name: str
    kind: str  # bowout | floor | peer
    server: Server
    env: dict[str, str]
    stats_dir: Path | None = None
    conversations: list[tuple[str, str]] = field(default_factory=list)  # (conversation id, session key)
    pg: bool = False

    def take_conversations(self, n: int) -> list[tuple[str, str]]:
        taken, self.conversations = self.conversations[:n], self.conversations[n:]
        if len(taken) < n:
            raise RuntimeError(f"{self.name}: not enough conversations prepared")
        return taken

    def statements(self) -> tuple[int, int]:
        """(writes, all statements) run so far by the workers, summed over their stats files."""
        if self.stats_dir is None:
            return 0, 0
        writes = queries = 0
        for path in self.stats_dir.glob("writes-*.json"):
            with contextlib.suppress(ValueError, OSError, KeyError):
                data = json.loads(path.read_text())
                writes, queries = writes + data["writes"], queries + data["queries"]
        return writes, queries


def base_env(model_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY")}
    env.update(
        ANTHROPIC_BASE_URL=model_url,
        PYTHONPATH=str(ROOT),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-only-secret-key-" + "x" * 40,
        DJANGO_SECURE_COOKIES="0",
        BOWOUT_LOG_LEVEL="WARNING",
        BOWOUT_MAX_RETRIES="0",
        BOWOUT_MAX_TOKENS="4096",
        BENCH_REDIS_URL=REDIS_URL,
        # One bench user drives every conversation: per-user quotas would measure themselves, not streaming.
        BOWOUT_MESSAGES_PER_MINUTE="1000000",
        BOWOUT_CONCURRENT_REPLIES="1000000",
        BOWOUT_NEW_CHATS_PER_HOUR="1000000",
        BOWOUT_TOKENS_PER_DAY="1000000000",
        BOWOUT_OPEN_SOCKETS="1000000",
    )
    return env


def make_configs(names: list[str], model_url: str, work: Path) -> list[Config]:
    configs = []
    for name in names:
        env = base_env(model_url)
        if name == "bowout-sqlite":
            env["BOWOUT_SQLITE_PATH"] = str(work / "bench.sqlite3")
            stats = work / "stats-sqlite"
            stats.mkdir()
            env["BENCH_STATS_DIR"] = str(stats)
            server = Server(name, ["benchmarks.bowout_asgi:application"], env, work)
            configs.append(Config(name, "bowout", server, env, stats))
        elif (workers := re.fullmatch(r"bowout-pg(\d+)", name)) is not None:
            env.update(DATABASE_URL=PG_URL, REDIS_URL=REDIS_URL)
            stats = work / f"stats-{name}"
            stats.mkdir()
            env["BENCH_STATS_DIR"] = str(stats)
            args = ["benchmarks.bowout_asgi:application", "--workers", workers.group(1)]
            configs.append(Config(name, "bowout", Server(name, args, env, work), env, stats, pg=True))
        elif name == "floor":
            configs.append(Config(name, "floor", Server(name, ["benchmarks.floor:app"], env, work), env))
        elif name == "peer":
            server = Server(name, ["benchmarks.peer:application", "--lifespan", "off"], env, work)
            configs.append(Config(name, "peer", server, env))
        else:
            raise SystemExit(f"unknown configuration {name}")
    return configs


def reset_services(configs: list[Config]) -> None:
    """A fresh bench database and Redis db for every run, so runs do not carry each other's data."""
    if any(c.pg or c.kind == "peer" for c in configs):
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
    if any(c.pg for c in configs):
        import psycopg

        name = PG_URL.rsplit("/", 1)[1]
        with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')


async def prepare_bowout(config: Config, conversations: int) -> None:
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "benchmarks/prepare.py",
        "--conversations",
        str(conversations),
        cwd=ROOT,
        env=config.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode:
        raise RuntimeError(f"preparing {config.name} failed:\n{err.decode()}")
    data = json.loads(out.decode().strip().splitlines()[-1])
    config.conversations = [tuple(row) for row in data["conversations"]]


def pg_backends() -> list[int]:
    """The PostgreSQL backends connected to the bench database (only one server runs at a time)."""
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [PG_URL.rsplit("/", 1)[1]])
        return [row[0] for row in rows]


def pg_backend_cpu() -> dict[int, float]:
    return cpu_seconds(pg_backends())


def redis_stats() -> tuple[float, int]:
    """(CPU seconds of the Redis server, commands it has run). The server is shared by everyone on
    this machine (other databases than the bench's db 7), so both are upper bounds for a point."""
    import redis

    info = redis.Redis.from_url(REDIS_URL).info()
    cpu = cpu_seconds([int(info["process_id"])]).get(int(info["process_id"]))
    if cpu is None:  # not readable here: Redis's own count
        cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return cpu, int(info["total_commands_processed"])


async def sample_connections(peak: list[int], stop: asyncio.Event) -> None:
    """The most PostgreSQL connections open to the bench database while a point runs."""
    while not stop.is_set():
        with contextlib.suppress(Exception):
            peak[0] = max(peak[0], len(await asyncio.to_thread(pg_backends)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


# --- The load ----------------------------------------------------------------------------------------


@dataclass
class Reply:
    nonce: str
    tokens: int
    sent_at: float = 0.0
    frames: list[tuple[float, str]] = field(default_factory=list)
    done_at: float | None = None
    error: str = ""


def is_done(kind: str, frame: str) -> bool:
    if kind == "bowout":
        return 'data-role="assistant"' in frame and 'data-status="streaming"' not in frame
    return frame == '{"done":true}'


async def one_reply(
    config: Config, url: str, session: str, reply: Reply, go: asyncio.Event, ready, wait_s: float
) -> None:
    headers = {"Cookie": f"sessionid={session}"} if session else {}
    text = f"Benchmark reply tokens={reply.tokens} nonce={reply.nonce}"
    try:
        async with connect(
            url,
            additional_headers=headers,
            origin=f"http://127.0.0.1:{config.server.port}",
            max_size=None,
            open_timeout=60,
            ping_interval=None,
        ) as ws:
            if config.kind == "bowout":
                await asyncio.wait_for(ws.recv(), 60)  # the snapshot every connection starts with
                message = {"action": "send", "text": text, "client_id": str(uuid.uuid4())}
            else:
                message = {"text": text}
            ready()
            await go.wait()
            reply.sent_at = time.time()
            await ws.send(json.dumps(message))
            async with asyncio.timeout(wait_s):
                async for frame in ws:
                    reply.frames.append((time.time(), frame))
                    if is_done(config.kind, frame):
                        reply.done_at = time.time()
                        return
    except TimeoutError:
        reply.error = "timeout"
    except (OSError, websockets.WebSocketException) as exc:
        reply.error = repr(exc)


_BODY = re.compile(r'id="msg-\d+-body"[^>]*>(.*?)</div>', re.S)
_TAG = re.compile(r"<[^>]+>")


def delivered_text(kind: str, reply: Reply) -> tuple[str, list[tuple[float, int]]]:
    """The text a tab ends up showing, and (time, length) after each frame that added to it."""
    text, updates = "", []
    for at, frame in reply.frames:
        before = len(text)
        if kind == "bowout":
            if frame.startswith('{"stream":'):
                data = json.loads(frame)
                if data.get("reset") or (data.get("whole") and len(data["text"]) >= len(text)):
                    text = data["text"]
                elif data.get("whole"):
                    pass
                elif data["at"] <= len(text):
                    text += data["text"][len(text) - data["at"] :]
            elif is_done(kind, frame) and (m := _BODY.search(frame)):
                final = html.unescape(_TAG.sub("", m.group(1))).strip()
                if final.startswith(text.strip()) and len(final) > len(text.strip()):
                    text = final
        elif not is_done(kind, frame):
            text += frame
        if len(text) > before:
            updates.append((at, len(text)))
    return text, updates


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def drain(model_url: str, limit: float = 30) -> None:
    """Wait until the model server streams nothing: replies a failed point left running (a closed tab
    loses nothing, so they go on) must not be measured as part of the next point."""
    deadline = time.time() + limit
    while time.time() < deadline:
        active = json.loads(urllib.request.urlopen(f"{model_url}/active", timeout=10).read())["active"]
        if not active:
            return
        await asyncio.sleep(0.5)


async def run_point(
    config: Config, c: int, tokens: int, model_url: str, measure: bool = True, on_go=None
) -> dict:
    duration = tokens / RATE
    conversations = config.take_conversations(c) if config.kind == "bowout" else [("", "")] * c
    ws_base = f"ws://127.0.0.1:{config.server.port}"
    replies = [Reply(uuid.uuid4().hex[:12], tokens) for _ in range(c)]
    go, connected = asyncio.Event(), 0
    all_connected = asyncio.Event()

    def ready() -> None:
        nonlocal connected
        connected += 1
        if connected == c:
            all_connected.set()

    wait_s = 2 * duration + 3
    tasks = [
        asyncio.create_task(
            one_reply(
                config,
                f"{ws_base}/ws/c/{cid}/" if config.kind == "bowout" else f"{ws_base}/ws/",
                session,
                r,
                go,
                ready,
                wait_s,
            )
        )
        for (cid, session), r in zip(conversations, replies, strict=True)
    ]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await all_connected.wait()
    await asyncio.sleep(0.2)
    pids = config.server.pids()
    load = os.getloadavg()
    cpu_before = cpu_seconds(pids)
    pg_before = pg_backend_cpu() if config.pg else {}
    redis_before = redis_stats() if config.pg or config.kind == "peer" else None
    writes_before, queries_before = config.statements()
    peak_connections, sampled = [0], asyncio.Event()
    sampler = asyncio.create_task(sample_connections(peak_connections, sampled)) if config.pg else None
    if on_go is not None:
        await on_go()
    go.set()
    await asyncio.gather(*tasks)
    cpu_after = cpu_seconds(config.server.pids())
    pg_after = pg_backend_cpu() if config.pg else {}
    redis_after = redis_stats() if redis_before is not None else None
    sampled.set()
    if sampler is not None:
        await sampler
    # Writes per reply count every reply to its end, delivered or not; and replies of a failed point go
    # on (a closed tab loses nothing): the next point must not measure them.
    await drain(model_url, limit=2 * duration + 60)
    await asyncio.sleep(1.1)  # the write counters are dumped every 0.5 s
    writes_after, queries_after = config.statements()
    writes, queries = writes_after - writes_before, queries_after - queries_before
    model_side = json.loads(urllib.request.urlopen(f"{model_url}/starts", timeout=10).read())
    starts, model_sent = model_side["starts"], model_side["sent"]
    if not measure:
        return {"replies": replies}

    expected = expected_text(tokens).rstrip()
    within, finished, lost, exact, sent_chars, delivered = 0, 0, 0, 0, 0, 0
    ttft, latencies, sizes = [], [], []
    for reply in replies:
        sent_chars += len(expected)
        text, updates = delivered_text(config.kind, reply)
        text = text.rstrip()
        common = len(os.path.commonprefix([text, expected]))
        delivered += common
        sizes.append(sum(len(f.encode()) for _, f in reply.frames))
        if reply.done_at is not None:
            finished += 1
            # Lost: what the model server sent for this reply and the tab never got. (A reply whose
            # model connection failed was sent nothing, and shows an error instead: not a loss.)
            sent_by_model = len(expected_text(model_sent.get(reply.nonce, 0)).rstrip())
            lost += max(0, sent_by_model - common)
            exact += text == expected
            if reply.done_at - reply.sent_at <= 2 * duration:
                within += 1
        if updates:
            ttft.append(updates[0][0] - reply.sent_at)
        start = starts.get(reply.nonce)
        previous = 0
        for at, length in updates:
            first_new = previous // TOKEN_CHARS
            if start is not None and length // TOKEN_CHARS > first_new:
                latencies.append(at - (start + (first_new + 1) / RATE))
            previous = length
    cpu = sum(cpu_after.get(p, 0) - cpu_before.get(p, 0) for p in cpu_after)
    # A backend that connected during the point counts from zero.
    pg_cpu = sum(pg_after.get(p, 0) - pg_before.get(p, 0) for p in pg_after)
    redis_cpu = redis_after[0] - redis_before[0] if redis_before and redis_after else 0.0
    tokens_delivered = max(1, delivered // TOKEN_CHARS)
    enough = delivered * 20 >= sent_chars  # a ratio over a handful of tokens says nothing
    point = {
        "c": c,
        "tokens": tokens,
        "completed_within_2x": round(within / c, 3),
        "finished": finished,
        "exact": exact,
        "chars_sent": sent_chars,
        "chars_delivered": delivered,
        "lost": lost,
        "ttft_p50_ms": ms(percentile(ttft, 50)),
        "ttft_p99_ms": ms(percentile(ttft, 99)),
        "update_p50_ms": ms(percentile(latencies, 50)),
        "update_p99_ms": ms(percentile(latencies, 99)),
        # Workers only; then PostgreSQL's backends and the Redis server; then all of it.
        "cpu_s_per_1000_tokens": round(cpu / tokens_delivered * 1000, 3) if enough else None,
        "db_cpu_s_per_1000_tokens": round(pg_cpu / tokens_delivered * 1000, 3)
        if config.pg and enough
        else None,
        "redis_cpu_s_per_1000_tokens": round(redis_cpu / tokens_delivered * 1000, 3)
        if redis_before and enough
        else None,
        "total_cpu_s_per_1000_tokens": round((cpu + pg_cpu + redis_cpu) / tokens_delivered * 1000, 3)
        if enough
        else None,
        "redis_commands_per_reply": round((redis_after[1] - redis_before[1]) / c, 1)
        if redis_before and redis_after
        else None,
        "pg_connections_peak": peak_connections[0] if config.pg else None,
        "peak_rss_mb": peak_rss_mb(config.server.pids()),
        "bytes_per_reply": round(statistics.mean(sizes)) if sizes else 0,
        "db_writes_per_reply": round(writes / c, 1) if config.stats_dir else None,
        "db_queries_per_reply": round(queries / c, 1) if config.stats_dir else None,
        "load_average": [round(x, 2) for x in load],
        "errors": sorted({r.error for r in replies if r.error}),
        "model_never_reached": sum(1 for r in replies if r.nonce not in starts),
    }
    p99 = percentile(latencies, 99)
    point["holds"] = (
        exact == c
        and lost == 0
        and within / c >= HOLD_COMPLETION
        and p99 is not None
        and p99 <= HOLD_LATENCY_P99
    )
    return point


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


async def profile_point(config: Config, c: int, tokens: int, model_url: str, out: Path) -> dict:
    """A repeat of point C with py-spy sampling the server (not one of the reported points: the
    sampler competes for the same cores). Writes the collapsed stacks and their summary."""
    from benchmarks.profile_summary import summarise

    raw = out / f"profile-{config.name}-C{c}.raw"
    sampler = None

    async def start_sampling() -> None:
        nonlocal sampler
        sampler = await asyncio.create_subprocess_exec(
            str(Path(PYTHON).parent / "py-spy"),
            "record",
            "--pid",
            str(config.server.process.pid),
            "--subprocesses",
            "--nonblocking",
            "--format",
            "raw",
            "--duration",
            str(int(tokens / RATE)),
            "-o",
            str(raw),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    point = await run_point(config, c, tokens, model_url, on_go=start_sampling)
    await sampler.wait()
    if not raw.exists():
        return {"error": "py-spy wrote nothing (is ptrace allowed?)"}
    total, inclusive, own = summarise(raw.read_text(), 25)
    summary = {
        "samples": total,
        "point": point,
        "inclusive": [(f, round(n / total * 100, 1)) for f, n in inclusive],
        "self": [(f, round(n / total * 100, 1)) for f, n in own],
    }
    (out / f"profile-{config.name}-C{c}.json").write_text(json.dumps(summary, indent=1))
    print(f"profile of {config.name} at C={c}: {total} samples, {raw}")
    return {"file": raw.name, "samples": total, "self_top": summary["self"][:10]}


# --- The run -----------------------------------------------------------------------------------------


async def sweep(
    config: Config, points: list[int], must: set[int], tokens: int, model_url: str, log
) -> list[dict]:
    results, failed = [], False
    for c in points:
        if failed and c not in must:
            continue
        point = await run_point(config, c, tokens, model_url)
        results.append(point)
        log(format_point(config.name, point))
        failed = failed or not point["holds"]
    return results


def format_point(name: str, p: dict) -> str:
    extra = ""
    if p.get("total_cpu_s_per_1000_tokens") is not None and p.get("db_cpu_s_per_1000_tokens") is not None:
        extra = f" (+{p['db_cpu_s_per_1000_tokens']} pg +{p['redis_cpu_s_per_1000_tokens']} redis)"
    writes = p["db_writes_per_reply"] if p["db_writes_per_reply"] is not None else "-"
    queries = p.get("db_queries_per_reply") if p.get("db_queries_per_reply") is not None else "-"
    conns = f"  pg conns {p['pg_connections_peak']}" if p.get("pg_connections_peak") is not None else ""
    return (
        f"{name:14} C={p['c']:<4} {'holds' if p['holds'] else 'FAILS':5} "
        f"done<2x {p['completed_within_2x'] * 100:5.1f}%  lost {p['lost']:<5} exact {p['exact']}/{p['c']:<4} "
        f"ttft {p['ttft_p50_ms']}/{p['ttft_p99_ms']} ms  upd {p['update_p50_ms']}/{p['update_p99_ms']} ms  "
        f"cpu/1k {p['cpu_s_per_1000_tokens']}{extra} s  rss {p['peak_rss_mb']} MB  "
        f"{p['bytes_per_reply'] / 1024:.1f} KB/reply  writes/reply {writes}  queries/reply {queries}{conns}  "
        f"load {p['load_average'][0]}"
    )


def largest_holding(points: list[dict]) -> int:
    held = 0
    for p in sorted(points, key=lambda p: p["c"]):
        if not p["holds"]:
            break
        held = p["c"]
    return held


def ratios(report: dict) -> dict:
    out = {}
    configs = report["configs"]
    for bowout in (name for name in configs if name.startswith("bowout-")):
        for other in ("floor", "peer", "bowout-sqlite"):
            if other not in configs or other == bowout:
                continue
            mine, theirs = configs[bowout], configs[other]
            by_c = {p["c"]: p for p in theirs["points"]}
            shared = [(p, by_c[p["c"]]) for p in mine["points"] if p["c"] in by_c]
            out[f"{bowout}/{other}"] = {
                "largest_c_that_holds": _ratio(mine["largest_c_that_holds"], theirs["largest_c_that_holds"]),
                "total_cpu_per_1000_tokens_by_c": {
                    p["c"]: _ratio(p["total_cpu_s_per_1000_tokens"], q["total_cpu_s_per_1000_tokens"])
                    for p, q in shared
                },
                "ttft_p50_minus_ms_by_c": {
                    p["c"]: round(p["ttft_p50_ms"] - q["ttft_p50_ms"], 1)
                    if p["ttft_p50_ms"] is not None and q["ttft_p50_ms"] is not None
                    else None
                    for p, q in shared
                },
                "update_p99_by_c": {
                    p["c"]: _ratio(p["update_p99_ms"], q["update_p99_ms"]) for p, q in shared
                },
                "bytes_per_reply_300": _ratio(
                    mine.get("bytes_per_reply_300"), theirs.get("bytes_per_reply_300")
                ),
                "bytes_per_reply_1500": _ratio(
                    mine.get("bytes_per_reply_1500"), theirs.get("bytes_per_reply_1500")
                ),
            }
    return out


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5))
    for name, data in report["configs"].items():
        cs = [p["c"] for p in data["points"]]
        left.plot(cs, [p["completed_within_2x"] * 100 for p in data["points"]], marker="o", label=name)
        middle.plot(cs, [p["ttft_p50_ms"] or 0 for p in data["points"]], marker="o", label=name)
        right.plot(cs, [p["update_p99_ms"] or 0 for p in data["points"]], marker="o", label=name)
    seconds = 2 * report["tokens"] / RATE
    left.set(
        xscale="log",
        xlabel="simultaneous replies (C)",
        ylabel=f"% finished within 2x ({seconds:g} s)",
        ylim=(0, 105),
    )
    middle.set(
        xscale="log", yscale="log", xlabel="simultaneous replies (C)", ylabel="time to first text p50 (ms)"
    )
    right.set(xscale="log", yscale="log", xlabel="simultaneous replies (C)", ylabel="p99 update latency (ms)")
    right.axhline(HOLD_LATENCY_P99 * 1000, color="grey", linestyle="--", linewidth=1)
    left.axhline(HOLD_COMPLETION * 100, color="grey", linestyle="--", linewidth=1)
    for ax in (left, middle, right):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    load = report["load_average_start"][0]
    fig.suptitle(
        f"Streaming {report['tokens']}-token replies at {RATE:g} tokens/s (load average at start {load})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def measure_config(config: Config, args, model_url: str, results_dir: Path, log) -> dict:
    """One configuration from start to stop, so its PostgreSQL connections and CPU are its own."""
    config.server.start()
    try:
        config.server.wait_ready()
        # A few replies to warm imports, connections and caches of every worker before measuring.
        await run_point(config, 8, 10, model_url, measure=False)
        points = await sweep(config, args.points, set(args.must), args.tokens, model_url, log)
        result = {
            "points": points,
            "largest_c_that_holds": largest_holding(points),
            "bytes_per_reply_300": points[0]["bytes_per_reply"] if args.tokens == 300 and points else None,
        }
        if config.name in args.profile:
            result["profile"] = await profile_point(
                config, args.profile_c, args.tokens, model_url, results_dir
            )
        if args.long_c:
            point = await run_point(config, args.long_c, 1500, model_url)
            result["bytes_per_reply_1500"] = point["bytes_per_reply"]
            result["long_point"] = point
            log(format_point(config.name, point))
        return result
    finally:
        config.server.stop()


async def main_async(args) -> dict:
    results_dir = Path(args.out)
    results_dir.mkdir(parents=True, exist_ok=True)
    work = results_dir / "tmp"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    log = print
    report = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "mode": args.mode,
        "cpus": os.cpu_count(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
        "tokens_per_second": RATE,
        "tokens": args.tokens,
        "points": args.points,
        "summary_c": args.summary_c,
        "configs": {},
    }
    model = Server("model", ["benchmarks.model_server:app"], base_env(""), work)
    model.start()
    model_url = f"http://127.0.0.1:{model.port}"
    configs = make_configs(args.configs, model_url, work)
    reset_services(configs)
    total_conversations = sum(args.points) + args.long_c + args.profile_c + 8
    try:
        model.wait_ready()
        bowouts = [c for c in configs if c.kind == "bowout"]
        # SQLite files are their own; the PostgreSQL configurations share one database, so one at a time.
        await asyncio.gather(*(prepare_bowout(c, total_conversations) for c in bowouts if not c.pg))
        for config in (c for c in bowouts if c.pg):
            await prepare_bowout(config, total_conversations)
        log(
            f"load average {report['load_average_start']} on {report['cpus']} CPUs (shared machine: see README)"
        )
        for config in configs:
            report["configs"][config.name] = await measure_config(config, args, model_url, results_dir, log)
    finally:
        for config in configs:
            config.server.stop()
        model.stop()
    report["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["ratios"] = ratios(report)
    return report


def summary_row(data: dict, c: int) -> dict:
    """A configuration's figures at C = c (or its nearest measured point), for the table."""
    points = data["points"]
    if not points:
        return {}
    return min(points, key=lambda p: (abs(p["c"] - c), p["c"]))


def print_summary(report: dict) -> None:
    c = report["summary_c"]
    print()
    print(
        f"{'configuration':14} {'largest C':>9}  at C={c}: {'cpu/1k all':>10} {'ttft p50/p99 ms':>16} "
        f"{'upd p99':>8} {'KB/reply':>8}   {'pg conns':>8} {'KB/1500':>8} {'writes':>6} {'queries':>7}"
    )
    for name, data in report["configs"].items():
        p = summary_row(data, c)
        b15 = data.get("bytes_per_reply_1500")
        peak = max((q.get("pg_connections_peak") or 0 for q in data["points"]), default=0)
        at = f"C={p.get('c')}" if p.get("c") != c else ""
        print(
            f"{name:14} {data['largest_c_that_holds']:>9}  {at:>6}  "
            f"{p.get('total_cpu_s_per_1000_tokens') or '-':>10} "
            f"{str(p.get('ttft_p50_ms')) + '/' + str(p.get('ttft_p99_ms')):>16} "
            f"{p.get('update_p99_ms') or '-':>8} {p.get('bytes_per_reply', 0) / 1024:>8.1f}   "
            f"{peak or '-':>8} {b15 / 1024 if b15 else 0:>8.1f} "
            f"{p.get('db_writes_per_reply') or '-':>6} {p.get('db_queries_per_reply') or '-':>7}"
        )
    print()
    for key, value in report["ratios"].items():
        print(f"{key}: {json.dumps(value)}")
    print(f"load average: start {report['load_average_start']}, end {report['load_average_end']}")


CONFIGS = ["bowout-sqlite", "bowout-pg1", "bowout-pg2", "bowout-pg4", "floor", "peer"]


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one small point per configuration, < 2 min")
    parser.add_argument(
        "--configs", nargs="+", default=CONFIGS, help="bowout-sqlite, bowout-pgN, floor, peer"
    )
    parser.add_argument("--points", nargs="+", type=int, help="values of C to sweep")
    parser.add_argument("--tokens", type=int, help="tokens per reply in the sweep (300; --quick: 150)")
    parser.add_argument("--long-c", type=int, help="replies of 1,500 tokens run at the end (0: none)")
    parser.add_argument("--summary-c", type=int, help="the C of the summary table (25; --quick: its point)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument("--keep-work", action="store_true", help="keep results/tmp (server logs)")
    parser.add_argument("--name", help="file name of the JSON and PNG (default: bench or bench-quick)")
    parser.add_argument("--profile", nargs="*", help="configurations to profile with py-spy at --profile-c")
    parser.add_argument("--profile-c", type=int, default=200)
    args = parser.parse_args(argv)
    if args.profile is None:
        args.profile = [] if args.quick else ["bowout-sqlite"]
    args.mode = "quick" if args.quick else "full"
    if args.tokens is None:
        args.tokens = 150 if args.quick else 300
    if args.points is None:
        args.points = [10] if args.quick else [5, 10, 15, 25, 50, 75, 100, 150, 200, 300, 400]
    if args.summary_c is None:
        args.summary_c = args.points[0] if args.quick else 25
    # C = 200 is the comparison point: measured even after a configuration stops holding.
    args.must = [] if args.quick else [200]
    if args.long_c is None:
        args.long_c = 0 if args.quick else 3
    args.name = args.name or ("bench-quick" if args.quick else "bench")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    report = asyncio.run(main_async(args))
    out = Path(args.out)
    (out / f"{args.name}.json").write_text(json.dumps(report, indent=1))
    with contextlib.suppress(ImportError):
        chart(report, out / f"{args.name}.png")
    if not args.keep_work:
        shutil.rmtree(out / "tmp", ignore_errors=True)
    print_summary(report)
    print(f"\nwritten: {out / (args.name + '.json')} and .png")
    return report


if __name__ == "__main__":
    main()
