"""Starting runs: queueing the job, follow-up and safety-net schedules, and re-syncs."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Model
from django.utils import timezone
from django_q.models import Schedule
from django_q.tasks import async_task

from todoist_sync import selectors
from todoist_sync.conf import conf
from todoist_sync.events import TOPIC
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import SyncRun, TodoistChatProject, TodoistTaskMap
from todoist_sync.services.credentials import todoist_token_for
from todoist_sync.task_model import get_task_model, task_contract

logger = logging.getLogger(__name__)

JOB_FUNC = "todoist_sync.tasks.sync_todoist"
State = TodoistTaskMap.SyncState
# Triggers that come in bursts (saves, Todoist's webhooks): a burst becomes one run.
DEBOUNCED_TRIGGERS = frozenset({"change", "webhook"})


def queue_job(run: SyncRun) -> None:
    """Hand a queued run to django-q2 (tests replace this seam to capture jobs)."""
    async_task(
        JOB_FUNC,
        run.user_id,
        chat_id=run.chat_id,
        task_ids=run.task_ids,
        job_id=run.job_id,
        task_name=run.job_id,
        group=TOPIC,
    )


def sync_enqueue(
    *,
    user: Any,
    chat_id: int | None = None,
    task_ids: Sequence[int] | None = None,
    trigger: str = "api",
    reconcile: bool = False,
) -> SyncRun:
    """Queue a sync of the user (optionally one chat, or some tasks); return its SyncRun.
    `reconcile`: compare with Todoist first and deal with what changed there (drift).

    One queued run per user: a trigger while one is still queued joins it, widening its scope
    to cover both (and reconciling if either asked). A change right after the user's last run
    was queued waits for the rest of TODOIST_SYNC_DEBOUNCE_SECONDS (a lone change goes at
    once). Raises NoTodoistToken when the user has no token, so a caller never queues a job
    bound to fail.
    """
    todoist_token_for(user_id=user.pk)
    task_ids = list(task_ids) if task_ids is not None else None
    existing = selectors.queued_run(user_id=user.pk)
    if existing is not None and run_widen(
        run=existing, chat_id=chat_id, task_ids=task_ids, reconcile=reconcile
    ):
        return existing
    not_before = None
    if trigger in DEBOUNCED_TRIGGERS and conf.TODOIST_SYNC_DEBOUNCE_SECONDS > 0:
        last = selectors.last_queued_at(user_id=user.pk)
        window = timedelta(seconds=conf.TODOIST_SYNC_DEBOUNCE_SECONDS)
        if last is not None and timezone.now() < last + window:
            not_before = last + window
    run = SyncRun.objects.create(
        job_id=uuid.uuid4().hex,
        user_id=user.pk,
        chat_id=chat_id,
        task_ids=task_ids,
        trigger=trigger,
        not_before=not_before,
        reconcile=reconcile,
    )
    # Never before the run row (and the change that caused it) is committed. Looked up at
    # commit time, so a replaced `queue_job` is the one called.
    transaction.on_commit(lambda: queue_job(run))
    return run


def run_widen(
    *, run: SyncRun, chat_id: int | None, task_ids: list[int] | None, reconcile: bool = False
) -> bool:
    """Make a queued run cover this scope too (and reconcile if either asked); False if it
    started meanwhile (one UPDATE that only matches while it is still queued)."""
    wider_chat = run.chat_id if run.chat_id == chat_id else None
    wider_tasks = None
    if run.task_ids is not None and task_ids is not None:
        wider_tasks = sorted({*run.task_ids, *task_ids})
    wider_reconcile = run.reconcile or reconcile
    if (wider_chat, wider_tasks, wider_reconcile) == (run.chat_id, run.task_ids, run.reconcile):
        return SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).exists()
    widened = SyncRun.objects.filter(pk=run.pk, state=SyncRun.State.QUEUED).update(
        chat_id=wider_chat, task_ids=wider_tasks, reconcile=wider_reconcile
    )
    run.chat_id, run.task_ids, run.reconcile = wider_chat, wider_tasks, wider_reconcile
    return widened == 1


def schedule_sync(*, user_id: int, at: datetime, reason: str) -> None:
    """One follow-up run of the user at `at` (django-q2 has no backoff of its own).

    One ONCE schedule per user: an earlier time replaces a later one, never the other way.
    """
    name = f"todoist-sync-user-{user_id}"
    with transaction.atomic():
        existing = Schedule.objects.select_for_update().filter(name=name).first()
        if existing is not None and existing.next_run and existing.next_run <= at:
            return
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": JOB_FUNC,
                "args": repr((user_id,)),
                "kwargs": repr({"trigger": "retry", "q_options": {"group": TOPIC}}),
                "schedule_type": Schedule.ONCE,
                "repeats": -1,
                "next_run": at,
            },
        )
    logger.info("todoist sync of user %s scheduled at %s (%s)", user_id, at.isoformat(), reason)


@transaction.atomic
def tasks_resync(*, tasks: Iterable[Model], trigger: str = "admin") -> int:
    """Clear the errors of these tasks' mappings (permanent ones too) and queue a sync of them;
    unmapped ones are created. All or nothing: raises NoTodoistToken before clearing anything.

    In-flight commands stay: a create is still re-sent with its own uuid, never duplicated.
    """
    owner = task_contract().owner_attname
    by_user: dict[int, list[int]] = {}
    for task in tasks:
        by_user.setdefault(getattr(task, owner), []).append(task.pk)
    for user_id in by_user:
        todoist_token_for(user_id=user_id)
    task_ids = [pk for pks in by_user.values() for pk in pks]
    TodoistTaskMap.objects.filter(local_task_id__in=task_ids, sync_state=State.ERROR).update(
        sync_state=State.PENDING,
        error_permanent=False,
        failed_fingerprint="",
        attempts=0,
        next_retry_at=None,
        updated_at=timezone.now(),
    )
    users = get_user_model().objects.in_bulk(list(by_user))
    for user_id, pks in by_user.items():
        sync_enqueue(user=users[user_id], task_ids=pks, trigger=trigger)
    return len(task_ids)


def mappings_resync(*, mappings: Iterable[TodoistTaskMap], trigger: str = "admin") -> int:
    """`tasks_resync` of these mappings' tasks."""
    ids = [m.local_task_id for m in mappings]
    tasks = get_task_model().objects.filter(pk__in=ids).only("id", task_contract().owner)
    return tasks_resync(tasks=tasks, trigger=trigger)


