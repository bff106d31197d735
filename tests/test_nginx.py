"""The deployment as users run it: deploy/nginx/bowout.conf in front of two uvicorn workers that share
PostgreSQL and Redis. A person signs up through nginx, a reply streams over the websocket, the chat is
ended, and a second tab, on the other worker, is told. Runs in the PostgreSQL + Redis pass (`make test`
installs Debian's nginx first); skipped on SQLite."""

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx2
import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.live_server import ROOT, Server, Visitor, free_port, migrate, python, server_env, streaming_text

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql" or not settings.REDIS_URL,
    reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL: the two workers share them",
)
SITE = ROOT / "deploy" / "nginx" / "bowout.conf"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: `make nginx` installs Debian's package", pytrace=False)
        pytest.skip("nginx is not installed (make nginx)")
    return found


def nginx_config(workdir: Path, port: int, upstreams: list[int], static_root: Path) -> Path:
    """The shipped site, pointed at this test's ports and files, inside a minimal nginx.conf."""
    site = SITE.read_text()
    site = site.replace("server 127.0.0.1:8001;", f"server 127.0.0.1:{upstreams[0]};")
    site = site.replace("server 127.0.0.1:8002;", f"server 127.0.0.1:{upstreams[1]};")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("server_name chat.example.com;", "server_name 127.0.0.1;")
    site = site.replace("alias /srv/bowout/staticfiles/;", f"alias {static_root}/;")
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the test's private files
    config = workdir / "nginx.conf"
    config.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/error.log;\n"
        "events { worker_connections 256; }\n"
        "http {\n  include /etc/nginx/mime.types;\n"
        f"  access_log {workdir}/access.log;\n"
        + "".join(
            f"  {kind}_temp_path {workdir}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + site
        + "\n}\n"
    )
    return config


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited:\n{log.read_text() if log.exists() else ''}", pytrace=False)
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    pytest.fail("nginx did not listen in 20 s", pytrace=False)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    nginx = nginx_binary()
    admin_url = settings.DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    name = f"bowout_nginx_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    workdir = tmp_path_factory.mktemp("nginx")
    proxy_port = free_port()
    static_root = workdir / "static"
    env = server_env(
        DATABASE_URL=settings.DATABASE_URL.rsplit("/", 1)[0] + "/" + name,
        REDIS_URL=settings.REDIS_URL,
        BOWOUT_STATIC_ROOT=str(static_root),
        BOWOUT_SITE_URL=f"http://127.0.0.1:{proxy_port}",
        BOWOUT_TRUSTED_PROXY_COUNT="1",
        BOWOUT_DRAIN_SECONDS="0.5",
    )
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    servers = [Server(env, workdir / "a.log"), Server(env, workdir / "b.log")]
    for server, label in zip(servers, "ab", strict=True):
        server.extra_args = [
            "--proxy-headers",
            "--forwarded-allow-ips",
            "127.0.0.1",
            "--header",
            f"x-worker:{label}",
        ]
    proxy: subprocess.Popen | None = None
    try:
        migrate(env)
        subprocess.run(
            [python(), "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
        for server in servers:
            server.start()
        config = nginx_config(workdir, proxy_port, [server.port for server in servers], static_root)
        proxy = subprocess.Popen(
            [nginx, "-c", str(config), "-p", str(workdir)],
            stderr=subprocess.STDOUT,
            stdout=(workdir / "nginx.out").open("wb"),
        )
        wait_for_port(proxy_port, proxy, workdir / "error.log")
        yield SimpleNamespace(url=f"http://127.0.0.1:{proxy_port}", port=proxy_port, servers=servers)
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=10)
        for server in servers:
            server.stop()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_chat_through_nginx_reaches_a_tab_on_the_other_worker(deployment):
    static = httpx2.get(deployment.url + "/static/chat.js")
    assert static.status_code == 200 and "max-age=604800" in static.headers.get("cache-control", "")

    visitor = Visitor(deployment)  # signs up through nginx
    conversation = visitor.new_chat(deployment)
    page = visitor.http.get(f"{deployment.url}/c/{conversation}/")
    assert page.status_code == 200 and re.fullmatch(r"[0-9a-f]{32}", page.headers["x-request-id"])

    tabs = {}
    for _ in range(12):  # nginx takes turns between the workers; one tab on each
        tab = visitor.socket(deployment, conversation)
        worker = tab.connection.response.headers["x-worker"]
        if worker in tabs:
            tab.close()
        else:
            tabs[worker] = tab
        if len(tabs) == 2:
            break
    assert sorted(tabs) == ["a", "b"]
    try:
        tabs["a"].say("How do tides work?")
        tabs["a"].receive_until(streaming_text)
        tabs["b"].receive_until(streaming_text)
        finished = tabs["b"].receive_until(lambda frame: 'data-status="complete"' in frame, timeout=30)
        assert "tide" in finished.lower()

        ended = visitor.post(
            deployment, f"/c/{conversation}/end/", {"note": "Done"}, page=f"/c/{conversation}/"
        )
        assert ended.status_code == 302
        for tab in tabs.values():
            banner = tab.receive_until(lambda frame: 'data-role="ended-banner"' in frame)
            assert 'id="composer"' not in banner
    finally:
        for tab in tabs.values():
            tab.close()
    assert 'data-role="ended-banner"' in visitor.page(deployment, conversation)
