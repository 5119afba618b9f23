"""What operators watch: the sync's Prometheus figures, and the run's ids on its log lines.

- Counters, counted where the sync sends (`services/transport.py`): Todoist requests by outcome
  (`ok`, or the error's kind), 429 answers, and the waits for the request budget. They count in
  the process that sends, a qcluster worker: for the web process's /metrics to add them up, run
  both with prometheus_client's multiprocess mode (docs/operations.md).
- `SyncCollector`: figures read from the database at each scrape (runs and mappings by state, the
  age of the oldest pending mapping, the django-q2 queue's depth). The host registers it in the
  registry its /metrics view serves.
- `log_context` and `RunLogFilter`: the engine sets the run's ids for its duration, and the filter
  puts them on each log record (`job_id`, `run_id`, `user_id`) for a JSON formatter to include.

prometheus_client is optional for this app: without it the counters do nothing and
`SyncCollector` yields nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from todoist_sync.exceptions import TodoistRateLimitedError

try:
    from prometheus_client import Counter
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
except ImportError:  # a reusable app: metrics are optional
    Counter = CounterMetricFamily = GaugeMetricFamily = None

logger = logging.getLogger(__name__)


def _counter(name: str, documentation: str, labelnames: tuple[str, ...] = ()) -> Any:
    return Counter(name, documentation, labelnames) if Counter is not None else None


# prometheus_client adds the `_total` suffix of counters.
REQUESTS = _counter(
    "todoist_sync_todoist_requests",
    "Requests sync runs sent to Todoist, by outcome: ok, or the error's kind.",
    ("outcome",),
)
RATE_LIMITED = _counter(
    "todoist_sync_todoist_rate_limited", "Answers 429 (too many requests) from Todoist."
)
BUDGET_WAITS = _counter(
    "todoist_sync_budget_waits", "Pauses of a run waiting for its token's request budget."
)
BUDGET_WAIT_SECONDS = _counter(
    "todoist_sync_budget_wait_seconds", "Seconds runs slept waiting for the request budget."
)
if REQUESTS is not None:
    REQUESTS.labels("ok")  # shown from the start, at 0, so that rate() has a series


def outcome(error: BaseException | None) -> str:
    """`ok`, or the error's kind from its class: TodoistRateLimitedError -> `rate_limited`."""
    if error is None:
        return "ok"
    kind = type(error).__name__.removeprefix("Todoist").removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower() or "error"


def request_answered(error: BaseException | None) -> None:
    """One request to Todoist ended: answered (`error` None) or failed with `error`."""
    if REQUESTS is None:
        return
    REQUESTS.labels(outcome(error)).inc()
    if isinstance(error, TodoistRateLimitedError):
        RATE_LIMITED.inc()


def budget_waited(seconds: float) -> None:
    """A run slept `seconds` for its request budget."""
    if BUDGET_WAITS is None:
        return
    BUDGET_WAITS.inc()
    BUDGET_WAIT_SECONDS.inc(seconds)


class SyncCollector:
    """The sync's state, read from the database at each scrape: a few aggregate queries and one
    look at the queue, whatever the table sizes."""

    def describe(self) -> list:
        return []  # registering it must not query the database

    def collect(self) -> Iterator[Any]:
        if GaugeMetricFamily is None:
            return
        # Here, not at import: the module is imported while logging is configured.
        from django.db.models import Count, Min, Q
        from django.utils import timezone

        from todoist_sync.models import SyncRun, TodoistTaskMap

        runs = GaugeMetricFamily(
            "todoist_sync_runs", "Sync runs recorded, by state.", labels=["state"]
        )
        counts = {
            row["state"]: row["n"]
            for row in SyncRun.objects.order_by().values("state").annotate(n=Count("id"))
        }
        for state in SyncRun.State.values:
            runs.add_metric([state], counts.get(state, 0))
        yield runs

        State = TodoistTaskMap.SyncState
        figures = TodoistTaskMap.objects.aggregate(
            **{state: Count("id", filter=Q(sync_state=state)) for state in State.values},
            oldest_pending=Min("updated_at", filter=Q(sync_state=State.PENDING)),
        )
        mappings = GaugeMetricFamily(
            "todoist_sync_mappings", "Task mappings, by sync state.", labels=["state"]
        )
        for state in State.values:
            mappings.add_metric([state], figures[state])
        yield mappings
        oldest = figures["oldest_pending"]
        yield GaugeMetricFamily(
            "todoist_sync_oldest_pending_mapping_age_seconds",
            "Seconds since the oldest pending mapping last changed (0 when none is pending): "
            "a run that sends it, or finds its project full, changes it.",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )

        from todoist_sync.webhooks import webhook_counters

        hooks = webhook_counters()
        deliveries = CounterMetricFamily(
            "todoist_sync_webhooks",
            "Todoist webhook deliveries, by outcome: accepted (a reconcile queued), ignored (an "
            "echo of our own write, an unknown item or user, a repeat), rejected (bad signature).",
            labels=["outcome"],
        )
        for name in ("accepted", "ignored", "rejected"):
            deliveries.add_metric([name], hooks[name])
        yield deliveries
        last = hooks["last_at"]
        yield GaugeMetricFamily(
            "todoist_sync_webhook_last_received_timestamp_seconds",
            "When the last Todoist webhook delivery came (Unix time; 0: never).",
            value=last.timestamp() if last else 0.0,
        )

        from django_q.brokers import get_broker

        try:
            depth = get_broker().queue_size()
        except Exception as exc:  # the broker's own errors (Redis down): the rest still counts
            logger.warning("metrics: the django-q2 queue size is unknown (%s)", type(exc).__name__)
        else:
            yield GaugeMetricFamily(
                "django_q_queue_depth", "Jobs waiting in the django-q2 broker's queue.", value=depth
            )


# -- the run's ids on log records ------------------------------------------------------------

log_context: ContextVar[dict[str, Any] | None] = ContextVar(
    "todoist_sync_log_context", default=None
)


@contextmanager
def run_logging(*, job_id: str, run_id: int, user_id: int) -> Iterator[None]:
    """Within it, log records made on this thread carry the run's ids (with RunLogFilter)."""
    token = log_context.set({"job_id": job_id, "run_id": run_id, "user_id": user_id})
    try:
        yield
    finally:
        log_context.reset(token)


class RunLogFilter(logging.Filter):
    """Puts the current run's `job_id`, `run_id` and `user_id` on each record (a handler's
    filter: it never drops one). Outside a run it adds nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (log_context.get() or {}).items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True
