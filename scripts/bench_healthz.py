"""`make bench` (its /healthz part): does a flood of health probes slow the API down?

The README's production web process, `gunicorn config.wsgi` with 2 workers and DEBUG=false, on
a throwaway database (SQLite, or a new database on DATABASE_URL's PostgreSQL server), with a
`qcluster` beside it and 1,000 Todoist budgets in use. First an authenticated `GET /v1/tasks`
alone for `--seconds`, then the same while 16 threads probe `GET /healthz` back to back (what an
unauthenticated caller can do). Prints the API's p95 both ways; target: with the flood within
3x of without (before issue 18: 5.7x to 17x). Loopback only, and bounded: a few seconds each.

    python -m scripts.bench_healthz                  # what `make bench` runs
    python -m scripts.bench_healthz --seconds 5      # a quicker look
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from scripts.harness import Api, Stack, StackError, run_manage, stack_env
from scripts.harness.database import throwaway_database

PROBES = 16
BUDGETS = 1000
TASKS = 50
TARGET_RATIO = 3.0
ADMIN = "bench-admin"

SEED_BUDGETS = f"""
import time
from todoist_sync.models import RateBudget
from todoist_sync.services.budget import budget_time
now = time.time()
RateBudget.objects.bulk_create(
    RateBudget(key=f"bench-budget-{{n:05d}}", stamps=[now], touched_at=budget_time(now))
    for n in range({BUDGETS})
)
"""


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def timed_gets(api: Api, seconds: float) -> list[float]:
    """Seconds each `GET /v1/tasks` took, one after the other for `seconds`."""
    samples: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.perf_counter()
        api.request("GET", "/v1/tasks")
        samples.append(time.perf_counter() - started)
    return samples


def flood(url: str, stop: threading.Event, answers: list[tuple[int, float]]) -> None:
    """One prober: `GET /healthz` back to back until `stop`."""
    session = requests.Session()
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status = session.get(url + "/healthz", timeout=30).status_code
        except requests.RequestException:
            status = 0
        answers.append((status, time.perf_counter() - started))


def bench_env(database_url: str, status_dir: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return stack_env(
        database_url=database_url,
        todoist_token="bench-healthz-" + secrets.token_hex(8),
        extra={
            # The README's production settings, tried locally without TLS.
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "TODOIST_TOKEN_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "Q_STATUS_DIR": str(status_dir),
            "DJANGO_SUPERUSER_USERNAME": ADMIN,
            "DJANGO_SUPERUSER_EMAIL": "bench@example.com",
            "DJANGO_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
        },
    )


def run_bench(seconds: float, tmp: Path) -> int:
    with throwaway_database(tmp, "healthz") as database_url:
        env = bench_env(database_url, tmp / "qcluster-status")
        run_manage(["migrate", "--noinput"], env=env, timeout=300)
        run_manage(["createsuperuser", "--noinput"], env=env)
        key = run_manage(["create_api_key", ADMIN], env=env).stdout.strip().splitlines()[-1]
        run_manage(["shell", "-c", SEED_BUDGETS], env=env)
        with Stack(env=env, log_dir=tmp / "logs") as stack:
            stack.start_qcluster()
            web = stack.start_gunicorn(workers=2)
            stack.wait_ready(timeout=120)
            api = Api(web.url, key.strip())
            for n in range(TASKS):
                api.request("POST", "/v1/tasks", expect=(201,), json={"title": f"Task {n}"})
            health = requests.get(web.url + "/healthz", timeout=30).json()
            print(f"/healthz before the flood: {health['status']}", file=sys.stderr)
            timed_gets(api, 2.0)  # warm both workers up

            alone = timed_gets(api, seconds)
            stop = threading.Event()
            answers: list[tuple[int, float]] = []
            probers = [
                threading.Thread(target=flood, args=(web.url, stop, answers), daemon=True)
                for _ in range(PROBES)
            ]
            for prober in probers:
                prober.start()
            try:
                time.sleep(0.5)  # the flood under way
                flooded = timed_gets(api, seconds)
            finally:
                stop.set()
                for prober in probers:
                    prober.join(timeout=60)
            stack.check_alive()
    ratio = p95(flooded) / p95(alone)
    probe_times = [took for _, took in answers]
    statuses = sorted({status for status, _ in answers})
    ok = ratio <= TARGET_RATIO
    print(
        f"| `GET /v1/tasks` ({TASKS} tasks), gunicorn 2 workers, {BUDGETS:,} budgets "
        "| requests | p50 | p95 |"
    )
    print("| --- | --: | --: | --: |")
    for name, samples in (("alone", alone), (f"beside {PROBES} probes of /healthz", flooded)):
        print(
            f"| {name} | {len(samples)} | {statistics.median(samples) * 1000:.0f} ms "
            f"| {p95(samples) * 1000:.0f} ms |"
        )
    print(
        f"\n/healthz during the flood: {len(answers)} answers in {seconds:.0f} s "
        f"(statuses {statuses}), p95 {p95(probe_times) * 1000:.0f} ms"
    )
    print(
        f"API p95 with the flood / without: {ratio:.2f}x (target <= {TARGET_RATIO:.0f}x): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench_healthz")
    parser.add_argument("--seconds", type=float, default=10.0, help="each phase (default 10)")
    args = parser.parse_args(argv)
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    with tempfile.TemporaryDirectory(prefix="planner-bench-healthz-") as tmp:
        try:
            return run_bench(args.seconds, Path(tmp))
        except StackError as exc:
            print(f"bench_healthz: {exc}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    raise SystemExit(main())
