"""Recorded HTTP responses: a directory per scenario holding `01.http`, `02.http`, ... in the order the
server sent them. Each file is a status line, headers, a blank line, then the body exactly as on the wire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

STATUS_LINE = re.compile(r"^HTTP/\d(?:\.\d)? (\d{3})(?: .*)?$")
# Framing is the serving server's business: a recorded length or encoding would not match what it sends.
HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


class RecordingError(ValueError):
    """A fixture file that is not a recorded HTTP response; the message names the file and the line."""


@dataclass(frozen=True)
class Recording:
    name: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def is_event_stream(self) -> bool:
        return any(k == "content-type" and v.startswith("text/event-stream") for k, v in self.headers)

    def chunks(self) -> list[bytes]:
        """The body as a server streams it: one chunk per server-sent event (a JSON body is one chunk)."""
        if not self.is_event_stream:
            return [self.body]
        parts = self.body.split(b"\n\n")
        chunks = [part + b"\n\n" for part in parts[:-1]]
        if parts[-1]:
            chunks.append(parts[-1])  # a body cut mid-event keeps its unterminated tail
        return chunks


def parse_recording(raw: bytes, name: str = "<recording>") -> Recording:
    head, separator, body = _split_head(raw)
    if not separator:
        raise RecordingError(f"{name}: no blank line between the headers and the body")
    lines = head.decode("latin-1").splitlines()
    match = STATUS_LINE.match(lines[0]) if lines else None
    if not match:
        raise RecordingError(f"{name}: line 1 should be a status line like 'HTTP/1.1 200 OK'")
    headers = []
    for number, line in enumerate(lines[1:], start=2):
        key, colon, value = line.partition(":")
        if not colon or not key.strip():
            raise RecordingError(f"{name}: line {number} should be a header like 'content-type: ...'")
        if key.strip().lower() not in HOP_BY_HOP:
            headers.append((key.strip().lower(), value.strip()))
    return Recording(name=name, status=int(match.group(1)), headers=tuple(headers), body=body)


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    # Files may use CRLF (as on the wire) or LF (as an editor saves them) in the head; the body is verbatim.
    crlf, lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        return raw.partition(b"\r\n\r\n")
    return raw.partition(b"\n\n")


def load_scenarios(directory: Path) -> dict[str, tuple[Recording, ...]]:
    """Every scenario under `directory`: its name and its responses in file-name order."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RecordingError(f"{directory}: not a directory of scenarios")
    scenarios = {}
    for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.http"))
        if files:
            scenarios[folder.name] = tuple(
                parse_recording(path.read_bytes(), f"{folder.name}/{path.name}") for path in files
            )
    if not scenarios:
        raise RecordingError(f"{directory}: no scenario folders with .http files")
    return scenarios
