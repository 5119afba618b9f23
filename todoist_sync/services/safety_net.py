"""The safety net: one periodic sweep that queues a run of every user the sync can reach.

Sync on change misses what Django sends no signal for (`QuerySet.update()`, `bulk_create()`, a
lost job). One django-q2 schedule, installed on every `migrate` (a `post_migrate` receiver), so
an operator has nothing to remember and users added later are covered: each sweep reads who
has a token source now. Each of its runs also reconciles (one read of the user's Todoist
account: a change made there is restored or reported, `services.reconcile`). The sweep
spreads the users over its interval in slices, one ONCE schedule a slice, so a thousand users
do not all queue at the same second; a user whose run is queued or running is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Schedule

from todoist_sync import selectors
from todoist_sync.conf import conf
from todoist_sync.events import TOPIC
from todoist_sync.exceptions import NoTodoistToken
from todoist_sync.models import SyncRun, TodoistCredential
from todoist_sync.services.enqueue import sync_enqueue
from todoist_sync.webhooks import deliveries_prune

SWEEP_SCHEDULE = "todoist-safety-net"
SWEEP_FUNC = "todoist_sync.tasks.safety_net_sweep"
SLICE_SCHEDULE_PREFIX = "todoist-safety-net-slice-"
SLICE_FUNC = "todoist_sync.tasks.safety_net_slice"
# The per-user schedules of earlier versions, replaced by the one sweep.
# django-q2's scheduler looks at its schedules about every 30 seconds: finer slices would fire
# together anyway.
SCHEDULER_TICK_SECONDS = 30


def safety_net_install(*, using: str | None = None) -> Schedule:
    """Create or update the one periodic sweep (idempotent). The per-user schedules of earlier
    versions are dropped once, by migration 0010."""
    schedules = Schedule.objects.using(using) if using else Schedule.objects
    schedule, _ = schedules.update_or_create(
        name=SWEEP_SCHEDULE,
        defaults={
            "func": SWEEP_FUNC,
            "args": None,
            "kwargs": repr({"q_options": {"group": TOPIC}}),
            "schedule_type": Schedule.MINUTES,
            "minutes": conf.TODOIST_SAFETY_NET_MINUTES,
            "repeats": -1,
        },
    )
    return schedule


def safety_net_sweep(*, now: datetime | None = None) -> int:
    """Queue a safety-net run of every user with a token source, spread over the interval:
    the first slice now, each later one by its own ONCE schedule. Return the users covered."""
    now = now or timezone.now()
    runs_prune(before=now - timedelta(days=conf.TODOIST_RUN_RETENTION_DAYS))
    deliveries_prune()
    user_ids = list(selectors.safety_net_user_ids())
    interval = conf.TODOIST_SAFETY_NET_MINUTES * 60
    total = len(user_ids)
    count = min(total, max(1, interval // SCHEDULER_TICK_SECONDS))
    # Even slices (sizes differ by one at most), one per step of the interval.
    slices = [user_ids[n * total // count : (n + 1) * total // count] for n in range(count)]
    step = interval / max(count, 1)
    for number, user_slice in enumerate(slices[1:], 1):
        Schedule.objects.update_or_create(
            name=f"{SLICE_SCHEDULE_PREFIX}{number}",
            defaults={
                "func": SLICE_FUNC,
                "args": repr((user_slice,)),
                "kwargs": repr({"q_options": {"group": TOPIC}}),
                "schedule_type": Schedule.ONCE,
                "repeats": -1,
                "next_run": now + timedelta(seconds=number * step),
            },
        )
    # Slices of a bigger sweep that have not fired: this sweep covers their users.
    stale = Schedule.objects.filter(name__startswith=SLICE_SCHEDULE_PREFIX)
    stale.exclude(name__in=[f"{SLICE_SCHEDULE_PREFIX}{n}" for n in range(1, len(slices))]).delete()
    if slices:
        safety_net_slice(user_ids=slices[0])
    return len(user_ids)


def runs_prune(*, before: datetime) -> int:
    """Delete the finished runs queued before `before` (TODOIST_RUN_RETENTION_DAYS)."""
    active = [SyncRun.State.QUEUED, SyncRun.State.RUNNING]
    deleted, _ = SyncRun.objects.filter(queued_at__lt=before).exclude(state__in=active).delete()
    return deleted


def webhook_users_reconciled_lately(
    *, user_ids: Sequence[int], now: datetime | None = None
) -> set[int]:
    """Of these users, those connected through OAuth (so Todoist's webhooks tell their changes)
    whose account was read within TODOIST_RECONCILE_HOURS: their safety-net run only pushes."""
    if not conf.oauth_enabled or not user_ids:
        return set()
    now = now or timezone.now()
    oauth_users = TodoistCredential.objects.filter(
        user_id__in=user_ids, kind=TodoistCredential.Kind.OAUTH
    ).values_list("user_id", flat=True)
    since = now - timedelta(hours=conf.TODOIST_RECONCILE_HOURS)
    return set(
        SyncRun.objects.filter(user_id__in=oauth_users, reconciled_at__gte=since)
        .values_list("user_id", flat=True)
        .distinct()
    )


def safety_net_slice(*, user_ids: Sequence[int]) -> int:
    """Queue a safety-net run of each of these users, unless one is queued or running.
    Return how many were queued."""
    busy = selectors.users_with_active_run(user_ids=user_ids)
    users = get_user_model().objects.in_bulk([pk for pk in user_ids if pk not in busy])
    backstop = webhook_users_reconciled_lately(user_ids=list(users))
    queued = 0
    for user in users.values():
        try:
            # The periodic run is also when changes made in Todoist are looked for (drift);
            # for users whose changes arrive by webhook, only every TODOIST_RECONCILE_HOURS.
            reconcile = user.pk not in backstop
            sync_enqueue(user=user, trigger="safety-net", reconcile=reconcile)
        except NoTodoistToken:  # disconnected since the sweep read the users: nothing to do
            continue
        queued += 1
    return queued
