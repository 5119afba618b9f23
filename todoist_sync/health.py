"""The Todoist request budgets as a django-health-check check (`TodoistBudget`).

Optional: only a host that serves django-health-check's view imports this module. A spent or
blocked budget is the sync working as designed (it waits), so the check reports budgets and
fails only when they cannot be read. It reports counts and seconds, never a budget's key (a hash
of a token).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count, Max, Q
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from todoist_sync.models import RateBudget
from todoist_sync.services.budget import budget_time, window_span

BUDGET_STATE_CACHE_KEY = "todoist_sync:health:budgets"
# Figures a few seconds old are as good to a probe, and a flood of probes reads them for free.
BUDGET_STATE_CACHE_SECONDS = 5


def budget_state() -> dict[str, Any]:
    """How the request budgets stand: how many are in use (a token that sent or was blocked
    within the window), how many a 429 blocked (and the longest time left), and how many have
    spent their window (and the longest wait). One aggregate query, cached for
    BUDGET_STATE_CACHE_SECONDS: a flood of probes costs the database one query per process and
    cache time, whatever the number of budgets."""
    try:
        cached = cache.get(BUDGET_STATE_CACHE_KEY)
    except Exception:  # the cache's own failure is the cache check's to report
        cached = None
    if cached is not None:
        return cached
    now = budget_time(time.time())
    since = now - timedelta(seconds=window_span())
    blocked, spent = Q(blocked_until__gt=now), Q(spent_until__gt=now)
    figures = RateBudget.objects.filter(Q(touched_at__gte=since) | blocked).aggregate(
        budgets=Count("pk"),
        blocked=Count("pk", filter=blocked),
        blocked_until=Max("blocked_until", filter=blocked),
        spent=Count("pk", filter=spent),
        spent_until=Max("spent_until", filter=spent),
    )
    state = {
        "budgets": figures["budgets"],
        "blocked": figures["blocked"],
        "blocked_for_seconds": _seconds_until(figures["blocked_until"], now),
        "spent": figures["spent"],
        "spent_for_seconds": _seconds_until(figures["spent_until"], now),
    }
    with contextlib.suppress(Exception):  # uncached then: still right
        cache.set(BUDGET_STATE_CACHE_KEY, state, BUDGET_STATE_CACHE_SECONDS)
    return state


def _seconds_until(moment: datetime | None, now: datetime) -> int:
    return round((moment - now).total_seconds()) if moment is not None else 0


@dataclasses.dataclass
class TodoistBudget(HealthCheck):
    """Reports the Todoist request budgets (`report`); unhealthy only when they cannot be read."""

    report: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False)

    async def run(self) -> None:
        try:
            # On the request's own thread (and database connection), as any view's queries.
            self.report = await sync_to_async(budget_state)()
        except DatabaseError as exc:
            raise ServiceUnavailable("the request budgets could not be read") from exc
