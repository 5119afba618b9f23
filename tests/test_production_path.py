"""README's "Running it for real", command for command, on PostgreSQL and Redis.

The environment is the README's (DEBUG=false, a long random SECRET_KEY, a Fernet key for the
tokens, DATABASE_URL, REDIS_URL), plus SECURE_SSL_REDIRECT=false (a local try without TLS, as
the README says) and the simulator's URL instead of Todoist's. Then: `migrate`,
`createsuperuser --noinput`, `create_api_key`, `collectstatic --noinput`, `.venv/bin/gunicorn
config.wsgi` on 127.0.0.1 and `manage.py qcluster` on Redis, all through the process harness.

1. The superuser connects a Todoist token and creates tasks through the API: sync on change
   puts them in the simulator.
2. The issue's "Done when": a user added after deployment connects a token, and their tasks are
   saved without signals (`bulk_create` in `manage.py shell -c`). With nothing else run, the
   safety-net sweep that `migrate` installed puts them in Todoist within an interval
   (TODOIST_SAFETY_NET_MINUTES=1 here, plus django-q2's 30-second scheduler tick).

Needs DATABASE_URL on PostgreSQL and REDIS_URL (CI's second leg starts both:
.ci/services.sh). Takes a minute or two, most of it waiting for the sweep.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from scripts.harness import Api, SimProc, Stack, StackError, run_manage
from scripts.harness.database import throwaway_database
from tests.e2e_helpers import orm_alias

pytestmark = pytest.mark.e2e

SWEEP_MINUTES = 1
# One interval, then the new user's slice (half an interval later with two users), each
# fired on django-q2's scheduler tick (every 30 s), and the run itself.
LATE_USER_TIMEOUT = SWEEP_MINUTES * 60 + 30 + 30 + 30
QUEUE_KEY = "django_q:planner:q"  # Q_CLUSTER name "planner"
ADMIN = "admin"
LATE = "late"
LATE_TASKS = 5
API_TASKS = ["Buy milk", "Call the dentist", "File the tax return"]


def _postgres_and_redis() -> str:
    """REDIS_URL on a database of this test's own, or skip unless DATABASE_URL is PostgreSQL
    and REDIS_URL is set."""
    scheme = urlsplit(os.environ.get("DATABASE_URL", "")).scheme
    if scheme not in ("postgres", "postgresql", "pgsql", "psql"):
        pytest.skip(
            "the production path runs on PostgreSQL: set DATABASE_URL=postgres://... "
            "(CI's second leg starts one with .ci/services.sh)"
        )
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.skip("the production path runs its queue on Redis: set REDIS_URL=redis://...")
    # Not this pytest worker's database (0-7, config/settings_test.py), where the other Redis
    # tests queue, nor that of this test on another worker: a job signed with another SECRET_KEY
    # that reached our worker would be dropped (BadSignature), and its own worker would miss it.
    this_worker = int(urlsplit(settings.REDIS_URL).path.lstrip("/") or 0) % 8
    return urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{8 + this_worker}"))


def readme_env(*, database_url: str, redis_url: str, static_root: Path) -> dict[str, str]:
    """The README's variables on a clean shell: nothing else of this process's environment."""
    from cryptography.fernet import Fernet

    shell = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "LC_ALL") if k in os.environ}
    return {
        **shell,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TODOIST_TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DEBUG": "false",
        # Trying it locally without TLS (README): no redirect of http:// to https://.
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_ROOT": str(static_root),
        "TODOIST_SAFETY_NET_MINUTES": str(SWEEP_MINUTES),
        "DJANGO_SUPERUSER_USERNAME": ADMIN,
        "DJANGO_SUPERUSER_EMAIL": "admin@example.com",
        "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        # The harness waits for the qcluster's "running" line, logged at INFO.
        "Q_LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


def _api_key(output: str) -> str:
    """`create_api_key` prints the key alone on its last line."""
    return output.strip().splitlines()[-1].strip()


def _live_titles(sim: SimProc, token: str) -> Counter[str]:
    return Counter(t["content"] for t in sim.tasks(token) if not t["is_deleted"])


def _wait_for_titles(
    stack: Stack, sim: SimProc, token: str, titles: list[str], timeout: float
) -> float:
    """Seconds until every title is a live task of the token's account; StackError after
    `timeout` (or when a process of the stack died)."""
    started = time.monotonic()
    while True:
        live = _live_titles(sim, token)
        if all(live[title] for title in titles):
            return time.monotonic() - started
        stack.check_alive()
        if time.monotonic() - started > timeout:
            missing = [title for title in titles if not live[title]]
            raise StackError(
                f"after {timeout:.0f} s the simulator still lacks {missing}\n{stack.tails()}"
            )
        time.sleep(1)


def test_readme_production_path_on_postgres_and_redis(tmp_path, django_db_blocker) -> None:
    import redis
    from django_q.models import Schedule

    from todoist_sync.models import SyncRun

    redis_url = _postgres_and_redis()
    admin_token = "prod-admin-" + secrets.token_hex(8)
    late_token = "prod-late-" + secrets.token_hex(8)
    broker = redis.Redis.from_url(redis_url)
    broker.delete(QUEUE_KEY)  # nothing left over from another run
    with (
        throwaway_database(tmp_path, "production") as database_url,
        Stack(
            env=readme_env(
                database_url=database_url, redis_url=redis_url, static_root=tmp_path / "static"
            ),
            log_dir=tmp_path / "logs",
        ) as stack,
    ):
        try:
            # The simulator stands in for Todoist: its URL becomes TODOIST_API_URL.
            sim = stack.start_simulator(tokens=[admin_token, late_token])
            env = stack.env

            # The README's commands, in its order.
            migrated = run_manage(["migrate"], env=env, timeout=300)
            assert "Applying todoist_sync" in migrated.stdout
            run_manage(["createsuperuser", "--noinput"], env=env)
            admin_key = _api_key(run_manage(["create_api_key", ADMIN], env=env).stdout)
            run_manage(["collectstatic", "--noinput"], env=env)
            assert (tmp_path / "static" / "admin" / "css" / "base.css").is_file()
            # With the redirect off for a local try, `check --deploy` says so (and only that).
            deploy = run_manage(["check", "--deploy"], env=env)
            deploy_text = deploy.stdout + deploy.stderr
            assert "security.W008" in deploy_text and "1 issue" in deploy_text, deploy_text
            web = stack.start_gunicorn()
            worker = stack.start_qcluster()
            stack.wait_ready([web, worker], timeout=90)
            deployed = time.monotonic()

            # `migrate` installed the sweep: no `todoist_schedules` was run.
            with django_db_blocker.unblock(), orm_alias(database_url) as alias:
                sweep = Schedule.objects.using(alias).get(name="todoist-safety-net")
                assert sweep.minutes == SWEEP_MINUTES

            # 1. The superuser's bot: plain http answers (no redirect), the token is checked
            # with the simulator and stored, tasks created through the API reach it.
            admin = Api(web.url, admin_key)
            assert admin.raw("GET", "/v1/tasks").status_code == 200
            assert admin.connect_token(admin_token)["status"] == "connected"
            for title in API_TASKS:
                admin.request("POST", "/v1/tasks", expect=(201,), json={"title": title})
            on_change = _wait_for_titles(stack, sim, admin_token, API_TASKS, timeout=60)

            # 2. A user added after deployment, tasks saved without signals.
            run_manage(
                [
                    "shell",
                    "-c",
                    "from django.contrib.auth import get_user_model; "
                    f"get_user_model().objects.create_user({LATE!r})",
                ],
                env=env,
            )
            late = Api(web.url, _api_key(run_manage(["create_api_key", LATE], env=env).stdout))
            assert late.connect_token(late_token)["status"] == "connected"
            late_titles = [f"Late task {n}" for n in range(LATE_TASKS)]
            run_manage(
                [
                    "shell",
                    "-c",
                    "from django.contrib.auth import get_user_model; "
                    "from planner.models import Task; "
                    f"user = get_user_model().objects.get(username={LATE!r}); "
                    "Task.objects.bulk_create("
                    f"[Task(user=user, title=title) for title in {late_titles!r}])",
                ],
                env=env,
            )
            assert late.request("GET", "/v1/tasks")["count"] == LATE_TASKS
            by_sweep = _wait_for_titles(
                stack, sim, late_token, late_titles, timeout=LATE_USER_TIMEOUT
            )

            with django_db_blocker.unblock(), orm_alias(database_url) as alias:
                runs = SyncRun.objects.using(alias)
                late_runs = list(
                    runs.filter(user__username=LATE).values_list("trigger", "state", "created")
                )
                admin_triggers = set(
                    runs.filter(user__username=ADMIN).values_list("trigger", flat=True)
                )
            admin_live = _live_titles(sim, admin_token)
            late_live = _live_titles(sim, late_token)
            stats = sim.stats()
            figures = {
                "database": "postgresql",
                "broker": "redis",
                "web": "gunicorn",
                "sweep_minutes": SWEEP_MINUTES,
                "api_tasks_in_todoist_s": round(on_change, 1),
                "late_user_tasks_in_todoist_s": round(by_sweep, 1),
                "since_deploy_s": round(time.monotonic() - deployed, 1),
                "late_user_runs": late_runs,
                "admin_triggers": sorted(admin_triggers),
                "duplicates": sum(n - 1 for n in (admin_live + late_live).values() if n > 1),
                "responses_429": stats["responses_429"],
            }
            print("\nPRODUCTION PATH: " + json.dumps(figures, default=str, sort_keys=True))

            # Every task once in Todoist, nothing else there.
            assert admin_live == Counter(API_TASKS)
            assert late_live == Counter(late_titles)
            assert "change" in admin_triggers
            # The late user's tasks came by the sweep alone: no other trigger ran for them.
            assert late_runs and {trigger for trigger, _, _ in late_runs} == {"safety-net"}
            assert any(state == "succeeded" and n == LATE_TASKS for _, state, n in late_runs)
            assert stats["responses_429"] == 0
            tracebacks = [name for name, text in stack.log_texts().items() if "Traceback" in text]
            assert not tracebacks, stack.tails()
        finally:
            broker.delete(QUEUE_KEY)
