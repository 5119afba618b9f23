"""`make bench` (its webhook part): what Todoist's webhooks cost us.

On a throwaway SQLite file (or DATABASE_URL) and the in-process simulator (NOT Todoist):

- the endpoint: 1,000 signed deliveries paced at 100 a second through Django's full request
  stack (a third people's edits that queue a reconcile, a third echoes of our own writes, a
  third repeats), each timed; target p95 < 50 ms;
- an echo: deliveries whose item is what we pushed; target 0 Todoist requests and 0 runs;
- an idle OAuth user: 24 hours of the safety net's sweeps (every TODOIST_SAFETY_NET_MINUTES)
  on a fake clock (48 h), each run executed against the simulator; target at most 1 request
  per 24 h.

Prints a Markdown table (the BENCHMARKS.md "Webhooks" section); exits 1 when a target fails.
Not measured here: the end-to-end time from a person's edit to local truth restored through
the real worker (see BENCHMARKS.md).

    python -m scripts.bench_webhooks
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import requests

from scripts.bench import _prepare_environment, _remove_sqlite

SECRET = "bench-client-secret"
RATE = 100.0
# Two days: the backstop's read falls once inside them (at most 1 request in any 24 hours).
HOURS = 48
DELIVERIES = 1000


def signed(event: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
    return body, base64.b64encode(digest).decode()


def main() -> int:
    created = _prepare_environment()
    try:
        return run_bench()
    finally:
        if created is not None:
            _remove_sqlite(created)


def run_bench() -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client, override_settings
    from django.utils import timezone

    from planner.models import Task
    from todoist_sim import SimConfig, Simulator
    from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap
    from todoist_sync.services import sync_run_execute
    from todoist_sync.services.safety_net import safety_net_slice
    from todoist_sync.tokens import encrypt_token

    call_command("migrate", verbosity=0)
    rows: list[tuple[str, str, str, bool]] = []
    token = f"bench-webhooks-{secrets.token_hex(8)}"
    with contextlib.ExitStack() as cleanup:
        sim = cleanup.enter_context(Simulator(SimConfig(seed=3), {"bench": token}))
        cleanup.enter_context(
            override_settings(
                TODOIST_API_URL=sim.url,
                TODOIST_CLIENT_ID="bench-client",
                TODOIST_CLIENT_SECRET=SECRET,
                TODOIST_OAUTH_REDIRECT_URL="https://bench.invalid/todoist/oauth/callback",
                TODOIST_TOKEN_ENCRYPTION_KEY="ib0rQPGSb9zhCwax9j4jvwvqlUKXI0n4RaqmE4cFiNM=",
                TODOIST_RATE_LIMIT_REQUESTS=1_000_000,
                ALLOWED_HOSTS=["testserver"],
                SECURE_SSL_REDIRECT=False,
            )
        )
        user = get_user_model().objects.create(username=f"bench-webhooks-{os.getpid()}")
        todoist_user = requests.get(
            f"{sim.url}/user", headers={"Authorization": f"Bearer {token}"}, timeout=10
        ).json()["id"]
        TodoistCredential.objects.create(
            user=user,
            token_encrypted=encrypt_token(token),
            token_last4=token[-4:],
            kind="oauth",
            todoist_user_id=todoist_user,
        )
        Task.objects.bulk_create(Task(user=user, title=f"Task {i}") for i in range(20))
        first = sync_run_execute(user_id=user.pk, trigger="api")
        assert first.failed == 0, "initial push failed"
        sync_run_execute(user_id=user.pk, trigger="safety-net", reconcile=True)
        items = {t["id"]: t for t in sim.tasks("bench")}
        mapped = list(TodoistTaskMap.objects.filter(user=user))

        def event(item: dict[str, Any]) -> dict[str, Any]:
            return {
                "event_name": "item:updated",
                "user_id": todoist_user,
                "event_data": item,
                "initiator": {"id": todoist_user},
                "version": "10",
                "triggered_at": "2025-01-01T00:00:00Z",
            }

        client = Client()

        def deliver(body: bytes, signature: str, delivery_id: str) -> tuple[int, float]:
            started = time.perf_counter()
            answer = client.post(
                "/todoist/webhooks",
                data=body,
                content_type="application/json",
                headers={"X-Todoist-Hmac-SHA256": signature, "X-Todoist-Delivery-ID": delivery_id},
            )
            return answer.status_code, time.perf_counter() - started

        # -- an echo costs nothing ---------------------------------------------------------
        before = sim.stats()["requests_total"]
        runs_before = SyncRun.objects.count()
        for n, mapping in enumerate(mapped):
            body, signature = signed(event(items[mapping.todoist_task_id]))
            deliver(body, signature, f"echo-{n}")
        echo_requests = sim.stats()["requests_total"] - before
        echo_runs = SyncRun.objects.count() - runs_before
        rows.append(
            (
                f"echo of our own write ({len(mapped)} deliveries)",
                f"{echo_requests} Todoist requests, {echo_runs} runs queued",
                "0 requests",
                echo_requests == 0 and echo_runs == 0,
            )
        )

        # -- the endpoint at 100 deliveries a second -----------------------------------------
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        # The reconciles those deliveries queue are not run here: the endpoint alone is timed.
        with mock.patch("todoist_sync.services.runs.queue_job"):
            started = time.perf_counter()
            for n in range(DELIVERIES):
                mapping = mapped[n % len(mapped)]
                item = dict(items[mapping.todoist_task_id])
                kind = n % 3
                if kind == 0:
                    item["content"] = f"edited {n}"
                body, signature = signed(event(item))
                delivery_id = f"load-{n - 1 if kind == 2 else n}"
                status, seconds = deliver(body, signature, delivery_id)
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(seconds)
                wait = started + (n + 1) / RATE - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            elapsed = time.perf_counter() - started
        p95 = statistics.quantiles(latencies, n=100)[94] * 1000
        p50 = statistics.median(latencies) * 1000
        rows.append(
            (
                f"endpoint, {DELIVERIES} deliveries at {DELIVERIES / elapsed:.0f}/s",
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(latencies) * 1000:.1f} ms; "
                f"statuses {statuses}",
                "p95 < 50 ms",
                p95 < 50 and set(statuses) == {200},
            )
        )
        SyncRun.objects.filter(state=SyncRun.State.QUEUED).delete()

        # -- an idle OAuth user over 24 hours, on a fake clock --------------------------------
        def run_inline(run: SyncRun) -> None:
            sync_run_execute(user_id=run.user_id, job_id=run.job_id, trigger=run.trigger)

        base = timezone.now()
        reconciled = sync_run_execute(user_id=user.pk, trigger="safety-net", reconcile=True)
        assert reconciled.reconciled_at is not None
        before = sim.stats()["requests_total"]
        interval = timedelta(minutes=60)
        sweeps = 0
        with mock.patch("todoist_sync.services.runs.queue_job", run_inline):
            clock = base
            while clock < base + timedelta(hours=HOURS):
                clock += interval
                with mock.patch("django.utils.timezone.now", return_value=clock):
                    safety_net_slice(user_ids=[user.pk])
                sweeps += 1
        idle_requests = sim.stats()["requests_total"] - before
        rows.append(
            (
                f"idle OAuth user, {HOURS} h ({sweeps} safety-net runs, fake clock)",
                f"{idle_requests} Todoist request(s): {idle_requests * 24 / HOURS:g} per 24 h",
                "at most 1 per 24 h",
                idle_requests * 24 / HOURS <= 1,
            )
        )
    print("| scenario | measured | target | result |")
    print("| --- | --- | --- | --- |")
    for scenario, measured, target, ok in rows:
        print(f"| {scenario} | {measured} | {target} | {'PASS' if ok else 'FAIL'} |")
    sys.stdout.flush()
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
