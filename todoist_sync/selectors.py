"""Reads of the sync: what to push, and summaries of how it went."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from todoist_sync.conf import conf
from todoist_sync.models import (
    SyncRun,
    TodoistAccount,
    TodoistChatProject,
    TodoistCredential,
    TodoistTaskMap,
)
from todoist_sync.task_model import LocalTask, get_task_model, task_contract


def sync_scope_tasks(
    *, user_id: int, chat_id: int | None = None, task_ids: Iterable[int] | None = None
) -> QuerySet:
    """The user's live tasks in scope, in any status (the engine skips and logs a status it does
    not know instead of silently ignoring it), and archived tasks that Todoist still has."""
    contract = task_contract()
    qs = get_task_model().objects.filter(**{contract.owner: user_id})
    if contract.archived:
        live = Q(**{contract.archived: False})
        if conf.TODOIST_CLOSE_ARCHIVED:
            live |= Q(Exists(TodoistTaskMap.objects.filter(local_task=OuterRef("pk"))))
        qs = qs.filter(live)
    qs = qs.only(*contract.field_names()).order_by("pk")
    if chat_id is not None:
        if not contract.chat:
            return qs.none()  # the host has no chats: no task is in a chat's scope
        qs = qs.filter(**{contract.chat: chat_id})
    if task_ids is not None:
        qs = qs.filter(pk__in=list(task_ids))
    return qs


def sync_candidates(
    *, user_id: int, chat_id: int | None = None, task_ids: Iterable[int] | None = None
) -> tuple[list[LocalTask], dict[int, TodoistTaskMap]]:
    """Tasks in scope and their mappings by task id: two queries, whatever the size."""
    contract = task_contract()
    scope = sync_scope_tasks(user_id=user_id, chat_id=chat_id, task_ids=task_ids)
    tasks = [contract.read(task) for task in scope]
    maps = TodoistTaskMap.objects.filter(user_id=user_id)
    if chat_id is not None or task_ids is not None:
        maps = maps.filter(local_task_id__in=[task.id for task in tasks])
    return tasks, {m.local_task_id: m for m in maps}


def chat_projects(*, user_id: int) -> dict[int, str]:
    """The project name of each chat that has one (the others use TODOIST_PROJECT_NAME)."""
    rows = TodoistChatProject.objects.filter(user_id=user_id)
    return dict(rows.values_list("chat_id", "project_name"))


def waiting_by_project(*, user_id: int) -> list[dict]:
    """Tasks waiting for a Todoist project (full, or refused), one row per project."""
    rows = (
        TodoistTaskMap.objects.filter(user_id=user_id)
        .exclude(waiting_reason="")
        .values("project__name", "waiting_reason")
        .annotate(waiting=Count("id"))
        .order_by("project__name")
    )
    return [
        {"project": r["project__name"], "reason": r["waiting_reason"], "waiting": r["waiting"]}
        for r in rows
    ]


def account_changed_at(*, user_id: int) -> datetime | None:
    """When the user's token last opened another Todoist account than their tasks were in."""
    return (
        TodoistAccount.objects.filter(user_id=user_id, replaced_at__isnull=False)
        .order_by("-replaced_at")
        .values_list("replaced_at", flat=True)
        .first()
    )


def chat_project(*, user_id: int, chat_id: int) -> str:
    """The Todoist project a chat's tasks go to."""
    row = TodoistChatProject.objects.filter(user_id=user_id, chat_id=chat_id).first()
    return row.project_name if row else conf.TODOIST_PROJECT_NAME


def earliest_retry_at(*, user_id: int) -> datetime | None:
    """When the next transient failure of this user is due for another try."""
    row = (
        TodoistTaskMap.objects.filter(
            user_id=user_id,
            sync_state=TodoistTaskMap.SyncState.ERROR,
            error_permanent=False,
            next_retry_at__isnull=False,
        )
        .order_by("next_retry_at")
        .values_list("next_retry_at", flat=True)
        .first()
    )
    return row


