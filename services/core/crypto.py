"""Application-level encryption of tax ids: AES-256-GCM with a key id kept for rotation."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Keyring:
    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise ValueError("the keyring is empty")
        self._keys = keys
        self.active_kid = next(iter(keys))

    def encrypt(self, plaintext: str, context: bytes) -> tuple[str, bytes]:
        """Return (key id, nonce || ciphertext); `context` binds the value to its column."""
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self.active_kid]).encrypt(nonce, plaintext.encode(), context)
        return self.active_kid, nonce + sealed

    def decrypt(self, kid: str, blob: bytes, context: bytes) -> str:
        return AESGCM(self._keys[kid]).decrypt(blob[:12], blob[12:], context).decode()
