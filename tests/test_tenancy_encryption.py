"""Many users on one server, their Todoist tokens at rest: keys that are random or stretched,
several keys that rotate, tokens from before that still decrypt, and an unreadable token that
is said so instead of silently skipped."""

from __future__ import annotations

import base64
import hashlib
import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.test import override_settings

from planner.models import EventLog, Task
from todoist_sync import services
from todoist_sync.models import TodoistCredential
from todoist_sync.tokens import decrypt_token, encrypt_token

pytestmark = pytest.mark.django_db

OLD_KEY = "wS9n0bK5b0m3J6sQ3o0b1lU8g0mJd2k2eK6iS3uJ0xQ="
NEW_KEY = "Yk7dU1m0cQ2tV6hR9pA4sL8eN3wZ5xB1gF0jH2kM4nE="
PASSPHRASE = "a passphrase long enough not to be a W012 warning"


def sha256_fernet(secret: str) -> Fernet:
    """How tokens were encrypted before: one unsalted SHA-256 of the setting."""
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def store(user, token: str, ciphertext: str | None = None) -> TodoistCredential:
    return TodoistCredential.objects.create(
        user=user, token_encrypted=ciphertext or encrypt_token(token), token_last4=token[-4:]
    )


# --- keys ----------------------------------------------------------------------------------


@override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=PASSPHRASE, TODOIST_TOKEN_ENCRYPTION_KEYS=[])
def test_a_passphrase_is_stretched_not_hashed_once():
    ciphertext = encrypt_token("tok-1234")
    assert decrypt_token(ciphertext) == "tok-1234"
    with pytest.raises(InvalidToken):
        sha256_fernet(PASSPHRASE).decrypt(ciphertext.encode())
    stretched = hashlib.scrypt(
        PASSPHRASE.encode(), salt=b"todoist_sync.tokens/scrypt/v1", n=2**15, r=8, p=1,
        maxmem=64 * 2**20, dklen=32,
    )  # fmt: skip
    assert Fernet(base64.urlsafe_b64encode(stretched)).decrypt(ciphertext.encode()) == b"tok-1234"


@override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=NEW_KEY, TODOIST_TOKEN_ENCRYPTION_KEYS=[])
def test_a_fernet_key_is_used_as_it_is():
    assert Fernet(NEW_KEY).decrypt(encrypt_token("tok-1234").encode()) == b"tok-1234"


@pytest.mark.parametrize(
    "secret", [PASSPHRASE, "test-encryption-key", NEW_KEY], ids=["long", "short", "fernet-key"]
)
def test_tokens_encrypted_before_the_upgrade_still_decrypt(user, secret):
    # Made exactly as the previous version did, under the same setting.
    legacy = sha256_fernet(secret).encrypt(b"tok-from-before").decode()
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=secret, TODOIST_TOKEN_ENCRYPTION_KEYS=[]):
        store(user, "tok-from-before", legacy)
        assert services.todoist_token_for(user_id=user.pk) == "tok-from-before"

        out = StringIO()
        call_command("rotate_todoist_tokens", stdout=out)

        assert "Re-encrypted 1 Todoist token(s)" in out.getvalue()
        moved = TodoistCredential.objects.get().token_encrypted
        assert moved != legacy
        assert services.todoist_token_for(user_id=user.pk) == "tok-from-before"
    with pytest.raises(InvalidToken):
        sha256_fernet(secret).decrypt(moved.encode())  # off the unsalted key for good


def test_keys_rotate_the_first_encrypting_every_one_decrypting(user, other_user):
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=OLD_KEY, TODOIST_TOKEN_ENCRYPTION_KEYS=[]):
        store(user, "alice-tok-1111")
    # The new key goes first; the old one stays (here the old setting, as an upgrade leaves it).
    with override_settings(
        TODOIST_TOKEN_ENCRYPTION_KEY=OLD_KEY, TODOIST_TOKEN_ENCRYPTION_KEYS=[NEW_KEY]
    ):
        store(other_user, "bob-tok-2222")
        assert (
            Fernet(NEW_KEY).decrypt(
                TodoistCredential.objects.get(user=other_user).token_encrypted.encode()
            )
            == b"bob-tok-2222"
        )
        assert services.todoist_token_for(user_id=user.pk) == "alice-tok-1111"

        out = StringIO()
        call_command("rotate_todoist_tokens", stdout=out)
        assert "Re-encrypted 2 Todoist token(s) with the first key; 0 unreadable." in out.getvalue()

    # Rotated: the old key can go.
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="", TODOIST_TOKEN_ENCRYPTION_KEYS=NEW_KEY):
        assert services.todoist_token_for(user_id=user.pk) == "alice-tok-1111"
        assert services.todoist_token_for(user_id=other_user.pk) == "bob-tok-2222"


def test_rotation_leaves_unreadable_tokens_and_counts_them(user, other_user):
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=OLD_KEY):
        store(user, "alice-tok-1111")
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=NEW_KEY):
        store(other_user, "bob-tok-2222")
        lost = TodoistCredential.objects.get(user=user).token_encrypted
        out, err = StringIO(), StringIO()
        call_command("rotate_todoist_tokens", stdout=out, stderr=err)

    assert "Re-encrypted 1 Todoist token(s) with the first key; 1 unreadable." in out.getvalue()
    assert "connect them again" in err.getvalue()
    assert TodoistCredential.objects.get(user=user).token_encrypted == lost


@override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="", TODOIST_TOKEN_ENCRYPTION_KEYS=[])
def test_rotation_without_a_key_is_an_error(db):
    with pytest.raises(CommandError, match="No encryption key"):
        call_command("rotate_todoist_tokens", stdout=StringIO())


# --- an unreadable token -------------------------------------------------------------------


@pytest.fixture
def unreadable(user):
    """Alice's token, stored under a key the server no longer has."""
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=OLD_KEY):
        store(user, "alice-tok-1111")
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY=NEW_KEY, TODOIST_TOKEN_ENCRYPTION_KEYS=[]):
        yield


def test_get_token_says_a_stored_token_is_unreadable(api_client, unreadable):
    body = api_client.get("/v1/sync/todoist/token").json()
    assert body["status"] == "unreadable"
    assert body["connected"] is True and body["last4"] == "1111"


def test_a_sync_skipped_for_an_unreadable_token_warns(
    user, unreadable, queued_jobs, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.DEBUG, logger="todoist_sync")
    with django_capture_on_commit_callbacks(execute=True):
        Task.objects.create(user=user, title="Not going anywhere")

    queued_jobs.assert_not_called()
    [record] = [r for r in caplog.records if r.name == "todoist_sync.signals"]
    assert record.levelname == "WARNING" and "cannot be decrypted" in record.getMessage()
    event = EventLog.objects.get(user=user)
    assert event.level == "warning" and "cannot be decrypted" in event.message
    assert "alice-tok" not in caplog.text + event.message
