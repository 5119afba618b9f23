"""The sync endpoints: trigger, status, and their OpenAPI description.

The surface is tested with the queue replaced (`queued_jobs`), so no job runs; one test lets the
job run for real (inline in tests) against Todoist mocked by `responses`.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from planner.models import Task
from tests.factories import make_map
from todoist_sync import services
from todoist_sync.models import SyncRun, TodoistCredential, TodoistTaskMap

pytestmark = pytest.mark.django_db

TRIGGER = "/v1/sync/todoist"
STATUS = "/v1/sync/todoist/status"
# Authenticating an API key: knox finds it by its prefix, and sweeps the user's expired keys.
AUTH_QUERIES = 2
State = TodoistTaskMap.SyncState


# --- POST /v1/sync/todoist ---------------------------------------------------------------


def test_trigger_answers_202_with_the_queued_job(
    api_client, user, queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(TRIGGER, {}, format="json")

    assert response.status_code == 202, response.content
    body = response.json()
    run = SyncRun.objects.get()
    assert body["job_id"] == run.job_id
    assert body["status_url"] == f"http://testserver{STATUS}?job_id={run.job_id}"
    assert (run.user, run.chat_id, run.state, run.trigger) == (user, None, "queued", "api")
    queued_jobs.assert_called_once_with(run)


def test_trigger_without_a_body_syncs_every_chat(api_client, queued_jobs):
    response = api_client.post(TRIGGER)
    assert response.status_code == 202, response.content
    assert SyncRun.objects.get().chat_id is None


def test_trigger_limits_the_scope_to_a_chat(api_client, queued_jobs):
    response = api_client.post(TRIGGER, {"chat_id": 42}, format="json")
    assert response.status_code == 202
    assert SyncRun.objects.get(job_id=response.json()["job_id"]).chat_id == 42


def test_trigger_while_queued_joins_the_queued_run_and_widens_it(
    api_client, queued_jobs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(TRIGGER, {"chat_id": 7}, format="json").json()
        second = api_client.post(TRIGGER, {"chat_id": 7}, format="json").json()
        run = SyncRun.objects.get()
        assert run.chat_id == 7  # the same scope: joined as it is
        other_scope = api_client.post(TRIGGER, {"chat_id": 8}, format="json").json()

    assert second["job_id"] == first["job_id"] == other_scope["job_id"]
    run.refresh_from_db()
    assert run.chat_id is None  # widened to the whole user: one queued run, not two
    assert queued_jobs.call_count == 1


def test_a_thousand_triggers_for_a_thousand_chats_leave_at_most_two_queued_jobs(
    user, queued_jobs, django_capture_on_commit_callbacks
):
    """Before, each chat_id queued its own job: 1,000 jobs holding the queue for everyone."""
    with django_capture_on_commit_callbacks(execute=True):
        for chat_id in range(1000):
            services.sync_enqueue(user=user, chat_id=chat_id)
            if chat_id == 500:  # the queued run starts; later triggers queue one more
                SyncRun.objects.update(state=SyncRun.State.RUNNING)
    assert SyncRun.objects.filter(state=SyncRun.State.QUEUED).count() == 1
    assert queued_jobs.call_count == 2


def test_trigger_after_the_run_started_queues_a_new_one(api_client, queued_jobs):
    first = api_client.post(TRIGGER, {}, format="json").json()
    SyncRun.objects.filter(job_id=first["job_id"]).update(state=SyncRun.State.RUNNING)
    second = api_client.post(TRIGGER, {}, format="json").json()
    assert second["job_id"] != first["job_id"]


def test_triggers_of_two_users_never_join(api_client, other_user, queued_jobs):
    bob = APIClient()
    bob.force_authenticate(other_user)
    mine = api_client.post(TRIGGER, {}, format="json").json()
    his = bob.post(TRIGGER, {}, format="json").json()
    assert mine["job_id"] != his["job_id"]
    assert SyncRun.objects.get(job_id=his["job_id"]).user == other_user


def test_trigger_can_ask_for_a_reconcile(api_client, queued_jobs):
    plain = api_client.post(TRIGGER, {}, format="json").json()
    assert SyncRun.objects.get(job_id=plain["job_id"]).reconcile is False
    # A reconcile asked while that run is queued joins it, and the run then reconciles.
    response = api_client.post(TRIGGER, {"reconcile": True}, format="json")
    assert response.status_code == 202
    assert response.json()["job_id"] == plain["job_id"]
    assert SyncRun.objects.get(job_id=plain["job_id"]).reconcile is True


@pytest.mark.parametrize("reconcile", ["true", 1, None, "yes"])
def test_trigger_refuses_a_reconcile_that_is_not_a_boolean(api_client, queued_jobs, reconcile):
    response = api_client.post(TRIGGER, {"reconcile": reconcile}, format="json")
    assert response.status_code == 400
    assert "reconcile" in response.json()["fields"]
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("chat_id", ["42", "abc", 4.5, True, [1], 2**63])
def test_trigger_refuses_a_bad_chat_id(api_client, queued_jobs, chat_id):
    response = api_client.post(TRIGGER, {"chat_id": chat_id}, format="json")
    assert response.status_code == 400
    assert "chat_id" in response.json()["fields"]
    assert not SyncRun.objects.exists()


def test_trigger_refuses_a_body_that_is_not_an_object(api_client, queued_jobs):
    response = api_client.post(TRIGGER, [1, 2], format="json")
    assert response.status_code == 400
    assert not SyncRun.objects.exists()


@override_settings(TODOIST_API_TOKEN="")
def test_trigger_without_any_token_is_409_and_queues_nothing(api_client, queued_jobs):
    response = api_client.post(TRIGGER, {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "no_token"
    assert not SyncRun.objects.exists()
    queued_jobs.assert_not_called()


@override_settings(TODOIST_API_TOKEN="", TODOIST_TOKEN_ENCRYPTION_KEY="key-one")
def test_trigger_with_an_unreadable_stored_token_is_409(api_client, user, queued_jobs):
    from todoist_sync.tokens import encrypt_token

    TodoistCredential.objects.create(
        user=user, token_encrypted=encrypt_token("tok-1234"), token_last4="1234"
    )
    with override_settings(TODOIST_TOKEN_ENCRYPTION_KEY="key-two"):
        response = api_client.post(TRIGGER, {}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "token_unreadable"
    assert "tok-1234" not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", TRIGGER),
        ("get", STATUS),
        ("get", "/v1/sync/todoist/token"),
        ("put", "/v1/sync/todoist/token"),
        ("delete", "/v1/sync/todoist/token"),
    ],
)
def test_endpoints_need_authentication(method, url, queued_jobs):
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert not SyncRun.objects.exists()


def test_the_job_runs_the_engine_against_todoist(
    api_client, user, todoist, django_capture_on_commit_callbacks
):
    """Not patched: the queued job runs inline (Q sync mode) and pushes to mocked Todoist."""
    task = Task.objects.create(user=user, title="Buy milk")

    with django_capture_on_commit_callbacks(execute=True):
        job_id = api_client.post(TRIGGER, {}, format="json").json()["job_id"]

    assert [c["type"] for c in todoist.task_commands()] == ["item_add"]
    assert todoist.task_commands()[0]["args"]["content"] == "Buy milk"
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert (mapping.sync_state, mapping.todoist_task_id) == ("synced", "td-Buy milk")
    run = api_client.get(STATUS, {"job_id": job_id}).json()
    assert (run["state"], run["created"], run["failed"]) == ("succeeded", 1, 0)
    status = api_client.get(STATUS).json()
    assert status["counts"] == {"pending": 0, "synced": 1, "error": 0}
    assert status["last_run"]["job_id"] == job_id
    assert status["running"] is False


# --- GET /v1/sync/todoist/status ---------------------------------------------------------


def test_status_of_a_user_without_anything(api_client):
    assert api_client.get(STATUS).json() == {
        "counts": {"pending": 0, "synced": 0, "error": 0},
        "errors": {"retrying": 0, "permanent": 0},
        "recent_errors": [],
        "last_run": None,
        "running": False,
        "blocked": [],
        "account_changed_at": None,
        "drift": {"detected": 0, "restored": 0, "reported": 0, "last_checked_at": None},
        "connection": "shared",
        "webhooks": {"last_at": None, "accepted": 0, "ignored": 0, "rejected": 0},
    }


def test_status_counts_and_errors_of_the_user_only(api_client, user, other_user):
    make_map(user, state=State.SYNCED)
    make_map(user, state=State.SYNCED)
    make_map(user, state=State.PENDING)
    retry_at = timezone.now() + timedelta(minutes=5)
    retrying = make_map(
        user,
        state=State.ERROR,
        title="Flaky",
        todoist_task_id="td-9",
        last_error="temporary: Todoist answered 503",
        attempts=2,
        next_retry_at=retry_at,
    )
    permanent = make_map(
        user, state=State.ERROR, permanent=True, title="Bad", last_error="validation: content"
    )
    TodoistTaskMap.objects.filter(pk=permanent.pk).update(
        updated_at=timezone.now() + timedelta(seconds=1)
    )
    make_map(other_user, state=State.ERROR, permanent=True, title="Not mine")
    make_map(other_user, state=State.PENDING)

    body = api_client.get(STATUS).json()

    assert body["counts"] == {"pending": 1, "synced": 2, "error": 2}
    assert body["errors"] == {"retrying": 1, "permanent": 1}
    assert [e["title"] for e in body["recent_errors"]] == ["Bad", "Flaky"]  # newest first
    assert body["recent_errors"][1] == {
        "local_task_id": retrying.local_task_id,
        "title": "Flaky",
        "todoist_task_id": "td-9",
        "last_error": "temporary: Todoist answered 503",
        "attempts": 2,
        "next_retry_at": retry_at.isoformat().replace("+00:00", "Z"),
        "permanent": False,
    }
    assert body["recent_errors"][0]["permanent"] is True


def test_recent_errors_are_bounded(api_client, user):
    for n in range(25):
        make_map(user, state=State.ERROR, permanent=True, title=f"t{n}")
    body = api_client.get(STATUS).json()
    assert body["counts"]["error"] == 25
    assert len(body["recent_errors"]) == 20


def test_status_shows_the_newest_run_and_whether_one_is_running(api_client, user, other_user):
    SyncRun.objects.create(job_id="old", user=user, state="succeeded", created=3)
    SyncRun.objects.create(job_id="bob-run", user=other_user, state="running")
    assert api_client.get(STATUS).json()["running"] is False
    SyncRun.objects.create(job_id="new", user=user, state="running", trigger="command")

    body = api_client.get(STATUS).json()

    assert body["running"] is True
    run = body["last_run"]
    assert run["job_id"] == "new" and run["state"] == "running"
    expected = {"started_at", "finished_at", "created", "updated", "closed", "reopened"}
    assert expected | {"unchanged", "skipped", "failed"} <= set(run)


def test_status_of_one_job(api_client, user):
    SyncRun.objects.create(job_id="abc", user=user, state="succeeded", created=2, failed=1)
    SyncRun.objects.create(job_id="other", user=user)
    body = api_client.get(STATUS, {"job_id": "abc"}).json()
    assert body["job_id"] == "abc"
    assert (body["state"], body["created"], body["failed"]) == ("succeeded", 2, 1)
    assert "counts" not in body


def test_status_of_another_users_job_is_404(api_client, other_user):
    SyncRun.objects.create(job_id="bobs", user=other_user, state="succeeded")
    assert api_client.get(STATUS, {"job_id": "bobs"}).status_code == 404
    assert api_client.get(STATUS, {"job_id": "nope"}).status_code == 404


def _bulk_maps(user, count: int, start: int = 0) -> None:
    tasks = Task.objects.bulk_create(
        Task(user=user, title=f"t{n}") for n in range(start, start + count)
    )
    states = itertools.cycle([State.SYNCED, State.SYNCED, State.PENDING, State.ERROR])
    TodoistTaskMap.objects.bulk_create(
        (
            TodoistTaskMap(
                user=user,
                local_task=task,
                request_id=f"r{task.pk}",
                sync_state=state,
                error_permanent=state == State.ERROR and task.pk % 2 == 0,
                todoist_task_id=f"td{task.pk}" if state == State.SYNCED else None,
            )
            for task, state in zip(tasks, states, strict=False)
        ),
        batch_size=2000,
    )


# Counts, recent errors, the last run, running, blocked projects, account change, and drift
# (one aggregate over the user's reconciling runs).
STATUS_QUERIES = 9


def test_status_costs_a_fixed_number_of_queries(
    api_client, user, django_assert_max_num_queries, django_assert_num_queries
):
    SyncRun.objects.create(job_id="r1", user=user, state="succeeded")
    _bulk_maps(user, 8)
    # AUTH_QUERIES of them authenticate the key; the rest answer the status, one aggregate or
    # row each: counts, recent errors, the last run, running, blocked projects, account change,
    # drift, the connection (the credential row) and the server's rejected webhooks.
    with django_assert_max_num_queries(STATUS_QUERIES + AUTH_QUERIES) as few:
        api_client.get(STATUS)
    _bulk_maps(user, 400, start=8)
    with django_assert_num_queries(len(few.captured_queries)):
        body = api_client.get(STATUS).json()
    assert sum(body["counts"].values()) == 408
    assert len(body["recent_errors"]) == 20


@pytest.mark.soak
def test_status_stays_fast_with_many_mappings(api_client, user, django_assert_max_num_queries):
    # 100,000 rows under `make soak` (SOAK_SIZE=large); a smaller table in the everyday run.
    size = 100_000 if os.environ.get("SOAK_SIZE") == "large" else 4_000
    _bulk_maps(user, size)
    started = time.monotonic()
    with django_assert_max_num_queries(STATUS_QUERIES + AUTH_QUERIES):
        body = api_client.get(STATUS).json()
    assert time.monotonic() - started < 2
    assert body["counts"] == {"pending": size // 4, "synced": size // 2, "error": size // 4}
    assert body["errors"]["retrying"] + body["errors"]["permanent"] == size // 4


# --- the schema ----------------------------------------------------------------------------


def test_schema_describes_the_sync_endpoints(api_client):
    response = api_client.get("/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths, components = schema["paths"], schema["components"]["schemas"]
    trigger = paths["/v1/sync/todoist"]["post"]
    assert trigger["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/SyncTriggerInput"
    )
    assert set(trigger["responses"]) >= {"202", "400", "409"}
    status = paths["/v1/sync/todoist/status"]["get"]
    assert [p["name"] for p in status["parameters"]] == ["job_id"]
    assert set(components["SyncStatusOutput"]["properties"]) == {
        "counts",
        "errors",
        "recent_errors",
        "last_run",
        "running",
        "blocked",
        "account_changed_at",
        "connection",
        "webhooks",
        "drift",
    }
    assert set(paths["/v1/sync/todoist/token"]) == {"get", "put", "delete"}
    assert "token" not in components["TodoistTokenOutput"]["properties"]


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert "/v1/sync/todoist/status" in (tmp_path / "schema.yml").read_text()