def mappings_reconcile(
    *, mappings: Iterable[TodoistTaskMap], trigger: str = "admin"
) -> tuple[list[SyncRun], list[str]]:
    """Queue a reconciling run of each user these mappings belong to (a reconcile reads a
    whole account, so it is per user, not per mapping). Return the runs queued, and why the
    others could not be (a user without a token fails alone)."""
    user_ids = sorted({m.user_id for m in mappings})
    users = get_user_model().objects.in_bulk(user_ids)
    runs, refused = [], []
    for user_id in user_ids:
        try:
            runs.append(sync_enqueue(user=users[user_id], trigger=trigger, reconcile=True))
        except NoTodoistToken as exc:
            refused.append(f"{users[user_id]}: {exc.detail}")
    return runs, refused


@transaction.atomic
def chat_project_set(*, user: Any, chat_id: int, project_name: str | None) -> SyncRun | None:
    """Put a chat's tasks in this Todoist project (None: back to TODOIST_PROJECT_NAME) and
    queue a sync of the chat, which moves its open tasks. Return the queued run, or None when
    nothing changed. Raises NoTodoistToken before changing anything."""
    todoist_token_for(user_id=user.pk)
    current = TodoistChatProject.objects.filter(user=user, chat_id=chat_id).first()
    if (current.project_name if current else None) == project_name:
        return None
    if project_name is None:
        current.delete()
    else:
        TodoistChatProject.objects.update_or_create(
            user=user, chat_id=chat_id, defaults={"project_name": project_name}
        )
    return sync_enqueue(user=user, chat_id=chat_id, trigger="chat-project")
