"""Prompt caching, in the API's terms: breakpoints, prefixes, reads and writes, and their token counts.

The request is seen as one sequence of blocks (tools, then system, then every message's content). A
`cache_control` on a block is a breakpoint; a top-level `cache_control` puts one on the last block. A
breakpoint writes the prefix that ends at it; a later request reads the longest prefix it shares with one
already written, looking back up to 20 blocks from each of its breakpoints, as the API does. Without a
breakpoint nothing is read or written.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .validation import blocks_of, invalid

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
# Framing tokens (roles, message boundaries) that the API always counts as uncached input.
FRAMING_TOKENS = 3


@dataclass(frozen=True)
class Usage:
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    ephemeral_5m_input_tokens: int
    ephemeral_1h_input_tokens: int

    @property
    def total_input(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def as_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens,
            },
        }


@dataclass(frozen=True)
class Segment:
    """One block of the prompt: its tokens, and the TTL of its breakpoint if it carries one."""

    tokens: int
    breakpoint_ttl: str | None
    canonical: str


def segments(body: Mapping[str, Any]) -> list[Segment]:
    found: list[Segment] = []
    for tool in body.get("tools") or []:
        found.append(segment(tool))
    system = body.get("system")
    if isinstance(system, str) and system:
        found.append(segment({"type": "text", "text": system}))
    elif isinstance(system, list):
        found += [segment(block) for block in system]
    for message in body["messages"]:
        # The role is part of what was read; the first block of each message carries it.
        for position, block in enumerate(blocks_of(message)):
            found.append(segment(block, role=message["role"] if position == 0 else ""))
    top = body.get("cache_control")
    if isinstance(top, Mapping) and found:
        last = found[-1]
        found[-1] = Segment(last.tokens, ttl_of(top), last.canonical)
    breakpoints = sum(1 for s in found if s.breakpoint_ttl is not None)
    if breakpoints > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {breakpoints}."
        )
    return found


def segment(block: Mapping[str, Any], role: str = "") -> Segment:
    control = block.get("cache_control")
    # The marker itself is not content: a prefix reads the same with or without it.
    content = {key: value for key, value in block.items() if key != "cache_control"}
    canonical = role + json.dumps(content, sort_keys=True, separators=(",", ":"))
    ttl = ttl_of(control) if isinstance(control, Mapping) else None
    return Segment(max(1, len(canonical) // 4), ttl, canonical)


def ttl_of(control: Mapping[str, Any]) -> str:
    ttl = control.get("ttl", "5m")
    if control.get("type") != "ephemeral" or ttl not in TTL_SECONDS:
        raise invalid("cache_control: Input should be {'type': 'ephemeral', 'ttl'?: '5m' | '1h'}")
    return str(ttl)


class PromptCache:
    """What this simulator instance has cached: prefix hash -> expiry, least recently used dropped first."""

    def __init__(self, max_entries: int = 2048, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, float] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock

    def _hit(self, key: str) -> bool:
        expiry = self._entries.get(key)
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._entries[key]
            return False
        return True

    def _write(self, key: str, ttl: str) -> None:
        self._entries[key] = max(self._entries.get(key, 0.0), self._clock() + TTL_SECONDS[ttl])
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def account(self, model: str, body: Mapping[str, Any]) -> Usage:
        """The request's input usage; remembers the prefixes its breakpoints write."""
        parts = segments(body)
        keys: list[str] = []
        running = hashlib.sha256(model.encode())
        cumulative = [0]
        for part in parts:
            running.update(b"\x1e" + part.canonical.encode())
            keys.append(running.copy().hexdigest())
            cumulative.append(cumulative[-1] + part.tokens)
        total = cumulative[-1] + FRAMING_TOKENS
        breakpoints = [i for i, part in enumerate(parts) if part.breakpoint_ttl is not None]
        if not breakpoints:
            return Usage(total, 0, 0, 0, 0)
        read_end = 0  # number of blocks read from the cache
        for point in breakpoints:
            for end in range(point, max(-1, point - LOOKBACK_BLOCKS), -1):
                if end + 1 > read_end and self._hit(keys[end]):
                    read_end = end + 1
                    self._entries.move_to_end(keys[end])
                    break
        last = breakpoints[-1]
        created = cumulative[last + 1] - cumulative[read_end] if last + 1 > read_end else 0
        for point in breakpoints:
            self._write(keys[point], parts[point].breakpoint_ttl or "5m")
        read = cumulative[read_end]
        one_hour = created if parts[last].breakpoint_ttl == "1h" else 0
        return Usage(total - read - created, created, read, created - one_hour, one_hour)
