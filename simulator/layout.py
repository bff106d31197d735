"""A reply plan laid out as the API sends it: blocks, their deltas, the stop reason, and the usage.

The wire details follow the recorded streams of the real API: a thinking block first on thinking models
(its text only when display is summarized, then one signature_delta), `ping` after the first
content_block_start, several words per text delta, tool_use with a `caller`, input JSON that starts with an
empty chunk and is cut mid-token, and cumulative usage on message_delta.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .caching import Usage
from .scripts import Reply, Text, ToolCall
from .signing import Signer
from .tokens import first_words, json_chunks, text_chunks, text_tokens
from .validation import Thinking, is_tool_results_only

DIRECT_CALLER = {"type": "direct"}


@dataclass(frozen=True)
class Piece:
    """One content block on the wire: its start payload, its deltas (each with the tokens it carries),
    its final form in the whole message, and the output tokens it cost."""

    start: dict[str, Any]
    deltas: tuple[tuple[dict[str, Any], int], ...]
    final: dict[str, Any]
    tokens: int


@dataclass(frozen=True)
class Generation:
    message_id: str
    model: str
    usage: Usage
    pieces: tuple[Piece, ...]
    stop_reason: str
    stop_details: Mapping[str, Any] | None

    @property
    def output_tokens(self) -> int:
        # Even an empty reply costs a token, as the API's usage notes say.
        return max(1, sum(piece.tokens for piece in self.pieces))

    def output_details(self) -> dict[str, Any]:
        """The thinking share of output_tokens, as the API reports it when the model thought."""
        thinking = [p.tokens for p in self.pieces if p.start["type"] in ("thinking", "redacted_thinking")]
        return {"output_tokens_details": {"thinking_tokens": sum(thinking)}} if thinking else {}

    def message(self, *, complete: bool) -> dict[str, Any]:
        usage = {
            **self.usage.as_dict(),
            "output_tokens": self.output_tokens if complete else 1,
            "service_tier": "standard",
            **(self.output_details() if complete else {}),
        }
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [piece.final for piece in self.pieces] if complete else [],
            "stop_reason": self.stop_reason if complete else None,
            "stop_sequence": None,
            "stop_details": dict(self.stop_details) if complete and self.stop_details else None,
            "usage": usage,
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any], int]]:
        """(event name, data, output tokens it carries) in the order the real API sends them."""
        yield "message_start", {"type": "message_start", "message": self.message(complete=False)}, 0
        pinged = False
        for index, piece in enumerate(self.pieces):
            start = {"type": "content_block_start", "index": index, "content_block": piece.start}
            yield "content_block_start", start, 0
            if not pinged:
                yield "ping", {"type": "ping"}, 0
                pinged = True
            for delta, tokens in piece.deltas:
                yield (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    tokens,
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": index}, 0
        if not pinged:
            yield "ping", {"type": "ping"}, 0
        yield "message_delta", self.message_delta(), 0
        yield "message_stop", {"type": "message_stop"}, 0

    def message_delta(self) -> dict[str, Any]:
        usage = self.usage.as_dict()
        usage.pop("cache_creation")
        return {
            "type": "message_delta",
            "delta": {
                "stop_reason": self.stop_reason,
                "stop_sequence": None,
                "stop_details": dict(self.stop_details) if self.stop_details else None,
            },
            "usage": {**usage, "output_tokens": self.output_tokens, **self.output_details()},
        }


def lay_out(
    reply: Reply,
    body: Mapping[str, Any],
    thinking: Thinking | None,
    signer: Signer,
    usage: Usage,
) -> Generation:
    budget = body["max_tokens"]
    pieces: list[Piece] = []
    blocks = list(reply.blocks)
    stop_reason = reply.natural_stop_reason
    if thinking is not None:
        # After a tool result the model is inside its own turn: what it writes there is thinking, and
        # only a display that returns thinking gives it back.
        if is_tool_results_only(body["messages"][-1]):
            moved = "\n\n".join(b.text for b in blocks if isinstance(b, Text) and b.text)
            blocks = [b for b in blocks if not isinstance(b, Text)]
            reasoning = moved or reply.thinking or ""
        else:
            reasoning = reply.thinking or ""
        if text_tokens(reasoning) > budget:
            reasoning, blocks, stop_reason = first_words(reasoning, budget), [], "max_tokens"
        paused = reply.stop_reason == "pause_turn"
        piece = (
            redacted_piece(signer, reasoning, paused)
            if reply.redact_thinking
            else thinking_piece(signer, reasoning, thinking.display, paused)
        )
        pieces.append(piece)
        budget -= piece.tokens
    allowance = min(budget, reply.token_cap) if reply.token_cap is not None else budget
    for block in blocks:
        piece = text_piece(block.text) if isinstance(block, Text) else tool_piece(block)
        if piece.tokens > allowance:
            stop_reason = "max_tokens"
            cut = cut_piece(block, allowance)
            if cut is not None:
                pieces.append(cut)
            break
        pieces.append(piece)
        allowance -= piece.tokens
    details = reply.stop_details if stop_reason == "refusal" else None
    return Generation(new_id("msg_sim_"), body["model"], usage, tuple(pieces), stop_reason, details)


def thinking_piece(signer: Signer, reasoning: str, display: str, paused: bool) -> Piece:
    shown = reasoning if display == "summarized" else ""
    signature = signer.sign(shown, paused=paused)
    deltas = [({"type": "thinking_delta", "thinking": chunk}, n) for chunk, n in text_chunks(shown)]
    deltas.append(({"type": "signature_delta", "signature": signature}, 0))
    start = {"type": "thinking", "thinking": "", "signature": ""}
    final = {"type": "thinking", "thinking": shown, "signature": signature}
    # Omitted thinking is still generated, and billed.
    return Piece(start, tuple(deltas), final, max(1, text_tokens(reasoning)))


def redacted_piece(signer: Signer, reasoning: str, paused: bool) -> Piece:
    block = {"type": "redacted_thinking", "data": signer.redacted_data(paused=paused)}
    return Piece(block, (), block, max(1, text_tokens(reasoning)))


def text_piece(text: str) -> Piece:
    deltas = tuple(({"type": "text_delta", "text": chunk}, n) for chunk, n in text_chunks(text))
    return Piece({"type": "text", "text": ""}, deltas, {"type": "text", "text": text}, text_tokens(text))


def tool_piece(call: ToolCall, *, keep_tokens: int | None = None) -> Piece:
    arguments = json.dumps(dict(call.input))
    chunks = json_chunks(arguments)
    complete = keep_tokens is None
    if keep_tokens is not None:
        kept: list[tuple[str, int]] = []
        for chunk, tokens in chunks:
            if tokens > keep_tokens:
                break
            kept.append((chunk, tokens))
            keep_tokens -= tokens
        chunks = kept
    start = {
        "type": "tool_use",
        "id": new_id("toolu_sim_"),
        "name": call.name,
        "input": {},
        "caller": DIRECT_CALLER,
    }
    deltas = tuple(({"type": "input_json_delta", "partial_json": chunk}, n) for chunk, n in chunks)
    # A call cut short has no valid input; the whole message carries what could be parsed: nothing.
    final = {**start, "input": dict(call.input) if complete else {}}
    return Piece(start, deltas, final, sum(n for _, n in chunks))


def cut_piece(block: Text | ToolCall, allowance: int) -> Piece | None:
    """The part of a block that fits when max_tokens strikes inside it."""
    if allowance <= 0:
        return None
    if isinstance(block, Text):
        return text_piece(first_words(block.text, allowance))
    return tool_piece(block, keep_tokens=allowance)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]
