"""A run's own records around the engine: runs whose worker died, the finished run's row and
summary line, and the runs that follow it (a queued one, or one scheduled for later)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from todoist_sync import selectors
from todoist_sync.conf import conf
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import SyncRun
from todoist_sync.services.enqueue import schedule_sync, sync_enqueue
from todoist_sync.services.lease import lease_held

logger = logging.getLogger("todoist_sync.services.engine")  # the run's log lines, as before

WORKER_STOPPED = "the worker stopped before the run finished; a later run took over"
JOB_LOST = "its job never reached a worker (lost); a later run took over"


def runs_reap_lost(*, user_id: int, keep_run_id: int) -> None:
    """Holding the lease proves no other run of this user is alive: any still marked running
    lost its worker, and says so instead of showing "running" forever. Likewise runs queued
    long before this one: their job was lost with its worker. One UPDATE for both."""
    now = timezone.now()
    lost_before = now - timedelta(seconds=conf.TODOIST_QUEUED_STALE_SECONDS)
    running = Q(state=SyncRun.State.RUNNING)
    lost = Q(state=SyncRun.State.QUEUED, queued_at__lt=lost_before)
    # Fenced in the statement itself: a run that stalled here fails no successor's run.
    others = SyncRun.objects.filter(running | lost, lease_held(), user_id=user_id)
    others.exclude(pk=keep_run_id).update(
        state=SyncRun.State.FAILED,
        finished_at=now,
        error_summary=Case(
            When(running, then=Value(WORKER_STOPPED)),
            default=Value(JOB_LOST),
        ),
    )


def run_finish(*, run: SyncRun, state: str, summary: str) -> str:
    """Record how the run ended and log it; return its one-line summary for the progress."""
    run.state, run.finished_at, run.error_summary = state, timezone.now(), summary[:2000]
    run.save()
    logger.info(
        "todoist sync run %s: %d sent, %d failed, %d requests%s",
        state,
        run.created + run.updated + run.closed + run.reopened,
        run.failed,
        run.requests,
        f" ({summary[:200]})" if summary else "",
    )
    return (
        f"done: {state}; created {run.created}, updated {run.updated}, "
        f"closed {run.closed}, reopened {run.reopened}, unchanged {run.unchanged}, "
        f"skipped {run.skipped}, failed {run.failed}; {run.requests} requests"
    )


def follow_ups_schedule(*, user_id: int, resume_at: datetime | None, summary: str) -> None:
    """A later run where this one left work: when a stopped run may resume, and when the
    earliest transient error is due again."""
    if resume_at is not None:
        schedule_sync(user_id=user_id, at=resume_at, reason=summary)
    retry_at = selectors.earliest_retry_at(user_id=user_id)
    if retry_at is not None:
        schedule_sync(user_id=user_id, at=retry_at, reason="transient errors to retry")


def follow_up_queue(*, user_id: int) -> None:
    """A run of the whole user, for the triggers that came while the lease was held."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        return
    try:
        sync_enqueue(user=user, trigger="follow-up")
    except NoTodoistToken:
        pass  # disconnected meanwhile: nothing to sync with
