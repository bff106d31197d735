"""How the simulator counts and cuts output: words stand in for tokens, JSON is counted by characters.

Real streams carry several words per text delta and cut tool JSON at arbitrary points, mid-token; the
sizes here are fixed so runs are deterministic, and uneven so clients cannot rely on any boundary.
"""

from __future__ import annotations

import math
import re

# "A word plus the whitespace after it": joining the pieces restores the text exactly.
WORD = re.compile(r"\s*\S+\s*")
# Words per text or thinking delta, cycled.
CHUNK_WORDS = (3, 5, 4, 6, 2, 5, 4, 3)
# Characters per input_json_delta; odd, so chunks end inside keys, strings and numbers.
JSON_CHUNK_CHARS = 11
JSON_CHARS_PER_TOKEN = 4


def words(text: str) -> list[str]:
    return WORD.findall(text)


def text_tokens(text: str) -> int:
    return len(words(text))


def json_tokens(arguments: str) -> int:
    return sum(units for _, units in json_chunks(arguments))


def first_words(text: str, count: int) -> str:
    return "".join(words(text)[:count])


def text_chunks(text: str) -> list[tuple[str, int]]:
    """(chunk, words in it) for the deltas of a text or thinking block."""
    pieces = words(text)
    chunks: list[tuple[str, int]] = []
    start = 0
    while start < len(pieces):
        size = CHUNK_WORDS[len(chunks) % len(CHUNK_WORDS)]
        chunk = pieces[start : start + size]
        chunks.append(("".join(chunk), len(chunk)))
        start += size
    return chunks


def json_chunks(arguments: str) -> list[tuple[str, int]]:
    """(chunk, tokens) for input_json_delta: an empty chunk first, as the real API sends, then fixed cuts."""
    chunks = [("", 0)]
    for start in range(0, len(arguments), JSON_CHUNK_CHARS):
        chunk = arguments[start : start + JSON_CHUNK_CHARS]
        chunks.append((chunk, math.ceil(len(chunk) / JSON_CHARS_PER_TOKEN)))
    return chunks
