"""`make bench`, second part: the safety-net sweep over 1,000 users, in real processes.

What it sets up, through the process harness (scripts/harness), on a throwaway database (a
SQLite file; a temporary database on DATABASE_URL's server when that is PostgreSQL):

- the simulator (NOT Todoist) with one account per user token, each limited to 1,000 requests
  in 15 minutes (Todoist's limit), 20 ms of latency per request;
- 1,000 users, each with a token of their own stored encrypted (`encrypt_token`, as the token
  endpoint stores it) and 20 tasks, all synced once through a worker (the pre-sync, not
  measured: no latency, 4 worker processes);
- 2 tasks of each user changed with `QuerySet.update()`: no signal, so only the sweep sees them;
- a few users whose token the simulator throttles (their window used up beforehand), at the
  start of every odd slice of the sweep, where a run that blocked its worker would delay the
  users behind it;
- one real `qcluster` (Q_WORKERS=2) on the ORM broker, TODOIST_SAFETY_NET_MINUTES=5.

Then it lets the sweep's schedule fire (its next run set to now) and reports: the sweep's wall
time (sweep start to the last user's run finished), requests per user, the delay from the sweep's
start to each run's start, the wait of each run in the queue (its slice queued it -> a worker
started it), how long a throttled user's run holds its worker, and duplicates (Todoist tasks per
local task at the simulator). Exits 1 when a target fails. 6 to 8 minutes, 5 of them the sweep
itself: it spreads the users over its interval by design.

    python -m scripts.bench_sweep                               # what `make bench` runs
    python -m scripts.bench_sweep --users 100 --minutes 1       # a quick look (~1 min)
    python -m scripts.bench_sweep --markdown /tmp/sweep.md      # what BENCHMARKS.md shows
    DATABASE_URL=postgres://... python -m scripts.bench_sweep   # on PostgreSQL
"""

from __future__ import annotations

import argparse
import ast
import datetime
import logging
import math
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from scripts.harness import SimProc, Stack, StackError, stack_env
from scripts.harness.database import throwaway_database

TASKS_PER_USER = 20
CHANGED_PER_USER = 2
CHANGE_SUFFIX = " (changed)"
FINISHED = ("succeeded", "failed", "deferred")
PRESYNC = "bench-presync"
SWEEP = "safety-net"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The throwaway database


# --------------------------------------------------------------------------------------------
# Setting up


def seed_users(tokens: list[str]) -> list[int]:
    """One user a token, its token stored encrypted, and TASKS_PER_USER tasks each (bulk: no
    signal). Answers the user ids in token order."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from planner.models import Task
    from todoist_sync.models import TodoistCredential
    from todoist_sync.tokens import encrypt_token

    user_model = get_user_model()
    names = [f"sweep-{n:04d}" for n in range(len(tokens))]
    user_model.objects.bulk_create(
        [user_model(username=name, password=make_password(None)) for name in names],
        batch_size=500,
    )
    ids = dict(user_model.objects.filter(username__in=names).values_list("username", "id"))
    user_ids = [ids[name] for name in names]
    now = timezone.now()
    TodoistCredential.objects.bulk_create(
        [
            TodoistCredential(
                user_id=user_id,
                token_encrypted=encrypt_token(token),
                token_last4=token[-4:],
                verified_at=now,
            )
            for user_id, token in zip(user_ids, tokens, strict=True)
        ],
        batch_size=500,
    )
    today = timezone.localdate()
    Task.objects.bulk_create(
        [
            Task(
                user_id=user_id,
                title=f"Task {i} of user {n}",
                status="blocked" if i % 5 == 0 else "open",
                priority=1 + i % 4,
                due_date=today + datetime.timedelta(days=i) if i % 2 == 0 else None,
            )
            for n, user_id in enumerate(user_ids)
            for i in range(TASKS_PER_USER)
        ],
        batch_size=1000,
    )
    return user_ids


def hold_sweep(*, at: datetime.datetime) -> None:
    """Move the sweep's next run (installed by migrate) to `at`."""
    from django_q.models import Schedule

    from todoist_sync.services.safety_net import SWEEP_SCHEDULE

    if not Schedule.objects.filter(name=SWEEP_SCHEDULE).update(next_run=at):
        raise StackError("migrate installed no safety-net sweep schedule")


