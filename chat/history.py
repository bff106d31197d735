"""Saved messages to the Messages API's `messages` list. Pure: plain data in, plain data out.

What is sent back is always valid for any server, whichever server wrote the chat so far: a chat from
Ollama, vLLM or llama.cpp can go on with Claude, and one that stored a block of a type Bowout does not know
(the API adds new ones; compatible servers invent their own) is not refused for it on every later turn.
"""

import re
from typing import Any

ApiMessage = dict[str, Any]

# The blocks Bowout sends back, by role; anything else is dropped from history.
KNOWN_BLOCKS = {
    "user": frozenset({"text", "tool_result"}),
    "assistant": frozenset({"text", "tool_use", "thinking", "redacted_thinking"}),
}
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]+")


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def claude_signature(signature: Any) -> bool:
    """Whether a thinking block's signature may be Claude's, which the API verifies. Claude signs with
    long base64; vLLM with `uuid4().hex`, llama.cpp with "", Ollama not at all: those the API refuses
    (400 "Invalid `signature` in `thinking` block"), so such thinking is left out of history (earlier turns'
    thinking is optional)."""
    return (
        isinstance(signature, str)
        and _BASE64.fullmatch(signature) is not None
        and _HEX.fullmatch(signature) is None
    )


def _kept(block: Any, role: str) -> bool:
    if not isinstance(block, dict) or block.get("type") not in KNOWN_BLOCKS[role]:
        return False
    kind = block["type"]
    if kind == "text":
        return isinstance(block.get("text"), str) and bool(block["text"].strip())
    if kind == "thinking":
        return isinstance(block.get("thinking"), str) and claude_signature(block.get("signature"))
    if kind == "redacted_thinking":
        return claude_signature(block.get("data"))
    if kind == "tool_use":
        return bool(block.get("id")) and bool(block.get("name"))
    return bool(block.get("tool_use_id"))  # tool_result


def _blocks(content: Any, role: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_block(content)] if content.strip() else []
    if not isinstance(content, list):
        return []
    kept = []
    seen: set[str] = set()
    for block in content:
        if not _kept(block, role):
            continue
        # One id, one call and one answer: llama.cpp may repeat a tool call's start, and the API refuses
        # duplicate ids.
        key = block.get("id") if block["type"] == "tool_use" else block.get("tool_use_id")
        if block["type"] in ("tool_use", "tool_result"):
            if key in seen:
                continue
            seen.add(key)
        kept.append(block)
    return kept


def _drop_unanswered_tool_calls(messages: list[ApiMessage]) -> list[ApiMessage]:
    """The API rejects a tool_use that the next user message does not answer with a tool_result."""
    cleaned: list[ApiMessage] = []
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


def normalize(messages: list[ApiMessage]) -> list[ApiMessage]:
    """Make a history the API accepts: block lists, no empty text, no orphan tool calls, roles alternating
    (neighbours of one role merged), starting with the user and ending with the user."""
    blocky = [
        {"role": m["role"], "content": _blocks(m["content"], m["role"])}
        for m in messages
        if m.get("role") in KNOWN_BLOCKS
    ]
    blocky = _drop_unanswered_tool_calls(blocky)
    merged: list[ApiMessage] = []
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
