"""Sync on change: a saved task queues a sync of its user once the transaction commits.

The receiver is connected in `TodoistSyncConfig.ready()`. It only schedules; `sync_on_change`
(a service) decides. Saves made by the sync engine touch mappings and runs, never `Task`, so a
sync cannot trigger itself.

Not covered (Django sends no post_save for them): `QuerySet.update()` and `bulk_create()`; the
periodic safety-net run (`manage.py todoist_schedules`) picks those changes up.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, transaction

from todoist_sync import services
from todoist_sync.conf import conf

logger = logging.getLogger(__name__)

# Attribute on the (per-thread) connection: user id -> the on-commit callback queued for them.
_PENDING_ATTR = "_todoist_sync_on_change"


class _EnqueueOnCommit:
    """The on-commit callback of one user; marks itself as run so the user can be queued again."""

    def __init__(self, user_id: int, pending: dict[int, _EnqueueOnCommit]) -> None:
        self.user_id = user_id
        self.pending = pending
        self.ran = False

    def __call__(self) -> None:
        self.ran = True
        if self.pending.get(self.user_id) is self:
            del self.pending[self.user_id]
        sync_on_change_enqueue(user_id=self.user_id)


def _still_queued(connection: Any, callback: _EnqueueOnCommit) -> bool:
    # A rollback drops on-commit callbacks without telling anyone: a user is "already queued"
    # only while their callback is really still waiting, or their next change would be lost.
    if callback.ran:
        return False
    return any(func is callback for _, func, *_ in getattr(connection, "run_on_commit", ()))


def sync_on_change_schedule(*, user_id: int, using: str = DEFAULT_DB_ALIAS) -> bool:
    """Queue one sync of the user after the current transaction commits (now, outside one).

    One callback per user per transaction: a burst of saves in one transaction queues one
    sync; bursts across transactions are joined by `sync_enqueue` onto the still-queued run.
    Answers whether a new callback was registered.
    """
    connection = transaction.get_connection(using)
    if not connection.in_atomic_block:
        # on_commit would run at once: nothing to coalesce, and no transaction left to track.
        getattr(connection, _PENDING_ATTR, {}).clear()
        sync_on_change_enqueue(user_id=user_id)
        return True
    pending: dict[int, _EnqueueOnCommit] | None = getattr(connection, _PENDING_ATTR, None)
    if pending is None:
        pending = {}
        setattr(connection, _PENDING_ATTR, pending)
    queued = pending.get(user_id)
    if queued is not None and _still_queued(connection, queued):
        return False
    callback = _EnqueueOnCommit(user_id, pending)
    pending[user_id] = callback
    transaction.on_commit(callback, using=using)
    return True


def sync_on_change_enqueue(*, user_id: int) -> None:
    """Queue (or join) a sync of the whole user; never raises, a save must not fail for it."""
    try:
        user = get_user_model().objects.get(pk=user_id)
        services.sync_enqueue(user=user, trigger="change")
    except services.NoTodoistToken:
        logger.debug("todoist sync on change: user %s has no Todoist token; skipped", user_id)
    except Exception as exc:
        # The type only: an exception's text is not ours to vouch for (it could quote a secret).
        logger.error(
            "todoist sync on change: sync of user %s not queued (%s)", user_id, type(exc).__name__
        )


def task_saved(sender: Any, instance: Any, raw: bool = False, using: str = "default", **kwargs):
    """post_save receiver of planner.Task."""
    if raw or not conf.TODOIST_SYNC_ON_CHANGE:
        return  # fixtures being loaded, or the feature is off
    try:
        sync_on_change_schedule(user_id=instance.user_id, using=using)
    except Exception as exc:
        logger.error(
            "todoist sync on change: could not schedule the sync of user %s (%s)",
            getattr(instance, "user_id", None),
            type(exc).__name__,
        )