def presync(user_ids: list[int], *, stack: Stack, timeout: float) -> float:
    """One run of every user through the worker, so the sweep only has the changes to send."""
    from django.contrib.auth import get_user_model

    from todoist_sync.models import SyncRun
    from todoist_sync.services import sync_enqueue

    started = time.monotonic()
    users = get_user_model().objects.in_bulk(user_ids)
    for user_id in user_ids:
        sync_enqueue(user=users[user_id], trigger=PRESYNC)
    runs = SyncRun.objects.filter(trigger=PRESYNC)
    while runs.exclude(state__in=FINISHED).exists():
        stack.check_alive()
        if time.monotonic() - started > timeout:
            raise StackError(f"the pre-sync did not finish in {timeout:.0f} s\n{stack.tails()}")
        time.sleep(1)
    bad = runs.exclude(state="succeeded", created=TASKS_PER_USER).count()
    if bad:
        raise StackError(f"{bad} pre-sync runs did not create their {TASKS_PER_USER} tasks")
    return time.monotonic() - started


def throttle(sim: SimProc, tokens: list[str], *, latency_ms: float) -> int:
    """Use up these tokens' request windows at the simulator (GET /user until it answers 429);
    answers the requests sent."""
    sim.configure(latency_ms=0)

    def burn(token: str) -> int:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        for sent in range(1, 100_000):
            if session.get(f"{sim.url}/user", timeout=10).status_code == 429:
                return sent
        raise StackError("the simulator never throttled a token: is request_limit set?")

    try:
        with ThreadPoolExecutor(4) as pool:
            return sum(pool.map(burn, tokens))
    finally:
        sim.configure(latency_ms=latency_ms)


def change_tasks(user_ids: list[int]) -> dict[int, str]:
    """Change CHANGED_PER_USER tasks of each user with QuerySet.update() (no signal); answers
    the changed task ids and their new titles."""
    from django.db.models import F, Value
    from django.db.models.functions import Concat

    from planner.models import Task

    chosen: list[int] = []
    per_user: dict[int, int] = {}
    rows = Task.objects.filter(user_id__in=user_ids).order_by("user_id", "id")
    for task_id, user_id in rows.values_list("id", "user_id"):
        if per_user.get(user_id, 0) < CHANGED_PER_USER:
            per_user[user_id] = per_user.get(user_id, 0) + 1
            chosen.append(task_id)
    Task.objects.filter(id__in=chosen).update(title=Concat(F("title"), Value(CHANGE_SUFFIX)))
    return dict(Task.objects.filter(id__in=chosen).values_list("id", "title"))


