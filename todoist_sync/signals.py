"""Sync on change: a saved task queues a sync of its user once the transaction commits.

The receiver is connected to the task model (TODOIST_SYNC_TASK_MODEL) in
`TodoistSyncConfig.ready()`. It only schedules; `sync_enqueue` (a service) decides. Saves made by
the sync engine touch mappings and runs, never the task, so a sync cannot trigger itself.

Coalescing: every save registers an on-commit callback, but all the callbacks of one user in one
transaction share one `UserSyncOnCommit`, which queues once, at the first of them to run: a burst
of saves costs one enqueue, fired at commit, never delayed. A rollback drops its callbacks (and a
later save in the same transaction registers a new one), so no change is swallowed, without
reading Django's private list of pending callbacks.

Not covered (Django sends no post_save for them): `QuerySet.update()` and `bulk_create()`; the
periodic safety-net sweep picks those changes up. Its schedule is installed by
`safety_net_installed`, a post_migrate receiver.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction

from todoist_sync import services
from todoist_sync.conf import conf
from todoist_sync.events import Level, event_record
from todoist_sync.exceptions import TokenUnreadable
from todoist_sync.task_model import task_contract

logger = logging.getLogger(__name__)

# Attribute on the (per-thread) connection: user id -> that user's open UserSyncOnCommit.
PENDING_ATTR = "todoist_sync_on_change"


class UserSyncOnCommit:
    """One user's sync for one commit: whichever of its callbacks runs first queues it."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.fired = False

    def fire(self) -> None:
        if self.fired:
            return
        self.fired = True
        sync_on_change_enqueue(user_id=self.user_id)


def sync_on_change_schedule(*, user_id: int, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Queue one sync of the user after the current transaction commits (now, outside one).

    Return whether this save opened a new sync for the commit (False: it joined one).
    """
    connection = transaction.get_connection(using)
    pending: dict[int, UserSyncOnCommit] = getattr(connection, PENDING_ATTR, None) or {}
    setattr(connection, PENDING_ATTR, pending)
    sync = pending.get(user_id)
    opened = sync is None or sync.fired
    if opened:
        sync = pending[user_id] = UserSyncOnCommit(user_id)
    # Outside a transaction on_commit runs at once; inside, at the commit (or never, if rolled
    # back, and then the next save's callback still refers to this unfired sync).
    transaction.on_commit(sync.fire, using=using)
    return opened


def sync_on_change_enqueue(*, user_id: int) -> None:
    """Queue (or join) a sync of the whole user; never raises, a save must not fail for it."""
    try:
        user = get_user_model().objects.get(pk=user_id)
        services.sync_enqueue(user=user, trigger="change")
    except TokenUnreadable:
        # Not a user without a token: one whose token the keys no longer open. Their changes
        # stop reaching Todoist until they connect it again, so say so where people look.
        logger.warning(
            "todoist sync on change: user %s's stored Todoist token cannot be decrypted; skipped",
            user_id,
        )
        try:
            event_record(
                user_id=user_id,
                level=Level.WARNING,
                message="Todoist sync skipped: the stored Todoist token cannot be decrypted "
                "(the encryption keys changed). Connect the token again.",
            )
        except Exception as exc:  # the host's event store: a save must not fail for it either
            logger.error("todoist sync on change: event not recorded (%s)", type(exc).__name__)
    except services.NoTodoistToken:
        logger.debug("todoist sync on change: user %s has no Todoist token; skipped", user_id)
    except Exception as exc:
        # The type only: an exception's text is not ours to vouch for (it could quote a secret).
        logger.error(
            "todoist sync on change: sync of user %s not queued (%s)", user_id, type(exc).__name__
        )


def task_saved(sender: Any, instance: Any, raw: bool = False, using: str = "default", **kwargs):
    """post_save receiver of the task model."""
    if raw or not conf.TODOIST_SYNC_ON_CHANGE:
        return  # fixtures being loaded, or the feature is off
    user_id = getattr(instance, task_contract().owner_attname, None)
    try:
        sync_on_change_schedule(user_id=user_id, using=using)
    except Exception as exc:
        logger.error(
            "todoist sync on change: could not schedule the sync of user %s (%s)",
            user_id,
            type(exc).__name__,
        )


def safety_net_installed(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate receiver of this app: install (or update) the safety-net sweep schedule."""
    services.safety_net_install(using=using)