def sync_status_counts(*, user_id: int) -> dict[str, dict[str, int]]:
    """Counts by state and by permanence: one aggregate query over an indexed column pair."""
    rows = (
        TodoistTaskMap.objects.filter(user_id=user_id)
        .values("sync_state", "error_permanent")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys(TodoistTaskMap.SyncState.values, 0)
    errors = {"retrying": 0, "permanent": 0}
    for row in rows:
        counts[row["sync_state"]] += row["n"]
        if row["sync_state"] == TodoistTaskMap.SyncState.ERROR:
            errors["permanent" if row["error_permanent"] else "retrying"] += row["n"]
    return {"counts": counts, "errors": errors}


def recent_errors(*, user_id: int, limit: int = 20) -> QuerySet[TodoistTaskMap]:
    return (
        TodoistTaskMap.objects.filter(user_id=user_id, sync_state=TodoistTaskMap.SyncState.ERROR)
        .select_related("local_task")
        .only(
            "local_task_id",
            f"local_task__{task_contract().title}",
            "todoist_task_id",
            "last_error",
            "attempts",
            "next_retry_at",
            "error_permanent",
            "updated_at",
        )
        .order_by("-updated_at", "-id")[:limit]
    )


def drift_summary(*, user_id: int) -> dict[str, Any]:
    """What the user's reconciles found changed in Todoist, summed over the runs kept
    (TODOIST_RUN_RETENTION_DAYS), and when Todoist was last compared: one aggregate query."""
    totals = SyncRun.objects.filter(user_id=user_id, reconcile=True).aggregate(
        detected=Coalesce(Sum("drift_detected"), 0),
        restored=Coalesce(Sum("drift_restored"), 0),
        reported=Coalesce(Sum("drift_reported"), 0),
        last_checked_at=Max("reconciled_at"),
    )
    return totals


def latest_run(*, user_id: int) -> SyncRun | None:
    return SyncRun.objects.filter(user_id=user_id).order_by("-queued_at", "-id").first()


def run_in_progress(*, user_id: int) -> bool:
    return SyncRun.objects.filter(user_id=user_id, state=SyncRun.State.RUNNING).exists()


def queued_run(*, user_id: int) -> SyncRun | None:
    """The user's run that has not started yet: a new trigger joins it (widening its scope).
    One queued too long is taken as lost (its job never reached a worker) and is not joined."""
    fresh_since = timezone.now() - timedelta(seconds=conf.TODOIST_QUEUED_STALE_SECONDS)
    return (
        SyncRun.objects.filter(
            user_id=user_id, state=SyncRun.State.QUEUED, queued_at__gte=fresh_since
        )
        .order_by("queued_at")
        .first()
    )


def last_queued_at(*, user_id: int) -> datetime | None:
    return (
        SyncRun.objects.filter(user_id=user_id)
        .order_by("-queued_at")
        .values_list("queued_at", flat=True)
        .first()
    )


def user_run(*, user_id: int, job_id: str) -> SyncRun | None:
    return SyncRun.objects.filter(user_id=user_id, job_id=job_id).first()


def todoist_credential_get(*, user_id: int) -> TodoistCredential | None:
    """The user's own token record, if connected (never the token itself)."""
    return (
        TodoistCredential.objects.filter(user_id=user_id).only("token_last4", "verified_at").first()
    )


def connection_summary(*, user_id: int) -> dict[str, Any]:
    """How the user's sync reaches Todoist (`oauth`, `token` (pasted), `shared` or `none`), and
    Todoist's webhooks about their account: the last one, how many were accepted or ignored.
    Deliveries rejected (bad signature) are counted server-wide: they name nobody. Two queries
    (three for a user without a token of their own, unless the shared token syncs everyone)."""
    from todoist_sync.models import TodoistWebhookCounter
    from todoist_sync.services.credentials import shared_token_allowed

    row = (
        TodoistCredential.objects.filter(user_id=user_id)
        .values("kind", "webhook_at", "webhooks_accepted", "webhooks_ignored")
        .first()
    )
    if row is not None:
        kind = row["kind"]
    elif conf.TODOIST_API_TOKEN and shared_token_allowed(user_id=user_id):
        kind = "shared"
    else:
        kind = "none"
    row = row or {"webhook_at": None, "webhooks_accepted": 0, "webhooks_ignored": 0}
    counters = TodoistWebhookCounter.objects.filter(name="rejected")
    rejected = counters.values_list("count", flat=True).first()
    return {
        "connection": kind,
        "webhooks": {
            "last_at": row["webhook_at"],
            "accepted": row["webhooks_accepted"],
            "ignored": row["webhooks_ignored"],
            "rejected": rejected or 0,
        },
    }


def sync_user_ids() -> QuerySet:
    """Ids of the users with any task: the ones a sync concerns."""
    owner = task_contract().owner_attname
    return get_task_model().objects.values_list(owner, flat=True).order_by(owner).distinct()


def safety_net_user_ids() -> QuerySet:
    """Users with tasks and a token source: their own, or the shared one where it syncs them
    (TODOIST_SHARED_TOKEN_USERS)."""
    ids = sync_user_ids()
    shared = conf.TODOIST_SHARED_TOKEN_USERS if conf.TODOIST_API_TOKEN else []
    if not isinstance(shared, list):
        shared = []  # todoist_sync.E013
    if "*" in shared:
        return ids
    owner = task_contract().owner
    covered = Q(**{f"{owner}__todoist_credential__isnull": False})
    if shared:
        covered |= Q(**{f"{owner}__{get_user_model().USERNAME_FIELD}__in": shared})
    return ids.filter(covered)


def users_with_active_run(*, user_ids: Iterable[int]) -> set[int]:
    """Of these users, those with a run running, or queued recently enough to be alive."""
    fresh_since = timezone.now() - timedelta(seconds=conf.TODOIST_QUEUED_STALE_SECONDS)
    active = Q(state=SyncRun.State.RUNNING) | Q(
        state=SyncRun.State.QUEUED, queued_at__gte=fresh_since
    )
    runs = SyncRun.objects.filter(active, user_id__in=list(user_ids))
    return set(runs.values_list("user_id", flat=True).distinct())


def sync_users() -> QuerySet:
    """Users with any task, by name."""
    user_model = get_user_model()
    return user_model.objects.filter(pk__in=sync_user_ids()).order_by(user_model.USERNAME_FIELD)
