"""Many users on one server, the API's limits: writes, sync triggers and token checks per
user, callers without a valid key per address; a 429 says when to come back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from planner.models import Task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_jobs")]

ROOT = Path(__file__).resolve().parent.parent
RATES = {
    "anon": "3/min",
    "tasks.write": "3/min",
    "todoist_sync.trigger": "2/min",
    "todoist_sync.token_check": "2/min",
}


@pytest.fixture(autouse=True)
def low_rates():
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}
    ):
        yield


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert 0 < int(response["Retry-After"]) <= 60
    assert set(response.json()) == {"code", "detail"}  # the API's error shape
    assert response.json()["code"] == "throttled"


def test_task_writes_are_limited_per_user(api_client, other_user):
    statuses = [
        api_client.post("/v1/tasks", {"title": "one"}, format="json").status_code,
        api_client.patch(
            f"/v1/tasks/{Task.objects.get().pk}", {"title": "x"}, format="json"
        ).status_code,
        api_client.delete(f"/v1/tasks/{Task.objects.get().pk}").status_code,
    ]
    assert statuses == [201, 200, 204]

    assert_throttled(api_client.post("/v1/tasks", {"title": "four"}, format="json"))
    assert Task.objects.count() == 1
    # Reads are not counted, and the other user has a budget of their own.
    assert api_client.get("/v1/tasks").status_code == 200
    assert (
        client_of(other_user).post("/v1/tasks", {"title": "bob"}, format="json").status_code == 201
    )


def test_sync_triggers_are_limited_per_user(api_client, other_user, queued_jobs):
    assert api_client.post("/v1/sync/todoist").status_code == 202
    # A chat's project change queues a sync: it counts as a trigger.
    assert (
        api_client.put("/v1/sync/todoist/chats/7", {"project": "Work"}, format="json").status_code
        == 200
    )

    assert_throttled(api_client.post("/v1/sync/todoist"))
    assert api_client.get("/v1/sync/todoist/status").status_code == 200
    assert client_of(other_user).post("/v1/sync/todoist").status_code == 202


def test_token_checks_are_limited_but_reading_and_disconnecting_are_not(api_client, rsps):
    rsps.get(f"{settings.TODOIST_API_URL}/user", status=401, json={"error": "Unauthorized"})
    for _ in range(2):
        response = api_client.put("/v1/sync/todoist/token", {"token": "wrong-0000"}, format="json")
        assert response.status_code == 400

    assert_throttled(
        api_client.put("/v1/sync/todoist/token", {"token": "wrong-0000"}, format="json")
    )
    assert len(rsps.calls) == 2  # the third never reached Todoist
    for _ in range(3):
        assert api_client.get("/v1/sync/todoist/token").status_code == 200
        assert api_client.delete("/v1/sync/todoist/token").status_code == 204


def test_callers_without_a_valid_key_are_limited_per_address(db):
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert [guesser.get("/v1/tasks").status_code for _ in range(3)] == [401, 401, 401]

    assert_throttled(guesser.get("/v1/tasks"))
    # Without a key at all, from the same address: the same count.
    assert_throttled(APIClient(REMOTE_ADDR="203.0.113.7").get("/v1/sync/todoist/status"))
    # Another address has its own.
    assert APIClient(REMOTE_ADDR="198.51.100.1").get("/v1/tasks").status_code == 401


def test_a_forged_forwarded_for_does_not_escape_the_limit(db):
    statuses = [
        APIClient(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        .get("/v1/tasks")
        .status_code
        for n in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


def test_authenticated_callers_are_not_counted_as_anonymous(api_client):
    assert all(api_client.get("/v1/tasks").status_code == 200 for _ in range(5))


@override_settings(API_DOCS_PUBLIC=True)
def test_anonymous_readers_of_public_docs_are_limited(db):
    client = APIClient()
    assert [client.get("/v1/schema/").status_code for _ in range(3)] == [200, 200, 200]
    assert client.get("/v1/schema/").status_code == 429


# --- configuration -------------------------------------------------------------------------


def settings_in_a_fresh_process(extra: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("API_", "REDIS_", "TODOIST_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true", **extra})
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'], s.REST_FRAMEWORK['NUM_PROXIES'], "
        "s.CACHES['default']['BACKEND'], s.CACHES['default'].get('LOCATION'), "
        "s.API_DOCS_PUBLIC, s.TODOIST_TOKEN_ENCRYPTION_KEYS)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_rates_and_the_throttle_cache_come_from_the_environment():
    out = settings_in_a_fresh_process(
        {
            "API_THROTTLE_ANON": "7/hour",
            "API_THROTTLE_TASK_WRITES": "11/min",
            "API_THROTTLE_SYNC_TRIGGERS": "13/min",
            "API_THROTTLE_TOKEN_CHECKS": "17/day",
            "API_NUM_PROXIES": "1",
            "REDIS_URL": "redis://cache.internal:6379/2",
            "API_DOCS_PUBLIC": "true",
            "TODOIST_TOKEN_ENCRYPTION_KEYS": "new-key,old-key",
        }
    )
    assert out.strip() == (
        "{'anon': '7/hour', 'tasks.write': '11/min', 'todoist_sync.trigger': '13/min', "
        "'todoist_sync.token_check': '17/day'} 1 "
        "django.core.cache.backends.redis.RedisCache redis://cache.internal:6379/2 True "
        "['new-key', 'old-key']"
    )


def test_an_empty_rate_turns_the_limit_off(api_client):
    rates = {**RATES, "tasks.write": None}
    with override_settings(
        REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        assert all(
            api_client.post("/v1/tasks", {"title": "t"}, format="json").status_code == 201
            for _ in range(5)
        )
    out = settings_in_a_fresh_process({"API_THROTTLE_TASK_WRITES": ""})
    assert "'tasks.write': None" in out


def test_the_defaults_without_environment():
    out = settings_in_a_fresh_process({})
    assert out.strip() == (
        "{'anon': '30/min', 'tasks.write': '120/min', 'todoist_sync.trigger': '12/min', "
        "'todoist_sync.token_check': '5/min'} 0 "
        "django.core.cache.backends.locmem.LocMemCache None False []"
    )
