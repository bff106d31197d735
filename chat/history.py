"""Saved messages to the Messages API's `messages` list. Pure: plain data in, plain data out."""

from typing import Any

MessageParam = dict[str, Any]


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _kept(block: dict[str, Any]) -> bool:
    if block.get("type") == "text":
        return bool(block.get("text", "").strip())
    if block.get("type") == "thinking":
        # Unsigned thinking (Ollama, llama.cpp) is refused by the Anthropic API should the chat later be
        # sent there; earlier turns' thinking is optional, so it is left out of history.
        return bool(block.get("signature"))
    return True


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_block(content)] if content.strip() else []
    return [b for b in content if _kept(b)]


def _drop_unanswered_tool_calls(messages: list[MessageParam]) -> list[MessageParam]:
    """The API rejects a tool_use that the next user message does not answer with a tool_result."""
    cleaned: list[MessageParam] = []
    for index, message in enumerate(messages):
        blocks = message["content"]
        if message["role"] == "assistant":
            following = messages[index + 1]["content"] if index + 1 < len(messages) else []
            answered = {b.get("tool_use_id") for b in following if b.get("type") == "tool_result"}
            blocks = [b for b in blocks if b.get("type") != "tool_use" or b.get("id") in answered]
        else:
            asked = set()
            if cleaned and cleaned[-1]["role"] == "assistant":
                asked = {b.get("id") for b in cleaned[-1]["content"] if b.get("type") == "tool_use"}
            blocks = [b for b in blocks if b.get("type") != "tool_result" or b.get("tool_use_id") in asked]
        cleaned.append({"role": message["role"], "content": blocks})
    return cleaned


def normalize(messages: list[MessageParam]) -> list[MessageParam]:
    """Make a history the API accepts: block lists, no empty text, no orphan tool calls, roles alternating
    (neighbours of one role merged), starting with the user and ending with the user."""
    blocky = [{"role": m["role"], "content": _blocks(m["content"])} for m in messages]
    blocky = _drop_unanswered_tool_calls(blocky)
    merged: list[MessageParam] = []
    for message in blocky:
        if not message["content"]:
            continue
        if merged and merged[-1]["role"] == message["role"]:
            merged[-1]["content"] = merged[-1]["content"] + message["content"]
        else:
            merged.append(message)
    while merged and merged[0]["role"] != "user":
        merged.pop(0)
    # A reply is being generated for the last user message: earlier attempts at it are not history.
    while merged and merged[-1]["role"] != "user":
        merged.pop()
    return merged
