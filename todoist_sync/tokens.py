"""Per-user Todoist tokens at rest: Fernet (AES-128-CBC + HMAC) under keys from the settings.

The keys are TODOIST_TOKEN_ENCRYPTION_KEYS, then TODOIST_TOKEN_ENCRYPTION_KEY. The first one
encrypts; every one decrypts (MultiFernet), so keys rotate without losing a token:
put the new key first, run `manage.py rotate_todoist_tokens`, then drop the old one.

Each entry is either a Fernet key (`Fernet.generate_key()`: 32 random bytes, base64), used as it
is, or a passphrase, stretched with scrypt. Tokens encrypted before scrypt, under one unsalted
SHA-256 of the entry, still decrypt: that legacy key comes last in the list, and re-encrypting
(rotate) moves them off it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured
from django.core.validators import RegexValidator

from todoist_sync.conf import conf

# scrypt's cost: 2**15 * 8 * 128 bytes = 32 MiB and some 0.1 s per guess, once per process
# here (cached). The salt is fixed, so that the same passphrase always gives the same key
# without storing anything; it still keeps tables computed for other uses of scrypt useless.
SCRYPT_SALT = b"todoist_sync.tokens/scrypt/v1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024

# What can travel in an Authorization header: a token with other characters is refused where
# it is entered (API, admin), so it is a form error and never a 500 further on.
# 32 bytes in urlsafe base64: 43 characters and one "=".
FERNET_KEY = re.compile(r"[A-Za-z0-9_-]{43}=")

token_characters = RegexValidator(
    r"^[\x21-\x7e]+$", message="A Todoist token is printable ASCII without spaces."
)


class TokenDecryptError(Exception):
    """A stored token cannot be read with any configured key (the keys changed)."""


def is_fernet_key(secret: str) -> bool:
    """Whether `secret` is a Fernet key (32 bytes, urlsafe base64) rather than a passphrase."""
    return FERNET_KEY.fullmatch(secret) is not None


def encryption_keys() -> list[str]:
    """The configured secrets, the encrypting one first, without repeats."""
    secrets = [*conf.TODOIST_TOKEN_ENCRYPTION_KEYS, conf.TODOIST_TOKEN_ENCRYPTION_KEY]
    return list(dict.fromkeys(s for s in secrets if s))


@functools.lru_cache(maxsize=16)
def _derived_key(secret: str) -> bytes:
    if is_fernet_key(secret):
        return secret.encode("ascii")
    stretched = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=SCRYPT_SALT,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=SCRYPT_MAXMEM,
        dklen=32,
    )
    return base64.urlsafe_b64encode(stretched)


def _legacy_key(secret: str) -> bytes:
    """The key of earlier versions: one SHA-256 of the secret, unsalted. Decrypts only."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode("utf-8")).digest())


def _fernet() -> MultiFernet:
    secrets = encryption_keys()
    if not secrets:
        raise ImproperlyConfigured(
            "TODOIST_TOKEN_ENCRYPTION_KEY(S) is not set: per-user Todoist tokens cannot be stored."
        )
    current = [Fernet(_derived_key(s)) for s in secrets]
    legacy = [Fernet(_legacy_key(s)) for s in secrets]
    return MultiFernet(current + legacy)


def encrypt_token(token: str) -> str:
    return _fernet().encrypt(token.encode("utf-8")).decode("ascii")


def decrypt_token(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise TokenDecryptError(
            "The stored Todoist token cannot be decrypted with the configured keys "
            "(TODOIST_TOKEN_ENCRYPTION_KEY(S) changed?). Connect the token again."
        ) from None


def reencrypt_token(ciphertext: str) -> str:
    """The same token encrypted with the first key. Raises TokenDecryptError."""
    try:
        return _fernet().rotate(ciphertext.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise TokenDecryptError("The stored Todoist token cannot be decrypted.") from None


def token_readable(ciphertext: str) -> bool:
    """Whether a stored token decrypts with the configured keys (none configured: no)."""
    try:
        decrypt_token(ciphertext)
    except (TokenDecryptError, ImproperlyConfigured):
        return False
    return True


def token_key(token: str) -> str:
    """A stable, non-reversible key for a token (rate budgets are per token)."""
    return hashlib.sha256(b"todoist-token:" + token.encode("utf-8")).hexdigest()
