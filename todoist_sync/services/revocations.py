"""Revoking OAuth tokens at Todoist, retried until Todoist confirms.

A disconnect (or a reconnect that replaces the token) forgets the user's credential at once:
no sync uses the token again. The token itself moves, still encrypted, to a
`TodoistRevocation` row, and a job revokes it. The job's arguments carry the row's id, never the
token; while Todoist is down the job schedules itself again with a growing delay, and the row
goes once Todoist confirmed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from todoist_sync.events import TOPIC
from todoist_sync.models import TodoistRevocation
from todoist_sync.oauth import OAuthError, token_revoke
from todoist_sync.tokens import TokenDecryptError, decrypt_token

logger = logging.getLogger(__name__)

REVOKE_FUNC = "todoist_sync.tasks.todoist_token_revoke"
SCHEDULE_PREFIX = "todoist-revoke-"
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 6 * 3600


def queue_revocation_job(revocation_id: int) -> None:
    """Hand a revocation to django-q2 (tests replace this seam)."""
    async_task(REVOKE_FUNC, revocation_id, group=TOPIC)


def revocation_queue(*, token_encrypted: str, last4: str) -> TodoistRevocation:
    """Record a token to revoke and queue its job once committed."""
    revocation = TodoistRevocation.objects.create(
        token_encrypted=token_encrypted, token_last4=last4
    )
    transaction.on_commit(lambda: queue_revocation_job(revocation.pk))
    return revocation


def revocation_attempt(*, revocation_id: int) -> bool:
    """Try once to revoke; return whether the token is gone at Todoist (or the row was)."""
    revocation = TodoistRevocation.objects.filter(pk=revocation_id).first()
    if revocation is None:
        return True
    try:
        token = decrypt_token(revocation.token_encrypted)
    except (TokenDecryptError, ImproperlyConfigured):
        # No key opens it any more: nobody here can use or revoke it.
        logger.warning(
            "todoist revocation %s: the token cannot be decrypted; dropped", revocation_id
        )
        revocation.delete()
        return True
    try:
        token_revoke(token=token)
    except OAuthError as exc:
        revocation.attempts += 1
        revocation.last_error = f"{exc} (status {exc.status})"[:200]
        revocation.save(update_fields=["attempts", "last_error"])
        delay = min(RETRY_BASE_SECONDS * 2 ** (revocation.attempts - 1), RETRY_CAP_SECONDS)
        Schedule.objects.update_or_create(
            name=f"{SCHEDULE_PREFIX}{revocation.pk}",
            defaults={
                "func": REVOKE_FUNC,
                "args": repr((revocation.pk,)),
                "kwargs": repr({"q_options": {"group": TOPIC}}),
                "schedule_type": Schedule.ONCE,
                "repeats": -1,
                "next_run": timezone.now() + timedelta(seconds=delay),
            },
        )
        logger.warning(
            "todoist revocation %s failed (attempt %s): %s; again in %s s",
            revocation_id,
            revocation.attempts,
            exc,
            delay,
        )
        return False
    revocation.delete()
    Schedule.objects.filter(name=f"{SCHEDULE_PREFIX}{revocation_id}").delete()
    return True
