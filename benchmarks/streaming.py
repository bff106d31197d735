"""How much a streamed reply costs on the way to the browser, with and without coalescing deltas.

Runs real replies from the offline model through the whole path (flow -> channel layer -> consumer ->
websocket) with Channels' WebsocketCommunicator, and prints per reply: fragments a tab receives, bytes,
time to the first fragment and to the finished reply. Numbers, not a test.

    .venv/bin/python benchmarks/streaming.py [--replies 20] [--delay 0.005] [--flush 0 0.05]
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python benchmarks/streaming.py   # the Redis pub/sub layer
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def setup_django(db_path: str) -> None:
    os.environ.pop("DATABASE_URL", None)
    os.environ["BOWOUT_SQLITE_PATH"] = db_path
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["ANTHROPIC_API_KEY"] = ""
    os.environ["ANTHROPIC_BASE_URL"] = ""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


async def one_reply(application, cookie: str, conversation_id) -> dict:
    from channels.testing import WebsocketCommunicator

    headers = [
        (b"origin", b"http://testserver"),
        (b"host", b"testserver"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    communicator = WebsocketCommunicator(application, f"/ws/c/{conversation_id}/", headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    await communicator.receive_from(timeout=10)  # the snapshot
    started = time.perf_counter()
    await communicator.send_json_to(
        {"action": "send", "text": "Explain how tides work, in detail.", "client_id": str(uuid.uuid4())}
    )
    frames, size, first = 0, 0, None
    while True:
        frame = await communicator.receive_from(timeout=30)
        frames += 1
        size += len(frame)
        if first is None and frame.startswith('{"stream":'):
            first = time.perf_counter() - started
        if 'data-role="assistant"' in frame and 'data-status="streaming"' not in frame:
            break
    total = time.perf_counter() - started
    await communicator.disconnect()
    return {"frames": frames, "bytes": size, "first": first or total, "total": total}


async def run(replies: int, delay: float, flush: float) -> list[dict]:
    from asgiref.sync import sync_to_async
    from django.conf import settings
    from django.test import Client

    from accounts.models import User
    from chat.models import Conversation
    from config.asgi import application

    settings.BOWOUT_SIMULATOR_DELAY = delay
    settings.BOWOUT_STREAM_FLUSH_SECONDS = flush
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    user = await sync_to_async(User.objects.create_user)(email=email, password="x-bench-password")

    def login() -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    cookie = await sync_to_async(login)()
    results = []
    for _ in range(replies):
        conversation = await sync_to_async(Conversation.objects.create)(user=user)
        results.append(await one_reply(application, cookie, conversation.pk))
    return results


def report(label: str, results: list[dict]) -> None:
    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(
        f"{label:<28} frames/reply {med('frames'):6.0f}   KiB/reply {med('bytes') / 1024:7.1f}   "
        f"first fragment {med('first') * 1000:7.1f} ms   whole reply {med('total') * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.005, help="seconds between simulator tokens")
    parser.add_argument("--flush", type=float, nargs="+", default=[0.0, 0.05])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        setup_django(str(Path(tmp) / "bench.sqlite3"))
        from django.conf import settings

        layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(f"{args.replies} replies each, simulator delay {args.delay * 1000:.0f} ms/token, layer {layer}")
        for flush in args.flush:
            report(f"flush window {flush * 1000:.0f} ms", asyncio.run(run(args.replies, args.delay, flush)))


if __name__ == "__main__":
    main()
