"""Reliability (issue #6): runs of one user at once, and more than one machine.

Real processes on a temporary database of their own: a SQLite file, or a temporary PostgreSQL
database when DATABASE_URL is PostgreSQL (CI runs both). Nothing talks to Todoist.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from urllib.parse import urlsplit

import pytest

from tests.reliability_helpers import (
    assert_no_secret_anywhere,
    check_invariant,
    drive_until_quiet,
    failures_without_event,
    isolate_test_process,
    lease_problems,
    mixed_tasks,
    print_figures,
    reliability_stack,
    seed_tasks,
    sized,
    tracebacks,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _isolated(settings):
    isolate_test_process(settings)


# -- four runs of one user at once ---------------------------------------------------------------

CONCURRENT_TASKS = 150
RUNS = 4


def test_four_sync_processes_of_one_user_at_once(tmp_path, django_db_blocker):
    """Four `manage.py sync_todoist --user demo` processes started together. The first sync
    is stretched (batches of 5 commands, 0.5 s a request: about 18 s) so it outlasts the others'
    10 s wait for the lease: one run pushes everything, the others defer without a request."""
    from todoist_sync.models import SyncRun

    with reliability_stack(
        tmp_path,
        django_db_blocker,
        users={"demo": False},
        workers=0,
        latency_ms=500,
        extra_env={"TODOIST_BATCH_SIZE": "5"},
    ) as stack:
        account = stack.accounts["demo"]
        seed_tasks(stack.alias, account.user_id, mixed_tasks(CONCURRENT_TASKS, prefix="Race"))
        started = time.monotonic()
        procs = [
            stack.stack.spawn(f"sync-{i}", ["manage.py", "sync_todoist", "--user", "demo"])
            for i in range(RUNS)
        ]
        codes = [proc.popen.wait(180) for proc in procs]
        seconds = time.monotonic() - started

        runs = list(SyncRun.objects.using(stack.alias).filter(user_id=account.user_id))
        remote = stack.sim.tasks(account.sim_account)
        verdict = check_invariant(stack.alias, account, remote)
        stats = stack.sim.stats()
        holders = [r for r in runs if r.lease_holder]
        deferred = [r for r in runs if r.state == "deferred"]
        figures = {
            "database": urlsplit(stack.database_url).scheme,
            "tasks": CONCURRENT_TASKS,
            "eligible": verdict.eligible,
            "processes": RUNS,
            "exit_codes": codes,
            "runs": {r.job_id[:8]: (r.state, r.lease_holder == r.job_id, r.requests) for r in runs},
            "lease_holders": len(holders),
            "deferred_with_0_requests": sum(r.requests == 0 for r in deferred),
            "simulator_creates": stats["tasks_created"],
            "duplicates": verdict.duplicates,
            "lost": verdict.lost,
            "seconds": round(seconds, 1),
        }
        figures["scan"] = assert_no_secret_anywhere(stack, admin=False)
        print_figures("four runs at once", figures)

        assert codes == [0] * RUNS, stack.stack.tails(procs)
        # The runs that found the lease held asked its holder for one follow-up run (queued,
        # for a worker this test does not start), rather than waiting holding a worker.
        follow_ups = [r for r in runs if r.trigger == "follow-up"]
        assert len(follow_ups) <= 1 and all(r.state == "queued" for r in follow_ups)
        runs = [r for r in runs if r.trigger != "follow-up"]
        assert len(runs) == RUNS and all(r.trigger == "command" for r in runs)
        assert not lease_problems(stack.alias, account.user_id), lease_problems(
            stack.alias, account.user_id
        )
        verdict.assert_ok()
        assert stats["tasks_created"] == verdict.mapped == verdict.eligible
        # One run pushed everything; the contention was real: the others deferred.
        assert [r.created for r in runs if r.created] == [verdict.eligible]
        assert len(deferred) >= 1 and all(r.requests == 0 for r in deferred)
        assert sum(r.requests for r in runs) == stats["requests_total"]
        assert not tracebacks(stack), tracebacks(stack)


# -- more than one machine: Redis broker, PostgreSQL for the lease and the budget ----------------

MACHINE_USERS = 10
MACHINE_TASKS = sized(60, 300)


def _postgres(url: str) -> bool:
    return urlsplit(url).scheme in ("postgres", "postgresql", "pgsql", "psql")


def _redis_and_postgres() -> str:
    """REDIS_URL, or skip: these tests need Redis and PostgreSQL (CI's PostgreSQL run). The
    database of this pytest worker (config/settings_test.py): another worker's Redis tests
    queue in theirs."""
    from django.conf import settings

    redis_url = settings.REDIS_URL
    if not redis_url:
        pytest.skip("needs REDIS_URL: CI starts Redis (start_redis) for the PostgreSQL run")
    if not _postgres(os.environ.get("DATABASE_URL", "")):
        pytest.skip("needs DATABASE_URL on PostgreSQL: the lease and budget across machines")
    return redis_url


@contextlib.contextmanager
def _clean_redis_queue(redis_url: str):
    import redis

    queue_key = "django_q:planner:q"  # Q_CLUSTER name "planner"
    broker = redis.Redis.from_url(redis_url)
    broker.delete(queue_key)  # nothing left over from another run
    try:
        yield
    finally:
        broker.delete(queue_key)


def _redis_env(redis_url: str, **more: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,  # the web process enqueues, the workers dequeue: both on Redis
        "Q_WORKERS": "2",
        "TODOIST_RETRY_BASE_SECONDS": "0.2",
        "TODOIST_RETRY_CAP_SECONDS": "1",
        "TODOIST_RETRY_MAX_ATTEMPTS": "60",
        "TODOIST_BATCH_SIZE": "20",
        **more,
    }


def test_two_workers_on_redis_and_postgres_over_ten_users(tmp_path, django_db_blocker):
    """Two qcluster processes (two "machines", 2 worker processes each) share a Redis broker and
    a PostgreSQL database; ten users, each with a token of their own, are synced at once under
    20% 5xx and 5% lost answers: two jobs per user at once (all chats, and the user's chat),
    then a second round of triggers while the first runs go (the lease across machines). No
    duplicate, no failed run, nothing in another account."""
    from todoist_sync.models import SyncRun

    redis_url = _redis_and_postgres()
    users = {f"machine-user-{i}": True for i in range(MACHINE_USERS)}
    with (
        _clean_redis_queue(redis_url),
        reliability_stack(
            tmp_path,
            django_db_blocker,
            users=users,
            workers=2,
            extra_env=_redis_env(redis_url),
            latency_ms=50,
        ) as stack,
    ):
        for i, account in enumerate(stack.accounts.values()):
            specs = mixed_tasks(MACHINE_TASKS, prefix=f"{account.username} task", chat_id=i)
            seed_tasks(stack.alias, account.user_id, specs)
        stack.sim.configure(error_rate=0.2, lost_answer_rate=0.05)
        started = time.monotonic()
        # Two jobs per user at once: all chats, and the user's one chat (another scope, so it
        # does not join the first): two runs of the same tasks, taken by different workers.
        for i, username in enumerate(users):
            stack.api(username).trigger_sync()
            stack.api(username).trigger_sync(chat_id=i)
        _running_job(stack)
        for username in users:  # the second round, while the first runs go
            stack.api(username).trigger_sync()
        converge = [drive_until_quiet(stack, username, timeout=180)["runs"] for username in users]
        seconds = time.monotonic() - started

        state = {a.sim_account: stack.sim.tasks(a.sim_account) for a in stack.accounts.values()}
        verdicts, leases, unlogged = [], [], []
        for account in stack.accounts.values():
            foreign = [
                t for name, tasks in state.items() if name != account.sim_account for t in tasks
            ]
            verdicts.append(
                check_invariant(
                    stack.alias, account, state[account.sim_account], foreign_remote=foreign
                )
            )
            leases += lease_problems(stack.alias, account.user_id)
            unlogged += failures_without_event(stack.alias, account.user_id)
        stats = stack.sim.stats()
        runs = SyncRun.objects.using(stack.alias)
        per_worker = _jobs_per_worker(stack)
        figures = {
            "users": MACHINE_USERS,
            "tasks": MACHINE_TASKS * MACHINE_USERS,
            "eligible": sum(v.eligible for v in verdicts),
            "jobs_per_worker": per_worker,
            "runs": runs.count(),
            "deferred_runs": runs.filter(state="deferred").count(),
            "runs_to_quiet": converge,
            "injected_5xx": stats["responses_5xx_injected"],
            "injected_lost_answers": stats["lost_answers"],
            "uuid_replays_deduped": stats["dedupe_sync_uuid"],
            "simulator_creates": stats["tasks_created"],
            "duplicates": sum(v.duplicates for v in verdicts),
            "lost": sum(v.lost for v in verdicts),
            "seconds": round(seconds, 1),
        }
        figures["scan"] = assert_no_secret_anywhere(stack)
        print_figures("two machines", figures)

        for verdict in verdicts:
            verdict.assert_ok()
        assert not leases, leases[:10]
        failed = runs.filter(state="failed").values_list("job_id", "error_summary")
        assert not failed, list(failed)[:10]
        assert not unlogged, unlogged[:10]
        assert stats["tasks_created"] == sum(v.mapped for v in verdicts)
        # Both "machines" took jobs from the shared broker.
        assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values()), per_worker
        assert not tracebacks(stack), tracebacks(stack)


STALE_SECONDS = 5


def test_a_killed_redis_worker_loses_only_its_prefetch_and_blocks_no_one(
    tmp_path, django_db_blocker
):
    """Finding F4 (fixed): one qcluster (1 worker process) gets ten users' jobs from Redis and
    is SIGKILLed while it runs the first. Redis never delivers its jobs again; the cluster must
    have held no more than its prefetch (queue_limit = Q_WORKERS), and once a lost run is
    older than TODOIST_QUEUED_STALE_SECONDS a trigger starts a fresh job instead of joining it,
    and that run marks the lost one failed. Every user converges; no duplicate."""
    from todoist_sync.models import SyncRun

    redis_url = _redis_and_postgres()
    users = {f"redis-user-{i}": True for i in range(MACHINE_USERS)}
    env = _redis_env(
        redis_url,
        Q_WORKERS="1",
        TODOIST_LEASE_SECONDS="3",
        TODOIST_QUEUED_STALE_SECONDS=str(STALE_SECONDS),
    )
    with (
        _clean_redis_queue(redis_url),
        reliability_stack(
            tmp_path, django_db_blocker, users=users, workers=1, extra_env=env, latency_ms=200
        ) as stack,
    ):
        for i, account in enumerate(stack.accounts.values()):
            specs = mixed_tasks(30, prefix=f"{account.username} task", chat_id=i)
            seed_tasks(stack.alias, account.user_id, specs)
        started = time.monotonic()
        for username in users:
            stack.api(username).trigger_sync()
        _running_job(stack)
        stack.workers[0].kill()
        stack.start_worker()
        # Until then a trigger joins the queued run (a slow queue is not a lost one).
        time.sleep(max(0.0, STALE_SECONDS + 1 - (time.monotonic() - started)))
        converge = [drive_until_quiet(stack, username, timeout=60)["runs"] for username in users]
        seconds = time.monotonic() - started

        runs = SyncRun.objects.using(stack.alias)
        lost_queued = runs.filter(error_summary__startswith="its job never reached").count()
        lost_running = runs.filter(error_summary__startswith="the worker stopped").count()
        state = {a.sim_account: stack.sim.tasks(a.sim_account) for a in stack.accounts.values()}
        verdicts = [
            check_invariant(stack.alias, a, state[a.sim_account]) for a in stack.accounts.values()
        ]
        figures = {
            "users": MACHINE_USERS,
            "jobs_lost_prefetched": lost_queued,
            "jobs_lost_running": lost_running,
            "runs_to_quiet": converge,
            "runs_still_queued_or_running": runs.filter(state__in=["queued", "running"]).count(),
            "duplicates": sum(v.duplicates for v in verdicts),
            "lost": sum(v.lost for v in verdicts),
            "seconds": round(seconds, 1),
        }
        print_figures("killed Redis worker", figures)

        for verdict in verdicts:
            verdict.assert_ok()
        # What the killed cluster held: the job it ran and at most its prefetch (one queued in
        # its task queue, and one its pusher held waiting for room).
        assert lost_running == 1 and lost_queued <= 2, figures
        assert figures["runs_still_queued_or_running"] == 0, figures


def _jobs_per_worker(stack) -> dict[str, int]:
    """Jobs each qcluster log shows it processing."""
    return {
        name: len(set(re.findall(r"processing (\w+) 'todoist_sync", text)))
        for name, text in stack.stack.log_texts().items()
        if name.startswith("qcluster")
    }


def _running_job(stack, timeout: float = 60.0) -> str:
    """The job id of a run that holds its user's lease now."""
    from todoist_sync.models import SyncRun

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = SyncRun.objects.using(stack.alias).filter(state="running").exclude(lease_holder="")
        job_id = run.values_list("job_id", flat=True).first()
        if job_id:
            return job_id
        time.sleep(0.02)
    raise AssertionError("no run started")
