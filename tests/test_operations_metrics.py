"""GET /metrics: django-prometheus's request and database metrics, and the sync's own figures
(counters where it sends, the rest read from the database at each scrape), for a scraper only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import make_map, make_task, run_sync
from todoist_sync import metrics
from todoist_sync.conf import conf
from todoist_sync.models import RateBudget, SyncRun, TodoistTaskMap
from todoist_sync.services import budget
from todoist_sync.services.budget import BUDGET_MARGIN_SECONDS
from todoist_sync.tokens import token_key

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "scrape-token-0123456789"
State = TodoistTaskMap.SyncState


@pytest.fixture
def scraper(settings, client):
    """A client with the scrape token, METRICS_TOKEN set; answers the parsed samples."""
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        families = text_string_to_metric_families(response.content.decode())
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in families
            for sample in family.samples
        }

    return scrape


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- who may scrape ------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token_or_addresses(client, settings):
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS = "", []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Token {TOKEN}", f"Bearer {TOKEN}x", TOKEN]
)
def test_a_wrong_or_missing_token_is_refused(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 403
    assert b"django_http" not in response.content


@pytest.mark.parametrize(
    ("remote_addr", "forwarded_for", "status"),
    [
        ("10.1.2.3", None, 200),  # in 10.0.0.0/8
        ("192.0.2.7", None, 200),  # listed alone
        ("192.0.2.8", None, 403),
        ("203.0.113.9", "10.1.2.3", 403),  # X-Forwarded-For is not trusted without proxies
    ],
)
def test_listed_addresses_may_scrape(client, settings, remote_addr, forwarded_for, status):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "192.0.2.7"]
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    assert client.get("/metrics", **extra).status_code == status


# -- what it shows ---------------------------------------------------------------------------------


def test_requests_database_and_sync_figures(scraper, user, other_user, client):
    SyncRun.objects.create(job_id="a" * 32, user=user, state=SyncRun.State.SUCCEEDED)
    SyncRun.objects.create(job_id="b" * 32, user=user, state=SyncRun.State.FAILED)
    SyncRun.objects.create(job_id="c" * 32, user=other_user, state=SyncRun.State.SUCCEEDED)
    make_map(user, title="done")
    make_map(user, title="broken", state=State.ERROR)
    old = make_map(other_user, title="waiting", state=State.PENDING)
    make_map(other_user, title="new", state=State.PENDING)
    TodoistTaskMap.objects.filter(pk=old.pk).update(
        updated_at=old.updated_at - timedelta(minutes=20)
    )
    client.get("/healthz")

    samples = scraper()

    runs = {state: samples[("todoist_sync_runs", (("state", state),))] for state in SyncRun.State}
    assert runs == {"queued": 0, "running": 0, "succeeded": 2, "failed": 1, "deferred": 0}
    mappings = {s: samples[("todoist_sync_mappings", (("state", s),))] for s in State}
    assert mappings == {"pending": 2, "synced": 1, "error": 1}
    age = samples[("todoist_sync_oldest_pending_mapping_age_seconds", ())]
    assert 20 * 60 <= age < 21 * 60
    assert samples[("django_q_queue_depth", ())] == 0
    # django-prometheus: the requests (the /healthz above) and the database.
    healthz = (("method", "GET"), ("status", "200"), ("view", "healthz"))
    assert samples[("django_http_responses_total_by_status_view_method_total", healthz)] >= 1
    database = (("alias", "default"), ("vendor", connection.vendor))
    assert samples[("django_db_execute_total", database)] > 0


def test_no_pending_mapping_is_an_age_of_zero(scraper, user):
    make_map(user, title="done")
    assert scraper()[("todoist_sync_oldest_pending_mapping_age_seconds", ())] == 0


def test_todoist_requests_are_counted_by_outcome(scraper, user, sim):
    requests = "todoist_sync_todoist_requests_total"
    ok, rate_limited = counter(requests, outcome="ok"), counter(requests, outcome="rate_limited")
    answers_429 = counter("todoist_sync_todoist_rate_limited_total")
    make_task(user, "Counted")

    run_sync(user)  # the account's read and one batch
    sim.configure(rate_limit_429_rate=1.0)
    make_task(user, "Refused")
    run_sync(user)

    samples = scraper()
    assert samples[(requests, (("outcome", "ok"),))] - ok == 2
    assert samples[(requests, (("outcome", "rate_limited"),))] - rate_limited == 1
    assert samples[("todoist_sync_todoist_rate_limited_total", ())] - answers_429 == 1


def test_waits_for_the_request_budget_are_counted(user, sim, sim_token, settings, clock):
    settings.TODOIST_RATE_LIMIT_REQUESTS = 2
    waits = counter("todoist_sync_budget_waits_total")
    waited = counter("todoist_sync_budget_wait_seconds_total")
    # The budget is full until 0.25 s from now: the first request waits exactly that long (in
    # binary fractions, so that the waited clock lands on the moment exactly).
    full_until = clock.now - conf.TODOIST_RATE_LIMIT_WINDOW - BUDGET_MARGIN_SECONDS + 0.25
    RateBudget.objects.create(
        key=token_key(sim_token),
        stamps=[full_until, full_until],
        touched_at=budget.budget_time(clock.now),
    )
    make_task(user, "Paced")

    run = run_sync(user, sleep=clock.sleep)

    assert run.created == 1
    assert clock.slept == [0.25]
    assert counter("todoist_sync_budget_waits_total") - waits == 1
    assert counter("todoist_sync_budget_wait_seconds_total") - waited == 0.25


def test_error_kinds_come_from_the_error_classes():
    from todoist_sync.exceptions import (
        TodoistError,
        TodoistPayloadTooLargeError,
        TodoistRateLimitedError,
        TodoistTransientError,
    )

    assert metrics.outcome(None) == "ok"
    assert metrics.outcome(TodoistRateLimitedError("x")) == "rate_limited"
    assert metrics.outcome(TodoistTransientError("x")) == "transient"
    assert metrics.outcome(TodoistPayloadTooLargeError("x")) == "payload_too_large"
    assert metrics.outcome(TodoistError("x")) == "error"


def test_todoist_sync_works_without_prometheus_client_or_tqdm(tmp_path):
    """A reusable app: the reuse project's suite (no planner, no django-prometheus) passes with
    prometheus_client and tqdm impossible to import; their figures become no-ops."""
    for name in ("prometheus_client", "tqdm"):
        (tmp_path / name).mkdir()
        missing = f"raise ModuleNotFoundError('no {name} here')\n"
        (tmp_path / name / "__init__.py").write_text(missing)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.reuse.settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    check = (
        "import django; django.setup(); "
        "from todoist_sync import metrics; "
        "assert metrics.REQUESTS is None and list(metrics.SyncCollector().collect()) == []; "
        "metrics.request_answered(None); metrics.budget_waited(1.0)"
    )
    subprocess.run([sys.executable, "-c", check], cwd=ROOT, env=env, check=True, timeout=60)
    pytest_reuse = [sys.executable, "-m", "pytest", "tests/reuse", "-q", "-p", "no:cacheprovider"]
    suite = subprocess.run(
        [*pytest_reuse, "--ds", "tests.reuse.settings"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert " passed" in suite.stdout.strip().splitlines()[-1]
