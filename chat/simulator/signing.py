"""Signatures on thinking blocks, so a block that comes back modified is caught like the real API does.

A signature is `base64(nonce || HMAC-SHA256(key, nonce || text))`: opaque to clients, unique per block,
and only valid for the exact text it was issued with (the empty string when display is omitted). The
default key is fixed, not random: the real API accepts its own signatures across restarts and across
servers, so a Bowout restarted between two turns must not see its saved thinking blocks refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

DEFAULT_KEY = hashlib.sha256(b"bowout offline model: thinking signatures").digest()
NONCE_BYTES = 16


class Signer:
    def __init__(self, key: bytes = DEFAULT_KEY) -> None:
        self._key = key

    def _mac(self, nonce: bytes, text: str) -> bytes:
        return hmac.new(self._key, nonce + text.encode(), hashlib.sha256).digest()

    def sign(self, text: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return base64.b64encode(nonce + self._mac(nonce, text)).decode()

    def verify(self, text: str, signature: object) -> bool:
        if not isinstance(signature, str) or not signature:
            return False
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        nonce, mac = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
        return len(nonce) == NONCE_BYTES and hmac.compare_digest(mac, self._mac(nonce, text))

    def redacted_data(self) -> str:
        """The opaque payload of a redacted_thinking block; verified like a signature over nothing."""
        return self.sign("\x00redacted")

    def verify_redacted(self, data: object) -> bool:
        return self.verify("\x00redacted", data)
