"""Encryption of contexts at rest (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from shared.errors import ConfigurationError, StoreError


class ContextCipher:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise ConfigurationError(
                "FAASPOT_CONTEXT_KEY must be a Fernet key (urlsafe base64 of 32 bytes)"
            ) from exc

    def encrypt(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken as exc:
            raise StoreError("a stored context cannot be decrypted with this key") from exc


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")
