"""Per-user Todoist tokens at rest: Fernet (AES-128-CBC + HMAC) under a key from the environment."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured

from todoist_sync.conf import conf


class TokenDecryptError(Exception):
    """A stored token cannot be read with the current key (the key changed)."""


def _fernet() -> Fernet:
    secret = conf.TODOIST_TOKEN_ENCRYPTION_KEY
    if not secret:
        raise ImproperlyConfigured(
            "TODOIST_TOKEN_ENCRYPTION_KEY is not set: per-user Todoist tokens cannot be stored."
        )
    # Any passphrase works: derive the 32-byte key Fernet needs.
    key = base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest())
    return Fernet(key)


def encrypt_token(token: str) -> str:
    return _fernet().encrypt(token.encode("utf-8")).decode("ascii")


def decrypt_token(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise TokenDecryptError(
            "The stored Todoist token cannot be decrypted: TODOIST_TOKEN_ENCRYPTION_KEY changed? "
            "Connect the token again."
        ) from None


def token_key(token: str) -> str:
    """A stable, non-reversible key for a token (rate budgets are per token)."""
    return hashlib.sha256(b"todoist-token:" + token.encode("utf-8")).hexdigest()
