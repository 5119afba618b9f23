"""Connecting a user's Todoist through OAuth: the link the bot sends, and its callback.

The `state` in the link is random, single-use, bound to the user and expires after
OAUTH_STATE_MINUTES; only its digest is stored (`oauth.state_digest`). The callback exchanges
the code server-side and stores the token encrypted, like a pasted one, replacing (and
revoking) the user's previous OAuth token. Whatever goes wrong, nothing is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from todoist_sync import oauth
from todoist_sync.conf import conf
from todoist_sync.events import event_record
from todoist_sync.exceptions import (
    OAuthDenied,
    OAuthExchangeFailed,
    OAuthStateInvalid,
    OAuthUnavailable,
    TodoistError,
    TokenStorageUnavailable,
)
from todoist_sync.models import TodoistCredential, TodoistOAuthState
from todoist_sync.services.credentials import todoist_client, todoist_credential_store
from todoist_sync.services.revocations import revocation_queue
from todoist_sync.tokens import encrypt_token, encryption_keys

logger = logging.getLogger(__name__)

OAUTH_STATE_MINUTES = 10


@dataclass(frozen=True)
class ConnectLink:
    authorize_url: str
    expires_at: datetime


def oauth_connect_start(*, user: Any) -> ConnectLink:
    """A link that connects the user's Todoist through OAuth. Raises OAuthUnavailable, or
    TokenStorageUnavailable when a token could not be stored here anyway."""
    if not conf.oauth_enabled:
        raise OAuthUnavailable
    if not encryption_keys():
        raise TokenStorageUnavailable
    now = timezone.now()
    # Old states of anyone are of no use: pruned here, where new ones are made.
    TodoistOAuthState.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    state = oauth.state_new()
    expires_at = now + timedelta(minutes=OAUTH_STATE_MINUTES)
    TodoistOAuthState.objects.create(
        user=user, digest=oauth.state_digest(state), expires_at=expires_at
    )
    return ConnectLink(oauth.authorize_url(state=state), expires_at)


def oauth_state_take(*, state: str, user_id: int | None = None) -> TodoistOAuthState:
    """Use up a valid state (one UPDATE: a second callback with it loses). `user_id`: who the
    browser is signed in as, if anyone: another user's state is refused and left unused.
    Raises OAuthStateInvalid."""
    if not state or len(state) > 200:
        raise OAuthStateInvalid
    now = timezone.now()
    row = TodoistOAuthState.objects.filter(
        digest=oauth.state_digest(state), used_at__isnull=True, expires_at__gt=now
    ).first()
    if row is None or (user_id is not None and row.user_id != user_id):
        raise OAuthStateInvalid
    if not TodoistOAuthState.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise OAuthStateInvalid
    return row


def oauth_connect_finish(
    *, state: str, code: str = "", error: str = "", user_id: int | None = None
) -> TodoistCredential:
    """The callback: check the state, exchange the code, store the token. Raises
    OAuthUnavailable, OAuthStateInvalid, OAuthDenied, OAuthExchangeFailed or
    TokenStorageUnavailable; in every case nothing is stored."""
    if not conf.oauth_enabled:
        raise OAuthUnavailable
    row = oauth_state_take(state=state, user_id=user_id)
    if error:
        event_record(user_id=row.user_id, message="Connecting Todoist was declined in Todoist.")
        raise OAuthDenied
    if not code:
        raise OAuthExchangeFailed
    try:
        token = oauth.code_exchange(code=code)
    except oauth.OAuthError as exc:
        logger.warning("todoist oauth code exchange of user %s failed: %s", row.user_id, exc)
        raise OAuthExchangeFailed from None
    try:
        encrypted = encrypt_token(token)
    except ImproperlyConfigured:
        raise TokenStorageUnavailable from None
    try:
        todoist_user = todoist_client(token=token).get_user()
    except (TodoistError, ValueError) as exc:
        logger.warning(
            "todoist oauth: reading the new token's user for user %s failed: %s",
            row.user_id,
            type(exc).__name__,
        )
        # Not stored: the fresh grant is revoked rather than left valid and unknown here.
        with transaction.atomic():
            revocation_queue(token_encrypted=encrypted, last4=token[-4:])
        raise OAuthExchangeFailed from None
    credential = todoist_credential_store(
        user=row.user,
        token=token,
        encrypted=encrypted,
        kind=TodoistCredential.Kind.OAUTH,
        todoist_user=todoist_user,
    )
    event_record(user_id=row.user_id, message="Todoist connected through OAuth.")
    return credential
