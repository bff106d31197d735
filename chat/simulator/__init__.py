"""The offline model: a deterministic simulator of the Anthropic Messages API.

It imports nothing from Bowout; it only speaks the wire format, so the same SDK code path serves the real
API and the simulator. Use it in-process through `StreamingASGITransport`, or over HTTP with
`manage.py run_simulator`.
"""

from .app import create_app
from .transport import StreamingASGITransport

__all__ = ["StreamingASGITransport", "create_app"]
