"""Which Todoist token a user's sync uses, and connecting or disconnecting a user's own."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.events import event_record
from todoist_sync.exceptions import (
    NoTodoistToken,
    TodoistError,
    TokenCheckRateLimited,
    TokenCheckUnavailable,
    TokenRejected,
    TokenStorageUnavailable,
    TokenUnreadable,
)
from todoist_sync.models import TodoistCredential
from todoist_sync.services.accounts import todoist_account_identify
from todoist_sync.services.budget import rate_budget_acquire, rate_budget_note
from todoist_sync.todoist import TodoistClient
from todoist_sync.tokens import (
    TokenDecryptError,
    decrypt_token,
    encrypt_token,
    encryption_keys,
    reencrypt_token,
    token_key,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenSource:
    token: str
    shared: bool  # TODOIST_API_TOKEN, not the user's own


def todoist_token_source(*, user_id: int) -> TokenSource:
    """The user's own token if connected, else the shared one where allowed. Raises
    NoTodoistToken (TokenUnreadable when the user's own cannot be decrypted)."""
    credential = TodoistCredential.objects.filter(user_id=user_id).first()
    if credential is not None:
        try:
            return TokenSource(decrypt_token(credential.token_encrypted), shared=False)
        except (TokenDecryptError, ImproperlyConfigured) as exc:
            # The key changed or is gone: the user's token is unusable until connected again.
            raise TokenUnreadable.unreadable(str(exc)) from None
    if conf.TODOIST_API_TOKEN and shared_token_allowed(user_id=user_id):
        return TokenSource(conf.TODOIST_API_TOKEN, shared=True)
    raise NoTodoistToken


def shared_token_user(*, user_id: int) -> bool:
    """Whether the user's runs go through the shared token (what `todoist_token_source` would
    answer, without decrypting anything)."""
    if TodoistCredential.objects.filter(user_id=user_id).exists():
        return False
    return bool(conf.TODOIST_API_TOKEN) and shared_token_allowed(user_id=user_id)


def todoist_token_for(*, user_id: int) -> str:
    """The token the user's sync uses (see `todoist_token_source`)."""
    return todoist_token_source(user_id=user_id).token


def shared_token_allowed(*, user_id: int) -> bool:
    """Whether the shared TODOIST_API_TOKEN may sync this user: only users the operator opted
    in (TODOIST_SHARED_TOKEN_USERS, by username, or `*`), so a user who disconnects their own
    token never lands in the shared account unasked."""
    allowed = conf.TODOIST_SHARED_TOKEN_USERS
    if not allowed or not isinstance(allowed, list):
        return False  # nobody (the default), or a value todoist_sync.E013 reports
    if "*" in allowed:
        return True
    user_model = get_user_model()
    return user_model.objects.filter(
        pk=user_id, **{f"{user_model.USERNAME_FIELD}__in": allowed}
    ).exists()


def todoist_client(*, token: str) -> TodoistClient:
    return TodoistClient(
        token=token,
        base_url=conf.TODOIST_API_URL,
        connect_timeout=conf.TODOIST_CONNECT_TIMEOUT,
        read_timeout=conf.TODOIST_READ_TIMEOUT,
    )


def todoist_credential_connect(
    *, user: Any, token: str, client: TodoistClient | None = None
) -> TodoistCredential:
    """Check the token against Todoist, then store it encrypted.

    Raises TokenStorageUnavailable (no encryption key: checked before the token leaves),
    TokenCheckRateLimited (the token's request budget is spent), TokenRejected (Todoist
    refused it) or TokenCheckUnavailable (Todoist could not be reached).
    """
    token = token.strip()
    try:
        encrypted = encrypt_token(token)
    except ImproperlyConfigured:
        raise TokenStorageUnavailable from None
    # The check is a request with this token like any other: it takes a slot of the token's
    # budget, so repeated checks cannot push the token's syncs into Todoist's 429. A token
    # without a budget yet gets one only once Todoist accepts it: guesses leave no rows.
    budget_key = token_key(token)
    wait = rate_budget_acquire(key=budget_key, create=False)
    if wait > 0:
        raise TokenCheckRateLimited(
            f"Too many requests to Todoist with this token; try again in {math.ceil(wait)} s.",
            retry_after=wait,
        )
    try:
        todoist_user = (client or todoist_client(token=token)).get_user()
    except TodoistError as exc:
        if exc.refused:
            raise TokenRejected from None
        # The adapter's texts never contain the token; the type and status are enough here.
        logger.warning(
            "todoist token check of user %s failed: %s (status %s)",
            user.pk,
            type(exc).__name__,
            exc.status,
        )
        raise TokenCheckUnavailable from None
    rate_budget_note(key=budget_key)
    credential = todoist_credential_store(
        user=user,
        token=token,
        encrypted=encrypted,
        kind=TodoistCredential.Kind.TOKEN,
        todoist_user=todoist_user,
    )
    event_record(user_id=user.pk, message=f"Todoist token …{token[-4:]} connected.")
    return credential


@transaction.atomic
def todoist_credential_store(
    *, user: Any, token: str, encrypted: str, kind: str, todoist_user: dict[str, Any]
) -> TodoistCredential:
    """Store a checked token as the user's own (replacing any other). An OAuth token it
    replaces is revoked at Todoist (by a job: `services.revocations`)."""
    from todoist_sync.services.revocations import revocation_queue

    old = TodoistCredential.objects.select_for_update().filter(user=user).first()
    if old is not None and old.kind == TodoistCredential.Kind.OAUTH:
        try:
            same = decrypt_token(old.token_encrypted) == token
        except (TokenDecryptError, ImproperlyConfigured):
            same = False
        if not same:
            revocation_queue(token_encrypted=old.token_encrypted, last4=old.token_last4)
    credential, _ = TodoistCredential.objects.update_or_create(
        user=user,
        defaults={
            "token_encrypted": encrypted,
            "token_last4": token[-4:],
            "verified_at": timezone.now(),
            "kind": kind,
            "todoist_user_id": str(todoist_user["id"]),
        },
    )
    todoist_account_identify(user_id=user.pk, token=token, todoist_user=todoist_user)
    return credential


@transaction.atomic
def todoist_credential_disconnect(*, user: Any) -> bool:
    """Forget the user's own token at once; an OAuth one is also revoked at Todoist, by a job
    that retries while Todoist is down (the disconnect itself never waits for Todoist)."""
    from todoist_sync.services.revocations import revocation_queue

    credential = TodoistCredential.objects.select_for_update().filter(user=user).first()
    if credential is None:
        return False
    if credential.kind == TodoistCredential.Kind.OAUTH:
        revocation_queue(token_encrypted=credential.token_encrypted, last4=credential.token_last4)
    credential.delete()
    event_record(user_id=user.pk, message="Todoist token disconnected.")
    return True


@dataclass(frozen=True)
class ReencryptResult:
    reencrypted: int
    unreadable: int


def todoist_credentials_reencrypt() -> ReencryptResult:
    """Encrypt every stored token again with the first key (after a key is added in front).

    Tokens no configured key decrypts are left as they are and counted: their users connect
    again. Raises TokenStorageUnavailable when no key is configured.
    """
    if not encryption_keys():
        raise TokenStorageUnavailable
    reencrypted = unreadable = 0
    # One row a user: read them all first rather than update under an open cursor.
    rows = list(TodoistCredential.objects.values_list("pk", "token_encrypted"))
    for pk, ciphertext in rows:
        try:
            fresh = reencrypt_token(ciphertext)
        except TokenDecryptError:
            unreadable += 1
            continue
        # Only if unchanged meanwhile: a token connected since was encrypted with the new key.
        reencrypted += TodoistCredential.objects.filter(pk=pk, token_encrypted=ciphertext).update(
            token_encrypted=fresh
        )
    return ReencryptResult(reencrypted=reencrypted, unreadable=unreadable)
