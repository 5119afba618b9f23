"""The Todoist request budgets as a django-health-check check (`TodoistBudget`).

Optional: only a host that serves django-health-check's view imports this module. A spent or
blocked budget is the sync working as designed (it waits), so the check reports budgets and
fails only when they cannot be read. It reports counts and seconds, never a budget's key (a hash
of a token).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from todoist_sync.conf import conf
from todoist_sync.models import RateBudget
from todoist_sync.services.coordination import BUDGET_MARGIN_SECONDS


def budget_state() -> dict[str, Any]:
    """How the request budgets stand: how many there are (a token's, or a user's share of a
    shared token), how many a 429 blocked (and the longest time left), and how many have spent
    a token's TODOIST_RATE_LIMIT_REQUESTS in the window (and the longest wait)."""
    now = time.time()
    span = conf.TODOIST_RATE_LIMIT_WINDOW + BUDGET_MARGIN_SECONDS
    limit = conf.TODOIST_RATE_LIMIT_REQUESTS
    state = dict.fromkeys(
        ("budgets", "blocked", "blocked_for_seconds", "spent", "spent_for_seconds"), 0
    )
    rows = RateBudget.objects.values_list("stamps", "blocked_until")
    for stamps, blocked_until in rows.iterator(chunk_size=500):
        state["budgets"] += 1
        if blocked_until is not None and blocked_until.timestamp() > now:
            state["blocked"] += 1
            left = blocked_until.timestamp() - now
            state["blocked_for_seconds"] = max(state["blocked_for_seconds"], round(left))
        recent = sorted(s for s in stamps if s > now - span)
        if limit > 0 and len(recent) >= limit:
            state["spent"] += 1
            left = recent[-limit] + span - now
            state["spent_for_seconds"] = max(state["spent_for_seconds"], round(left))
    return state


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
