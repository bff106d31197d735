"""What an operator reads in a production server's log: the traceback of a 500, and the user, chat,
reply and request on every line about a reply. Real uvicorn processes with production settings."""

import re

import pytest

from tests.live_server import Server, Visitor, migrate, server_env


def test_a_500_in_production_logs_its_traceback(tmp_path):
    # A database with no tables: the login that reads the users table fails with a server error.
    env = server_env(BOWOUT_SQLITE_PATH=str(tmp_path / "empty.sqlite3"))
    server = Server(env, tmp_path / "server.log").start()
    try:
        visitor_http = __import__("httpx2").Client(base_url=server.url, timeout=30)
        visitor_http.get("/accounts/login/")
        token = visitor_http.cookies["csrftoken"]
        response = visitor_http.post(
            "/accounts/login/",
            data={"login": "a@example.com", "password": "x" * 12, "csrfmiddlewaretoken": token},
            headers={"Referer": server.url},
        )
        assert response.status_code == 500
    finally:
        server.stop()
    log = server.log(400)
    assert "Traceback (most recent call last)" in log
    assert "no such table" in log
    assert re.search(r"Internal Server Error: /accounts/login/ .*request=[0-9a-f]{32}", log)


@pytest.mark.django_db  # only so the shared cache table can be emptied afterwards
def test_every_line_about_a_reply_names_its_user_chat_reply_and_request(tmp_path):
    env = server_env(BOWOUT_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    migrate(env)
    server = Server(env, tmp_path / "server.log").start()
    try:
        visitor = Visitor(server)
        conversation = visitor.new_chat(server)
        sent = visitor.post(
            server,
            f"/c/{conversation}/messages/",
            {"text": "[fault:midstream] hello"},
            page=f"/c/{conversation}/",
        )
        assert sent.status_code == 302
    finally:
        server.stop()
    lines = [line for line in server.log(400).splitlines() if "failed" in line and "Reply " in line]
    assert lines, server.log(100)
    for line in lines:
        match = re.search(
            r"\[user=(\d+) conversation=([0-9a-f-]{36}) reply=(\d+) request=([0-9a-f]{32})\]", line
        )
        assert match, line
        assert match.group(2) == conversation
