"""GET /healthz, for load balancers and probes: django-health-check's checks and ours, as JSON.

200 when every check passes, 503 naming the ones that failed. No login, and nothing sensitive in
the answer: check names, short reasons, counts and seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import re
from typing import Any

from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.status import Stat
from health_check.base import HealthCheck, HealthCheckResult
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

ANSWER_CACHE_KEY = "planner:healthz:answer"
ANSWER_CACHE_SECONDS = 2


@dataclasses.dataclass
class QueueCluster(HealthCheck):
    """A django-q2 cluster seen within `max_age` (none is needed when jobs run inline).

    Each cluster saves its status every half second, for a few seconds, where its broker keeps
    them: in Redis, or with the ORM broker in the cache Q_CLUSTER["cache"] names (a file cache
    the web process shares, see config/settings.py). django-q2's own `Stat.get_all()` reads them.
    """

    max_age: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(minutes=1), repr=False
    )
    report: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False)

    async def run(self) -> None:
        await sync_to_async(self.look)()

    def look(self) -> None:
        if Conf.SYNC:
            self.report = {"mode": "inline"}
            return
        try:
            broker = get_broker()
            stats = Stat.get_all(broker=broker)
            queued = broker.queue_size()
        except Exception as exc:  # the broker's own errors (Redis down, the database)
            raise ServiceUnavailable(f"the queue did not answer ({type(exc).__name__})") from exc
        now = timezone.now()
        stopped = {str(Conf.STOPPED), str(Conf.STOPPING)}
        alive = [
            stat
            for stat in stats
            if str(stat.status) not in stopped and now - stat.timestamp <= self.max_age
        ]
        self.report = {"clusters": len(alive), "queued": queued}
        if not alive:
            raise ServiceUnavailable("no django-q2 cluster seen in the last minute")


def check_name(check: HealthCheck) -> str:
    """`Database` -> `database`, `QueueCluster` -> `queue_cluster`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(check).__name__).lower()


class HealthView(HealthCheckView):
    """django-health-check's view, answering JSON whatever the Accept header, and 503 (what
    load balancers expect) rather than its 500 when a check fails."""

    checks = (
        "health_check.checks.Database",
        "health_check.checks.Cache",
        "planner.health.QueueCluster",
        "todoist_sync.health.TodoistBudget",
    )

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        # Anyone may probe: a flood of probes gets the answer of the last few seconds, and
        # costs each worker a cache read rather than every check (see BENCHMARKS.md).
        try:
            cached = await cache.aget(ANSWER_CACHE_KEY)
        except Exception:  # the cache check below reports a broken cache
            cached = None
        if cached is None:
            cached = await self.answer()
            with contextlib.suppress(Exception):
                await cache.aset(ANSWER_CACHE_KEY, cached, ANSWER_CACHE_SECONDS)
        body, status = cached
        return JsonResponse(body, status=status)

    async def answer(self) -> tuple[dict[str, Any], int]:
        with self.get_executor() as executor:
            results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        checks = {check_name(result.check): self.entry(result) for result in results}
        failed = [name for name, entry in checks.items() if not entry["ok"]]
        body = {"status": "failing" if failed else "ok", "failed": failed, "checks": checks}
        return body, 503 if failed else 200

    @staticmethod
    def entry(result: HealthCheckResult) -> dict[str, Any]:
        entry: dict[str, Any] = {"ok": result.error is None}
        if result.error is not None:
            entry["error"] = str(result.error)
        entry.update(getattr(result.check, "report", {}))
        entry["seconds"] = round(result.time_taken, 3)
        return entry
