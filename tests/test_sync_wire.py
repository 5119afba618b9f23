"""What the engine puts on the wire, request by request (`responses` stands in for Todoist)."""

from __future__ import annotations

import datetime
import json

import pytest
import requests
import responses
from django.conf import settings
from factories import run_sync
from responses import matchers

from planner.models import Task
from todoist_sync.models import TodoistTaskMap

pytestmark = pytest.mark.django_db

BASE = settings.TODOIST_API_URL  # where the `todoist` fixture serves


# --- batches (/sync) -----------------------------------------------------------------------


def test_create_sends_item_add_with_the_stored_uuid_as_temp_id(user, todoist):
    task = Task.objects.create(
        user=user, title="  Pay rent ", description="by transfer", priority=2,
        due_date=datetime.date(2026, 12, 1),
    )  # fmt: skip
    run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    [command] = todoist.sent
    assert command == {
        "type": "item_add",
        "uuid": mapping.request_id,
        "temp_id": mapping.request_id,
        "args": {
            "content": "Pay rent",
            "description": "by transfer",
            "priority": 3,
            "due": {"date": "2026-12-01"},
        },
    }
    authorization = todoist.calls[0].request.headers["Authorization"]
    assert authorization == f"Bearer {settings.TODOIST_API_TOKEN}"
    assert mapping.todoist_task_id == "td-Pay rent"


def test_update_sends_only_the_changed_fields_to_the_mapped_id(user, todoist):
    task = Task.objects.create(user=user, title="A", due_date=datetime.date(2026, 1, 1))
    run_sync(user)
    todoist.sent.clear()
    task.title, task.due_date = "B", None
    task.save()
    run_sync(user)
    [command] = todoist.sent
    assert command["type"] == "item_update"
    assert command["args"] == {"id": "td-A", "content": "B", "due": None}


def test_done_sends_item_close_and_reopen_sends_item_uncomplete(user, todoist):
    task = Task.objects.create(user=user, title="A")
    run_sync(user)
    for status, kind in (("done", "item_close"), ("open", "item_uncomplete")):
        todoist.sent.clear()
        task.status = status
        task.save()
        run_sync(user)
        [command] = todoist.sent
        assert (command["type"], command["args"]) == (kind, {"id": "td-A"})


def test_unchanged_rerun_sends_no_request(user, todoist):
    Task.objects.create(user=user, title="A")
    run_sync(user)
    todoist.calls.reset()
    run = run_sync(user)
    assert len(todoist.calls) == 0 and run.requests == 0


def test_a_failing_command_fails_only_its_own_task(user, todoist):
    todoist.rejected.add("Bad")
    Task.objects.create(user=user, title="Good")
    Task.objects.create(user=user, title="Bad")
    run = run_sync(user)
    assert (run.created, run.failed) == (1, 1)
    good = TodoistTaskMap.objects.get(local_task__title="Good")
    bad = TodoistTaskMap.objects.get(local_task__title="Bad")
    assert good.sync_state == "synced" and good.todoist_task_id == "td-Good"
    assert bad.sync_state == "error" and bad.error_permanent
    assert bad.last_error.startswith("validation: content:")
    assert bad.todoist_task_id is None


# --- single-task endpoints ------------------------------------------------------------------


@pytest.fixture
def single(settings):
    settings.TODOIST_USE_BATCH = False


def test_single_create_sends_x_request_id_and_every_retry_the_same(user, todoist, single):
    task = Task.objects.create(user=user, title="Once")
    todoist.add(responses.POST, f"{BASE}/tasks", body=requests.ConnectionError("answer lost"))
    run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "error" and mapping.attempts == 1

    todoist.replace(responses.POST, f"{BASE}/tasks", json={"id": "T1", "content": "Once"})
    run_sync(user, retry_errors=True)
    ids = [call.request.headers["X-Request-Id"] for call in todoist.calls]
    assert ids == [mapping.request_id, mapping.request_id]
    mapping.refresh_from_db()
    assert (mapping.todoist_task_id, mapping.sync_state) == ("T1", "synced")


def test_single_update_clears_the_due_date_with_no_date(user, todoist, single):
    todoist.add(responses.POST, f"{BASE}/tasks", json={"id": "T1"})
    task = Task.objects.create(user=user, title="Due", due_date=datetime.date(2026, 5, 5))
    run_sync(user)
    assert json.loads(todoist.calls[0].request.body)["due_date"] == "2026-05-05"
    todoist.add(
        responses.POST,
        f"{BASE}/tasks/T1",
        json={"id": "T1"},
        match=[matchers.json_params_matcher({"due_string": "no date"})],
    )
    task.due_date = None
    task.save()
    run = run_sync(user)
    assert run.updated == 1


def test_single_close_and_reopen_call_their_endpoints(user, todoist, single):
    todoist.add(responses.POST, f"{BASE}/tasks", json={"id": "T1"})
    todoist.add(responses.POST, f"{BASE}/tasks/T1/close", status=204)
    todoist.add(responses.POST, f"{BASE}/tasks/T1/reopen", status=204)
    task = Task.objects.create(user=user, title="C")
    run_sync(user)
    task.status = "done"
    task.save()
    assert run_sync(user).closed == 1
    task.status = "open"
    task.save()
    assert run_sync(user).reopened == 1
    paths = [call.request.path_url for call in todoist.calls]
    assert paths == ["/api/v1/tasks", "/api/v1/tasks/T1/close", "/api/v1/tasks/T1/reopen"]


def test_single_403_plan_limit_is_a_task_error_not_a_token_error(user, todoist, single):
    todoist.add(
        responses.POST,
        f"{BASE}/tasks",
        status=403,
        json={
            "error": "Maximum number of items per project reached",
            "error_tag": "MAX_ITEMS_LIMIT_REACHED",
            "error_code": 48,
            "http_code": 403,
            "error_extra": {},
        },
    )
    Task.objects.create(user=user, title="One too many")
    Task.objects.create(user=user, title="Another")
    run = run_sync(user)
    assert run.state == "succeeded"  # the run went on: the token is fine
    assert run.failed == 2
    assert all(
        m.error_permanent and "Maximum number of items" in m.last_error
        for m in TodoistTaskMap.objects.all()
    )


def test_410_retired_endpoint_stops_with_a_configuration_error(user, todoist, single):
    todoist.add(responses.POST, f"{BASE}/tasks", status=410, body="Gone")
    Task.objects.create(user=user, title="x")
    Task.objects.create(user=user, title="y")
    run = run_sync(user)
    assert run.state == "failed"
    assert "retired" in run.error_summary and "TODOIST_API_URL" in run.error_summary
    assert len(todoist.calls) == 1
