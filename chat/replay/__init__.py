"""A loopback server that replays recorded-format Messages API responses, one scenario per URL prefix.

Point Bowout (or any Anthropic client) at `http://127.0.0.1:PORT/<scenario>` and every
`POST /<scenario>/v1/messages` gets that scenario's next recorded response. Stdlib only (uvicorn to serve
it): it imports nothing else of Bowout's, so it checks Bowout from the outside, through the real SDK.
"""

from .app import create_app
from .recordings import Recording, load_scenarios, parse_recording
from .server import RunningReplay, serve_in_thread

__all__ = [
    "Recording",
    "RunningReplay",
    "create_app",
    "load_scenarios",
    "parse_recording",
    "serve_in_thread",
]