def planned_slices(user_ids: list[int], minutes: int) -> list[list[int]]:
    """How the sweep will cut the users (safety_net.py: one slice a scheduler tick), to put the
    throttled users at the start of slices; the report reads the real slices."""
    from todoist_sync.services.safety_net import SCHEDULER_TICK_SECONDS

    ids = sorted(user_ids)
    total = len(ids)
    count = min(total, max(1, minutes * 60 // SCHEDULER_TICK_SECONDS))
    return [ids[n * total // count : (n + 1) * total // count] for n in range(count)]


# --------------------------------------------------------------------------------------------
# The measured sweep


@dataclass
class Sweep:
    started: datetime.datetime
    slices: list[list[int]]  # user ids, slice 0 first
    planned: list[float]  # seconds after the start each slice was due
    runs: list[dict[str, Any]] = field(default_factory=list)
    # Throttled users' follow-up runs: seconds from their deferred run's end to the follow-up.
    follow_ups: dict[int, float] = field(default_factory=dict)


def fire_and_wait(user_ids: list[int], *, stack: Stack, minutes: int) -> Sweep:
    """Let the sweep's schedule fire now (at the scheduler's next tick), read its slices, and
    wait for a finished sweep run of every user."""
    from django.utils import timezone
    from django_q.models import Schedule, Task

    from todoist_sync.models import SyncRun
    from todoist_sync.services.safety_net import SLICE_SCHEDULE_PREFIX, SWEEP_FUNC

    hold_sweep(at=timezone.now())
    fired = time.monotonic()
    log("sweep: schedule due now; waiting for the scheduler's tick (up to 30 s)")
    while True:
        task = Task.objects.filter(func=SWEEP_FUNC).order_by("-started").first()
        if task is not None:
            break
        stack.check_alive()
        if time.monotonic() - fired > 90:
            raise StackError(f"the sweep did not run within 90 s\n{stack.tails()}")
        time.sleep(0.2)
    # The later slices are ONCE schedules, due every step of the interval; read them before
    # the first fires (the scheduler deletes a ONCE schedule when it fires).
    later = {
        int(name.removeprefix(SLICE_SCHEDULE_PREFIX)): (ast.literal_eval(args)[0], next_run)
        for name, args, next_run in Schedule.objects.filter(
            name__startswith=SLICE_SCHEDULE_PREFIX
        ).values_list("name", "args", "next_run")
    }
    in_later = {user_id for ids, _ in later.values() for user_id in ids}
    slices = [[u for u in sorted(user_ids) if u not in in_later]]
    planned = [0.0]
    for number in sorted(later):
        ids, due = later[number]
        slices.append(sorted(ids))
        planned.append((due - task.started).total_seconds())
    log(
        f"sweep: started; {len(slices)} slices, one every "
        f"{planned[1] if len(planned) > 1 else 0:.0f} s"
    )

    runs = SyncRun.objects.filter(trigger=SWEEP, queued_at__gte=task.started)
    deadline = time.monotonic() + minutes * 60 + 120
    last_note = 0.0
    while True:
        done = runs.filter(state__in=FINISHED).values("user_id").distinct().count()
        if done >= len(user_ids):
            break
        stack.check_alive()
        if time.monotonic() > deadline:
            raise StackError(f"only {done} of {len(user_ids)} users' sweep runs finished")
        if time.monotonic() - last_note > 30:
            elapsed = (timezone.now() - task.started).total_seconds()
            log(f"sweep: {elapsed:5.0f} s, {done} of {len(user_ids)} users' runs finished")
            last_note = time.monotonic()
        time.sleep(1)
    fields = ("user_id", "state", "requests", "updated", "queued_at", "started_at", "finished_at")
    return Sweep(
        started=task.started, slices=slices, planned=planned, runs=list(runs.values(*fields))
    )


# --------------------------------------------------------------------------------------------
# Figures


def follow_ups(sweep: Sweep, user_ids: set[int]) -> dict[int, float]:
    """The follow-up runs these users' deferred runs scheduled (enqueue.py `schedule_sync`): seconds
    from the run's end to the follow-up, by user."""
    from django_q.models import Schedule

    ended = {r["user_id"]: r["finished_at"] for r in sweep.runs}
    due = dict(
        Schedule.objects.filter(name__in=[f"todoist-sync-user-{u}" for u in user_ids]).values_list(
            "name", "next_run"
        )
    )
    return {
        u: (due[f"todoist-sync-user-{u}"] - ended[u]).total_seconds()
        for u in user_ids
        if f"todoist-sync-user-{u}" in due
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"p50 {percentile(values, 0.5):.2f} s, p95 {percentile(values, 0.95):.2f} s, "
        f"max {max(values):.2f} s"
    )


def duplicates_at_simulator(
    sim: SimProc, tokens: dict[int, str], changed: dict[int, str]
) -> dict[str, int]:
    """Todoist tasks per local task, from the simulator's state and the mappings: extra live
    tasks in an account (duplicates), mapped ids missing there, and changed titles arrived."""
    from planner.models import Task
    from todoist_sync.models import TodoistTaskMap

    state = sim.state()["tasks"]
    mapped: dict[int, set[str]] = {}
    for user_id, todoist_id in TodoistTaskMap.objects.values_list(
        "local_task__user_id", "todoist_task_id"
    ):
        mapped.setdefault(user_id, set()).add(todoist_id)
    owners = dict(Task.objects.filter(id__in=list(changed)).values_list("id", "user_id"))
    by_task = dict(TodoistTaskMap.objects.values_list("local_task_id", "todoist_task_id"))
    duplicates = missing = 0
    contents: dict[str, str] = {}
    for user_id, token in tokens.items():
        live = [t for t in state[sim.account(token)] if not t["is_deleted"]]
        duplicates += max(0, len(live) - TASKS_PER_USER)
        duplicates += sum(n - 1 for n in Counter(t["content"] for t in live).values() if n > 1)
        missing += len(mapped.get(user_id, set()) - {t["id"] for t in live})
        contents.update({t["id"]: t["content"] for t in live})
    arrived = {
        task_id for task_id, title in changed.items() if contents.get(by_task[task_id]) == title
    }
    return {
        "duplicates": duplicates,
        "missing": missing,
        "changes_arrived": len(arrived),
        "users_with_changes_arrived": len({owners[task_id] for task_id in arrived}),
    }


def report(
    args: argparse.Namespace,
    sweep: Sweep,
    throttled: set[int],
    sim_delta: dict[str, Any],
    verdict: dict[str, int],
    setup: dict[str, float],
    machine: dict[str, str],
) -> tuple[str, bool]:
    interval = args.minutes * 60
    runs = sweep.runs
    start = sweep.started
    wall = max((r["finished_at"] - start).total_seconds() for r in runs)
    to_start = [(r["started_at"] - start).total_seconds() for r in runs]
    waits = {r["user_id"]: (r["started_at"] - r["queued_at"]).total_seconds() for r in runs}
    durations = {r["user_id"]: (r["finished_at"] - r["started_at"]).total_seconds() for r in runs}
    slice_of = {u: n for n, ids in enumerate(sweep.slices) for u in ids}
    hit_slices = {slice_of[u] for u in throttled}
    # Slice 0 is left out of the comparison: the sweep job itself runs before it.
    compared = {u: w for u, w in waits.items() if u not in throttled and slice_of[u] > 0}
    behind = [w for u, w in compared.items() if slice_of[u] in hit_slices]
    clear = [w for u, w in compared.items() if slice_of[u] not in hit_slices]
    states = Counter(r["state"] for r in runs)
    others = [r for r in runs if r["user_id"] not in throttled]
    requests_run = sum(r["requests"] for r in runs)
    users = len(runs)
    held = [d for u, d in durations.items() if u in throttled]
    ordinary = [d for u, d in durations.items() if u not in throttled]
    # A throttled run that waited out its Retry-After in the worker would hold it for minutes;
    # one that defers at once takes no longer than an ordinary run (or a second, whichever is
    # more: both are a request and a few writes).
    hold_limit = max([1.0, *ordinary])
    deferred = [r for r in runs if r["user_id"] in throttled and r["state"] == "deferred"]
    resumes = list(sweep.follow_ups.values())
    checks = [
        (
            "Sweep finishes within its interval",
            f"{wall:.1f} s (start to the last run finished)",
            f"<= {interval} s",
            wall <= interval,
        ),
        (
            "Duplicates (Todoist tasks per local task > 1)",
            str(verdict["duplicates"]),
            "0",
            verdict["duplicates"] == 0 and verdict["missing"] == 0,
        ),
        (
            "Users not throttled: run succeeded, both changes in Todoist",
            f"{verdict['users_with_changes_arrived']} of {len(others)}; "
            f"{sum(r['state'] == 'succeeded' for r in others)} succeeded",
            f"{len(others)}",
            verdict["users_with_changes_arrived"] == len(others)
            and all(r["state"] == "succeeded" for r in others),
        ),
        (
            "Throttled users: run deferred at the 429 (not failed), follow-up scheduled",
            f"{len(deferred)} deferred, {len(resumes)} follow-ups"
            + (f" {min(resumes):.0f}-{max(resumes):.0f} s later" if resumes else ""),
            f"{len(throttled)}",
            len(deferred) == len(resumes) == len(throttled),
        ),
        (
            "A throttled run does not hold its worker (run time, max)",
            f"{max(held, default=0):.2f} s (ordinary runs: {max(ordinary, default=0):.2f} s max)",
            f"<= {hold_limit:.2f} s",
            max(held, default=0) <= hold_limit,
        ),
    ]
    ok = all(passed for *_, passed in checks)
    out = [
        f"## Safety-net sweep: {users:,} users, one token each",
        "",
        "### Machine",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        f"- Command: `{' '.join(['python -m scripts.bench_sweep', *args.argv])}`",
        "",
        "### Setup",
        "",
        f"- {users} users, each with their own token (stored encrypted), {TASKS_PER_USER} tasks "
        f"each, {CHANGED_PER_USER} of them changed with `QuerySet.update()` after the pre-sync",
        f"- simulator: {args.latency_ms:.0f} ms latency; per token {args.limit} requests per "
        f"{args.window:.0f} s; {len(throttled)} tokens throttled beforehand "
        f"({setup['burned']:.0f} requests), the first 2 users of every odd slice",
        f"- one `qcluster`, Q_WORKERS=2, ORM broker; TODOIST_SAFETY_NET_MINUTES={args.minutes}",
        f"- seeding {setup['seed']:.1f} s; pre-sync of every user through the worker "
        f"{setup['presync']:.1f} s",
        "",
        "### Figures",
        "",
        "| Figure | Value |",
        "|---|---|",
        f"| Sweep wall time (sweep start to the last run finished) | {wall:.1f} s |",
        f"| Slices | {len(sweep.slices)}, due every "
        f"{sweep.planned[1] if len(sweep.planned) > 1 else 0:.0f} s |",
        f"| Runs | {users}: " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())) + " |",
        f"| Requests (simulator) | {sim_delta['requests']}, {sim_delta['requests'] / users:.2f} "
        f"per user; `SyncRun.requests` {requests_run}; 429s {sim_delta['429']} |",
        "| ... by kind | "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(sim_delta["by_kind"].items()))
        + " |",
        f"| Delay, sweep start -> run start | {spread(to_start)} |",
        f"| Queue wait (slice queued it -> a worker started it), all runs | "
        f"{spread(list(waits.values()))} |",
        f"| ... users in slices with throttled users ({len(behind)}) | {spread(behind)} |",
        f"| ... users in slices without, slice 0 aside ({len(clear)}) | {spread(clear)} |",
        f"| Run time, users not throttled | "
        f"{spread([d for u, d in durations.items() if u not in throttled])} |",
        f"| Run time, throttled users | "
        f"{spread([d for u, d in durations.items() if u in throttled])} |",
        f"| Duplicates / mapped tasks missing at the simulator | "
        f"{verdict['duplicates']} / {verdict['missing']} |",
        f"| Changes in Todoist after the sweep | {verdict['changes_arrived']} of "
        f"{users * CHANGED_PER_USER} (the throttled users' wait for their follow-up) |",
        "",
        "### Slices",
        "",
        "| Slice | Users | Throttled | Due (s after start) | Queued (s) | Last run finished (s) "
        "| Queue wait p95 (s) |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    by_user = {r["user_id"]: r for r in runs}
    for number, ids in enumerate(sweep.slices):
        mine = [by_user[u] for u in ids if u in by_user]
        if not mine:
            continue
        queued = min((r["queued_at"] - start).total_seconds() for r in mine)
        last = max((r["finished_at"] - start).total_seconds() for r in mine)
        out.append(
            f"| {number} | {len(ids)} | {sum(u in throttled for u in ids)} | "
            f"{sweep.planned[number]:.0f} | {queued:.1f} | {last:.1f} | "
            f"{percentile([waits[r['user_id']] for r in mine], 0.95):.2f} |"
        )
    out += ["", "### Targets", "", "| Target | Figure | Limit | Result |", "|---|---|---|---|"]
    out += [
        f"| {name} | {figure} | {limit} | {'PASS' if passed else '**FAIL**'} |"
        for name, figure, limit, passed in checks
    ]
    return "\n".join(out) + "\n", ok


# --------------------------------------------------------------------------------------------
# Main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=5, help="TODOIST_SAFETY_NET_MINUTES")
    parser.add_argument("--throttled", type=int, default=10, help="users throttled beforehand")
    parser.add_argument("--limit", type=int, default=1000, help="simulator requests per token")
    parser.add_argument("--window", type=float, default=900.0, help="... per this many seconds")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--markdown", metavar="PATH", help="also write the report to PATH")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    args.argv = argv
    if args.users < 2 or args.minutes < 1 or not 0 <= args.throttled < args.users:
        _parser().error("needs 2 users or more, 1 minute or more, fewer throttled than users")
    with tempfile.TemporaryDirectory(prefix="planner-sweep-") as tmp:
        with throwaway_database(Path(tmp), "sweep") as database_url:
            return _run(args, Path(tmp), database_url)


def _run(args: argparse.Namespace, tmp: Path, database_url: str) -> int:
    from cryptography.fernet import Fernet

    env = stack_env(
        database_url=database_url,
        todoist_token="",  # no shared token: every user syncs with their own
        extra={
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "Q_WORKERS": "2",
            "TODOIST_SAFETY_NET_MINUTES": str(args.minutes),
            "TODOIST_TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        },
    )
    # This process seeds, changes and reads the same database with the same settings.
    os.environ.update(env)
    import django

    django.setup()
    # The stack's processes log django-q2 at INFO (the harness waits for a line); not this one.
    logging.getLogger("django-q").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.utils import timezone

    from scripts.bench import machine_info

    call_command("migrate", verbosity=0)
    tokens = [f"sweep-{n:04d}-{secrets.token_hex(8)}" for n in range(args.users)]
    setup: dict[str, float] = {}
    with Stack(env=env, log_dir=tmp / "logs") as stack:
        sim = stack.start_simulator(tokens=tokens, latency_ms=args.latency_ms, verbose=False)
        sim.configure(request_limit=args.limit, limit_window_seconds=args.window)
        started = time.monotonic()
        user_ids = seed_users(tokens)
        setup["seed"] = time.monotonic() - started
        log(f"seeded {len(user_ids)} users, {len(user_ids) * TASKS_PER_USER} tasks")
        # Not during the pre-sync: the sweep fires when this bench says.
        hold_sweep(at=timezone.now() + datetime.timedelta(days=1))
        # The pre-sync is not measured: no latency, and more workers than the sweep gets.
        sim.configure(latency_ms=0)
        worker = stack.start_qcluster(name="qcluster-presync", env={"Q_WORKERS": "4"})
        stack.wait_ready([worker], timeout=60)
        setup["presync"] = presync(user_ids, stack=stack, timeout=900)
        worker.stop()
        sim.configure(latency_ms=args.latency_ms)
        log(f"pre-sync: every user synced once in {setup['presync']:.1f} s")
        worker = stack.start_qcluster()  # the measured one: Q_WORKERS=2
        stack.wait_ready([worker], timeout=60)

        slices = planned_slices(user_ids, args.minutes)
        # Slice 0 also runs the sweep job itself: the odd slices get them, the even ones
        # after 0 are the comparison.
        hit = [ids[:2] for ids in slices[1::2]] or [slices[0][:2]]
        throttled = {u for ids in hit for u in ids}
        while len(throttled) > args.throttled:
            throttled.remove(max(throttled))
        token_of = dict(zip(user_ids, tokens, strict=True))
        setup["burned"] = throttle(
            sim, [token_of[u] for u in sorted(throttled)], latency_ms=args.latency_ms
        )
        log(f"throttled {len(throttled)} tokens ({setup['burned']:.0f} requests)")
        changed = change_tasks(user_ids)
        log(f"changed {len(changed)} tasks with QuerySet.update()")

        before = sim.stats()
        sweep = fire_and_wait(user_ids, stack=stack, minutes=args.minutes)
        after = sim.stats()
        worker.stop()  # nothing more reaches the simulator while it is read
        delta = {
            "requests": after["requests_total"] - before["requests_total"],
            "429": after["responses_429"] - before["responses_429"],
        }
        kinds = {
            kind: n - before["requests_by_kind"].get(kind, 0)
            for kind, n in after["requests_by_kind"].items()
        }
        delta["by_kind"] = {kind: n for kind, n in kinds.items() if n}
        verdict = duplicates_at_simulator(sim, token_of, changed)
        sweep.follow_ups = follow_ups(sweep, throttled)
    machine = machine_info()
    machine["Simulator"] = (
        f"todoist_sim in its own process on loopback, {args.latency_ms:.0f} ms latency per request"
    )
    text, ok = report(args, sweep, throttled, delta, verdict, setup, machine)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
