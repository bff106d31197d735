"""Saved messages become a history the Messages API accepts."""

from chat.history import normalize


def test_roles_alternate_and_end_with_the_user():
    messages = normalize(
        [
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},  # after a failed reply there are two in a row
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": "third"},
            {"role": "assistant", "content": "a partial reply being retried"},
        ]
    )
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in messages[0]["content"]] == ["first", "second"]


def test_empty_text_is_dropped():
    messages = normalize(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "  "},
            {"role": "user", "content": "x"},
        ]
    )
    assert [m["role"] for m in messages] == ["user"]


def test_tool_calls_without_results_are_dropped():
    messages = normalize(
        [
            {"role": "user", "content": "go away"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Goodbye."},
                    {"type": "tool_use", "id": "t1", "name": "end_conversation", "input": {}},
                ],
            },
            {"role": "user", "content": "edited message"},
        ]
    )
    assert messages[1]["content"] == [{"type": "text", "text": "Goodbye."}]


def test_answered_tool_calls_are_kept():
    tool_use = {
        "type": "tool_use",
        "id": "t1",
        "name": "end_conversation",
        "input": {"reason": "abusive_user"},
    }
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "Not ended", "is_error": True}
    messages = normalize(
        [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [tool_use]},
            {"role": "user", "content": [result]},
            {"role": "assistant", "content": "Let's go on."},
            {"role": "user", "content": "ok"},
        ]
    )
    assert messages[1]["content"] == [tool_use]
    assert messages[2]["content"] == [result]


def test_unsigned_thinking_from_other_servers_is_left_out_of_history():
    signed = {"type": "thinking", "thinking": "", "signature": "c2ln"}
    unsigned = {"type": "thinking", "thinking": "Let me think."}
    sent = normalize(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [unsigned, {"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": "And again"},
            {"role": "assistant", "content": [signed, {"type": "text", "text": "Hi again."}]},
            {"role": "user", "content": "Bye"},
        ]
    )
    assert sent[1]["content"] == [{"type": "text", "text": "Hello!"}]
    assert sent[3]["content"][0] == signed


def test_thinking_signed_by_another_server_and_unknown_blocks_are_left_out_of_history():
    # vLLM signs its thinking with uuid4().hex and llama.cpp with "": the API would refuse either.
    vllm = {"type": "thinking", "thinking": "Reasoning.", "signature": "9f8e7d6c5b4a39281706f5e4d3c2b1a0"}
    llamacpp = {"type": "thinking", "thinking": "Reasoning.", "signature": ""}
    # Ollama's web search sends server-tool blocks; a new API block type is unknown to Bowout.
    search = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}}
    unknown = {"type": "some_future_block", "data": "…"}
    sent = normalize(
        [
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": [vllm, llamacpp, search, unknown, {"type": "text", "text": "Hi!"}],
            },
            {"role": "user", "content": [unknown, {"type": "text", "text": "Again"}]},
        ]
    )
    assert sent == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi!"}]},
        {"role": "user", "content": [{"type": "text", "text": "Again"}]},
    ]


def test_a_tool_call_repeated_under_one_id_goes_back_once():
    call = {"type": "tool_use", "id": "call_1", "name": "end_conversation", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "call_1", "content": "ok"}
    sent = normalize(
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [call, dict(call)]},
            {"role": "user", "content": [result, dict(result)]},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": "ok"},
        ]
    )
    assert sent[1]["content"] == [call] and sent[2]["content"] == [result]
