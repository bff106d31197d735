"""The offline model: a deterministic simulator of the Anthropic Messages API, as strict as the real one.

It imports nothing from Bowout; it only speaks the wire format, so the same SDK code path serves the real
API and the simulator. Use it in-process through `StreamingASGITransport`, or over HTTP with
`manage.py run_simulator`.

`app` (HTTP, sending) · `validation` (what the API refuses) · `models` (the model table) · `signing`
(thinking signatures) · `caching` (prompt-cache accounting) · `layout` (a reply as blocks and events) ·
`tokens` (counting and cutting) · `scripts` (when the model says what) · `texts` (what it says).
"""

from .app import create_app
from .transport import StreamingASGITransport

__all__ = ["StreamingASGITransport", "create_app"]
