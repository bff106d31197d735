"""The replay server that the conformance suite and operators use: scenarios by URL, responses in order,
requests recorded, and clear errors for anything it cannot serve."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import anthropic
import pytest
from django.core.management import CommandError, call_command

from chat.replay import load_scenarios, parse_recording, serve_in_thread
from chat.replay.recordings import RecordingError

STREAMS = Path(__file__).parent / "fixtures" / "streams"


@pytest.fixture(scope="module")
def replay():
    running = serve_in_thread(STREAMS)
    yield running
    running.stop()


def post(url: str, body: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_every_scenario_the_suite_names_is_recorded():
    assert set(load_scenarios(STREAMS)) >= {
        "api_text",
        "api_thinking_tool_end",
        "api_refusal",
        "api_refusal_empty",
        "api_max_tokens_in_tool",
        "api_midstream_error",
        "api_pause_turn",
        "api_context_window",
        "api_billing_402",
        "api_spend_limit_429",
        "api_too_long_400",
        "ollama_text",
        "ollama_tool",
        "ollama_eof",
        "llamacpp_flat_error",
        "llamacpp_tool_no_input",
        "broken_data_only",
        "broken_json_despite_stream",
        "broken_tool_json",
        "api_parallel_end_calls",
        "api_thinking_only",
        "api_text_blocks",
        "api_rate_limit_retry_after",
        "api_overloaded_retry_after",
        "ollama_web_search",
        "ollama_empty_reply",
        "ollama_context_too_long",
        "vllm_thinking_hex_signature",
        "vllm_context_too_long",
        "llamacpp_repeated_tool_start",
        "llamacpp_context_exceeded",
        "litellm_refusal",
    }


def test_every_fixture_added_from_a_servers_source_cites_it():
    # From issue 16 on, a fixture's first response names the source file and commit it was written from.
    cited = {
        name: dict(responses[0].headers).get("x-bowout-fixture-source", "")
        for name, responses in load_scenarios(STREAMS).items()
    }
    for name in ("api_parallel_end_calls", "llamacpp_repeated_tool_start", "vllm_thinking_hex_signature"):
        assert "@" in cited[name] and "/" in cited[name], name


def test_responses_come_in_order_and_the_last_repeats(replay):
    replay.reset("api_thinking_tool_end")
    url = replay.url("api_thinking_tool_end") + "/v1/messages"
    bodies = [post(url, {"n": n})[1].decode() for n in range(3)]

    assert "msg_01EnD1aQw3Er5Ty7Ui9Op1As" in bodies[0]
    assert "msg_01EnD2sDf4Gh6Jk8Lz0Xc2Vb" in bodies[1]
    assert bodies[2] == bodies[1]
    assert replay.requests("api_thinking_tool_end") == [{"n": 0}, {"n": 1}, {"n": 2}]

    replay.reset("api_thinking_tool_end")
    assert replay.requests("api_thinking_tool_end") == []
    assert "msg_01EnD1aQw3Er5Ty7Ui9Op1As" in post(url, {})[1].decode()


def test_the_official_sdk_reads_a_replayed_stream(replay):
    replay.reset("api_text")
    client = anthropic.Anthropic(api_key="replay", base_url=replay.url("api_text"), max_retries=0)
    with client.messages.stream(
        model="claude-sonnet-5-5", max_tokens=64, messages=[{"role": "user", "content": "Tides?"}]
    ) as stream:
        message = stream.get_final_message()
    client.close()

    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["thinking", "text"]
    assert message.content[0].signature and message.usage.cache_read_input_tokens == 2048
    assert replay.requests("api_text")[0]["messages"] == [{"role": "user", "content": "Tides?"}]


def test_a_recorded_error_status_reaches_the_client_as_recorded(replay):
    replay.reset("api_spend_limit_429")
    status, body = post(replay.url("api_spend_limit_429") + "/v1/messages", {})
    assert status == 429
    assert json.loads(body)["error"]["details"] == {"error_code": "enforced_spend_limit_reached"}


def test_an_unknown_scenario_is_a_404_that_lists_the_known_ones(replay):
    status, body = post(replay.base_url + "/no_such_scenario/v1/messages", {})
    error = json.loads(body)["error"]
    assert status == 404 and error["type"] == "not_found_error"
    assert "no_such_scenario" in error["message"] and "api_text" in error["message"]


def test_the_index_lists_scenarios_with_their_response_counts(replay):
    with urllib.request.urlopen(replay.base_url + "/", timeout=5) as response:
        scenarios = json.loads(response.read())["scenarios"]
    assert scenarios["api_thinking_tool_end"] == 2 and scenarios["api_text"] == 1


def test_an_event_stream_is_sent_one_event_at_a_time_and_a_cut_body_keeps_its_tail():
    recording = load_scenarios(STREAMS)["ollama_eof"][0]
    chunks = recording.chunks()
    assert all(chunk.count(b"data: ") == 1 for chunk in chunks)
    assert b"".join(chunks) == recording.body
    assert b"message_stop" not in recording.body  # the clean EOF is the point of this scenario


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"HTTP/1.1 200 OK\ncontent-type: text/plain\n", "no blank line"),
        (b"200 OK\n\nbody", "line 1"),
        (b"HTTP/1.1 200 OK\nnot a header\n\nbody", "line 2"),
    ],
)
def test_a_malformed_recording_is_refused_with_the_file_and_line(raw, words):
    with pytest.raises(RecordingError, match=words) as caught:
        parse_recording(raw, "broken/01.http")
    assert "broken/01.http" in str(caught.value)


def test_framing_headers_are_left_to_the_serving_server():
    recording = parse_recording(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nRequest-Id: req_1\r\n\r\nabc")
    assert recording.headers == (("request-id", "req_1"),) and recording.body == b"abc"


def test_a_capture_from_curl_is_a_recording():
    # `curl -sN -i` prints an HTTP/2 status line, CRLF headers and the decoded (unchunked) body.
    raw = b"HTTP/2 529 \r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n\r\n{}\n\n{}"
    recording = parse_recording(raw, "mine/01.http")
    assert recording.status == 529 and recording.headers == (("content-type", "application/json"),)
    assert recording.body == b"{}\n\n{}" and recording.chunks() == [recording.body]


def test_the_command_refuses_a_folder_without_scenarios(tmp_path):
    with pytest.raises(CommandError, match="no scenario folders"):
        call_command("replay_streams", "--dir", str(tmp_path))
    with pytest.raises(CommandError, match="--delay"):
        call_command("replay_streams", "--delay", "-1")


def test_the_command_serves_the_scenarios_for_an_operator():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "manage.py", "replay_streams", "--port", str(port), "--delay", "0"]
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                    scenarios = json.loads(response.read())["scenarios"]
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                assert time.monotonic() < deadline, "replay_streams did not answer"
                time.sleep(0.1)
        assert "api_text" in scenarios
        status, body = post(f"http://127.0.0.1:{port}/ollama_eof/v1/messages", {"model": "m"})
        assert status == 200 and b"1789" in body and b"message_stop" not in body
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
