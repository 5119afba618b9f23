"""GET /healthz: django-health-check's database and cache checks, the django-q2 cluster and the
Todoist budgets, as JSON, without a login and without anything sensitive."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import DatabaseError
from django.test import Client
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.signing import SignedPackage
from django_q.status import Stat, Status

from todoist_sync.models import TodoistCredential
from todoist_sync.services.budget import rate_budget_acquire, rate_budget_block
from todoist_sync.tokens import encrypt_token, token_key

pytestmark = pytest.mark.django_db

CHECKS = {"database", "cache", "queue_cluster", "todoist_budget"}


@pytest.fixture
def queued_mode():
    """Jobs go to a cluster, as in production (the test settings run them inline); cluster
    statuses under a name of this test's own (they outlive it by a few seconds)."""
    with (
        mock.patch.object(Conf, "SYNC", False),
        mock.patch.object(Conf, "Q_STAT", f"django_q:test-{uuid.uuid4().hex}:cluster"),
    ):
        yield


def heartbeat(*, status: str = Conf.IDLE, age: timedelta = timedelta(0)) -> None:
    """What a running cluster's guard saves every half second, through its broker."""
    stat = Status(pid=4242, cluster_id=uuid.uuid4())
    stat.status, stat.timestamp = status, timezone.now() - age
    get_broker().set_stat(Stat.get_key(stat.cluster_id), SignedPackage.dumps(stat, True), 3)


def test_healthy_answers_200_json_without_a_login(client):
    response = client.get("/healthz", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert set(body["checks"]) == CHECKS
    assert all(check["ok"] for check in body["checks"].values())
    # The test settings run jobs inline: no cluster is needed.
    assert body["checks"]["queue_cluster"]["mode"] == "inline"
    assert "no-cache" in response["Cache-Control"]


def test_no_cluster_answers_503_naming_the_queue(client, queued_mode):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["failed"] == ["queue_cluster"]
    queue = body["checks"]["queue_cluster"]
    assert queue["error"] == "Unavailable: no django-q2 cluster seen in the last minute"
    assert queue["clusters"] == 0
    assert body["checks"]["database"]["ok"] and body["checks"]["cache"]["ok"]


def test_a_cluster_heartbeat_makes_it_healthy(client, queued_mode):
    heartbeat()

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["queue_cluster"] | {"seconds": 0} == {
        "ok": True,
        "clusters": 1,
        "queued": 0,
        "seconds": 0,
    }


@pytest.mark.parametrize(
    "beat",
    [
        {"age": timedelta(minutes=2)},  # an old status, still in the cache
        {"status": Conf.STOPPED},
        {"status": Conf.STOPPING},
    ],
)
def test_an_old_or_stopped_cluster_does_not_count(client, queued_mode, beat):
    heartbeat(**beat)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["failed"] == ["queue_cluster"]


def test_spent_and_blocked_budgets_are_reported_not_failed(client, settings, user, sim_token):
    settings.TODOIST_RATE_LIMIT_REQUESTS = 3
    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token(sim_token), token_last4=sim_token[-4:]
    )
    blocked_key, spent_key = token_key(sim_token), token_key("another-token")
    start = time.time()
    with mock.patch("todoist_sync.services.budget.time.time") as clock:
        clock.return_value = start - 5000
        rate_budget_acquire(key=token_key("idle-token"))  # untouched since: not in use
        for seconds_ago in (30, 20, 10):
            clock.return_value = start - seconds_ago
            assert rate_budget_acquire(key=spent_key) == 0.0
        clock.return_value = start
        rate_budget_block(key=blocked_key, seconds=120)

    response = client.get("/healthz")

    assert response.status_code == 200
    budget = response.json()["checks"]["todoist_budget"]
    assert budget["ok"] is True
    assert (budget["budgets"], budget["blocked"], budget["spent"]) == (2, 1, 1)
    assert 115 <= budget["blocked_for_seconds"] <= 120
    # The oldest of the three stamps leaves the window (900 s and a 1 s margin) first.
    assert 865 <= budget["spent_for_seconds"] <= 871
    text = response.content.decode()
    for secret in (sim_token, blocked_key, spent_key, user.username, sim_token[-4:]):
        assert secret not in text


def test_unreadable_budgets_answer_503_naming_the_check(client):
    with mock.patch(
        "todoist_sync.health.budget_state", side_effect=DatabaseError("connection refused")
    ):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["todoist_budget"]
    assert body["checks"]["todoist_budget"]["error"] == (
        "Unavailable: the request budgets could not be read"
    )
    assert "connection refused" not in response.content.decode()


def test_probes_and_scrapers_are_not_sent_to_https(settings):
    """Inside the network they speak plain HTTP: SECURE_SSL_REDIRECT leaves both paths alone."""
    settings.SECURE_SSL_REDIRECT = True
    settings.METRICS_TOKEN = "scrape-token"
    client = Client()  # its middleware reads the settings at its first request

    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 403  # answered here, not redirected
    assert client.get("/admin/").status_code == 301
