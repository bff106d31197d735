"""Signatures on thinking blocks, so a block that comes back modified is caught like the real API does.

A signature is `base64(nonce || flag || HMAC-SHA256(key, nonce || flag || text))`: opaque to clients,
unique per block, and only valid for the exact text it was issued with (the empty string when display is
omitted). The flag marks a reply that stopped with `pause_turn`, the only assistant turn the API lets a
client send back last, to be continued. The
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
PAUSED, FINISHED = b"p", b"f"
REDACTED_TEXT = "\x00redacted"


class Signer:
    def __init__(self, key: bytes = DEFAULT_KEY) -> None:
        self._key = key

    def _mac(self, nonce: bytes, flag: bytes, text: str) -> bytes:
        return hmac.new(self._key, nonce + flag + text.encode(), hashlib.sha256).digest()

    def sign(self, text: str, *, paused: bool = False) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        flag = PAUSED if paused else FINISHED
        return base64.b64encode(nonce + flag + self._mac(nonce, flag, text)).decode()

    def _open(self, text: str, signature: object) -> bytes | None:
        """The flag of a valid signature for `text`, or None."""
        if not isinstance(signature, str) or not signature:
            return None
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return None
        nonce, flag, mac = raw[:NONCE_BYTES], raw[NONCE_BYTES : NONCE_BYTES + 1], raw[NONCE_BYTES + 1 :]
        if len(nonce) < NONCE_BYTES or not hmac.compare_digest(mac, self._mac(nonce, flag, text)):
            return None
        return flag

    def verify(self, text: str, signature: object) -> bool:
        return self._open(text, signature) is not None

    def is_paused(self, text: str, signature: object) -> bool:
        return self._open(text, signature) == PAUSED

    def redacted_data(self, *, paused: bool = False) -> str:
        """The opaque payload of a redacted_thinking block; checked like a signature over fixed text."""
        return self.sign(REDACTED_TEXT, paused=paused)

    def verify_redacted(self, data: object) -> bool:
        return self.verify(REDACTED_TEXT, data)

    def is_paused_redacted(self, data: object) -> bool:
        return self.is_paused(REDACTED_TEXT, data)
