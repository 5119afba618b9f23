"""`make bench` (its reconcile part): what a reconcile costs at 10,000 mapped tasks.

On a throwaway SQLite file (or DATABASE_URL) and the in-process simulator (NOT Todoist) at 20 ms
of latency per request, one user's 10,000 tasks are pushed (as `scripts.bench` makes them: 97%
done, 2% open, 1% blocked), then reconciled:

- with 0% drift: nothing changed in Todoist (target: 1 request, the read);
- with 1% drift: a person renamed 40 tasks, changed the priority of 20, completed 20 open ones
  and removed our `blocked` label from 20 (target: 1 read plus at most 2 `/sync` writes, and
  every drifted task back as local data says).

Prints a Markdown table (the BENCHMARKS.md "Reconcile" section); exits 1 when a target fails.

    python -m scripts.bench_reconcile                  # what `make bench` runs
    python -m scripts.bench_reconcile --size 1000      # a quick look
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any

from scripts.bench import _prepare_environment, _remove_sqlite

LATENCY_MS = 20.0
# How many tasks of each kind a person changes per 10,000 (1% in all).
DRIFT_MIX = {"rename": 40, "priority": 20, "complete": 20, "unblock": 20}


@dataclass
class Row:
    scenario: str
    drifted: int
    requests: int
    reads: int
    writes: int
    seconds: float
    restored: int
    ok: bool


def make_tasks(user: Any, size: int) -> None:
    from planner.models import Task

    tasks = []
    for i in range(size):
        status = "open" if i % 100 < 2 else "blocked" if i % 100 == 2 else "done"
        tasks.append(
            Task(user=user, title=f"Task {i}", status=status, priority=1 + i % 4, chat_id=None)
        )
    Task.objects.bulk_create(tasks, batch_size=1000)


def drift(sim: Any, account: str, size: int) -> dict[str, str]:
    """A person's changes in Todoist, DRIFT_MIX scaled to `size`; answers the content each
    renamed task must have again, by Todoist id."""
    from todoist_sync.models import TodoistTaskMap

    scale = size / 10_000
    maps = list(TodoistTaskMap.objects.select_related("local_task").order_by("local_task_id"))
    by_status: dict[str, list[TodoistTaskMap]] = {"open": [], "blocked": [], "done": []}
    for mapping in maps:
        by_status[mapping.local_task.status].append(mapping)
    expected: dict[str, str] = {}
    step = max(1, len(maps) // max(1, round(DRIFT_MIX["rename"] * scale)))
    for mapping in maps[::step][: round(DRIFT_MIX["rename"] * scale)]:
        sim.person_task(account, mapping.todoist_task_id, content="renamed in Todoist")
        expected[mapping.todoist_task_id] = mapping.local_task.title
    done = by_status["done"]
    for mapping in done[1::7][: round(DRIFT_MIX["priority"] * scale)]:
        sim.person_task(
            account, mapping.todoist_task_id, priority=1 + mapping.pushed["priority"] % 4
        )
    for mapping in by_status["open"][1::3][: round(DRIFT_MIX["complete"] * scale)]:
        sim.person_task(account, mapping.todoist_task_id, "complete")
    for mapping in by_status["blocked"][1::2][: round(DRIFT_MIX["unblock"] * scale)]:
        sim.person_task(account, mapping.todoist_task_id, labels=[])
    return expected


def reconcile(sim: Any, user: Any) -> tuple[Any, dict[str, int], float]:
    from todoist_sync.services import sync_run_execute

    before = sim.stats()
    started = time.perf_counter()
    run = sync_run_execute(user_id=user.pk, trigger="safety-net", reconcile=True)
    seconds = time.perf_counter() - started
    after = sim.stats()
    kinds = {
        k: after["requests_by_kind"].get(k, 0) - before["requests_by_kind"].get(k, 0)
        for k in after["requests_by_kind"]
    }
    return run, {k: n for k, n in kinds.items() if n}, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_reconcile")
    parser.add_argument("--size", type=int, default=10_000, help="mapped tasks (default 10,000)")
    args = parser.parse_args(argv)
    created = _prepare_environment()
    try:
        return run_bench(args.size)
    finally:
        if created is not None:
            _remove_sqlite(created)


def run_bench(size: int) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import override_settings

    from todoist_sim import SimConfig, Simulator
    from todoist_sync.models import TodoistTaskMap

    call_command("migrate", verbosity=0)
    token = f"bench-reconcile-{secrets.token_hex(8)}"
    username = f"bench-reconcile-{os.getpid()}"
    rows: list[Row] = []
    with contextlib.ExitStack() as cleanup:
        sim = cleanup.enter_context(
            Simulator(SimConfig(latency_ms=LATENCY_MS, seed=5), {"bench": token})
        )
        cleanup.enter_context(
            override_settings(
                TODOIST_API_URL=sim.url,
                TODOIST_API_TOKEN=token,
                TODOIST_SHARED_TOKEN_USERS=username,  # the one user, opted in to the token
                TODOIST_RATE_LIMIT_REQUESTS=1_000_000,
                TODOIST_RATE_LIMIT_USER_REQUESTS=1_000_000,
                TODOIST_DRIFT_POLICY="restore",
            )
        )
        user = get_user_model().objects.create(username=username)
        make_tasks(user, size)
        print(f"pushing {size} tasks to the simulator...", file=sys.stderr, flush=True)
        from todoist_sync.services import sync_run_execute

        first = sync_run_execute(user_id=user.pk, trigger="api")
        if first.failed:
            print(f"the initial push failed for {first.failed} task(s)", file=sys.stderr)
            return 1
        # The first reconcile reads our own creates since the account's first read; measured
        # from the second on, as every periodic run after the first is.
        reconcile(sim, user)

        # For reference: the same unchanged run without a reconcile (a change's trigger).
        started = time.perf_counter()
        plain = sync_run_execute(user_id=user.pk, trigger="change")
        seconds = time.perf_counter() - started
        rows.append(Row("no reconcile", 0, plain.requests, 0, 0, seconds, 0, plain.requests == 0))

        run, kinds, seconds = reconcile(sim, user)
        ok = run.requests == 1 and run.drift_detected == 0 and kinds == {"sync": 1}
        rows.append(Row("0% drift", 0, run.requests, 1, run.requests - 1, seconds, 0, ok))

        expected = drift(sim, "bench", size)
        run, _, seconds = reconcile(sim, user)
        remote = {t["id"]: t for t in sim.tasks("bench")}
        back = all(remote[tid]["content"] == title for tid, title in expected.items())
        again = TodoistTaskMap.objects.filter(user=user).exclude(sync_state="synced").count()
        rows.append(
            Row(
                "1% drift",
                run.drift_detected,
                run.requests,
                1,
                run.requests - 1,
                seconds,
                run.drift_restored,
                run.requests <= 3 and back and again == 0 and run.failed == 0,
            )
        )
        after, _, _ = reconcile(sim, user)
        rows[-1].ok = rows[-1].ok and after.drift_detected == 0
    print(
        f"| scenario ({size:,} mapped tasks, {LATENCY_MS:.0f} ms latency) | drifted | restored "
        "| requests (read + writes) | time | target |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        target = {"no reconcile": "0 requests", "0% drift": "1 request"}.get(
            row.scenario, "1 read + at most 2 writes"
        )
        print(
            f"| {row.scenario} | {row.drifted} | {row.restored} | {row.requests} "
            f"({row.reads} + {row.writes}) | {row.seconds:.2f} s | {target}: "
            f"{'PASS' if row.ok else 'FAIL'} |"
        )
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
