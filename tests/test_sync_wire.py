"""What the engine puts on the wire, request by request (`responses` stands in for Todoist)."""

from __future__ import annotations

import datetime

import pytest
import responses
from django.conf import settings
from responses import matchers

from planner.models import Task
from tests.factories import run_sync
from todoist_sync.models import TodoistProject, TodoistTaskMap

pytestmark = pytest.mark.django_db

BASE = settings.TODOIST_API_URL  # where the `todoist` fixture serves


# --- batches (/sync) -----------------------------------------------------------------------


def test_create_sends_item_add_with_the_stored_uuid_as_temp_id(user, todoist):
    task = Task.objects.create(
        user=user, title="  Pay rent ", description="by transfer", priority=2,
        due_date=datetime.date(2026, 12, 1),
    )  # fmt: skip
    run = run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    # TODOIST_PROJECT_NAME, named for alice on the shared token (TODOIST_SHARED_PROJECT_NAME).
    project = TodoistProject.objects.get(name="Planner (alice)")
    # The account is read once first (projects, and where later reads start from)...
    [read] = todoist.reads
    assert (read["sync_token"], read["resource_types"]) == ("*", ["items", "projects", "user"])
    # ...then one request: the missing project, and the task in it by the project's temp_id.
    add_project, command = todoist.sent
    assert add_project == {
        "type": "project_add",
        "uuid": project.request_id,
        "temp_id": project.request_id,
        "args": {"name": "Planner (alice)"},
    }
    assert command == {
        "type": "item_add",
        "uuid": mapping.request_id,
        "temp_id": mapping.request_id,
        "args": {
            "content": "Pay rent",
            "description": "by transfer",
            "priority": 3,
            "due": {"date": "2026-12-01"},
            "project_id": project.request_id,
        },
    }
    assert run.requests == len(todoist.calls) == 2
    authorization = todoist.calls[0].request.headers["Authorization"]
    assert authorization == f"Bearer {settings.TODOIST_API_TOKEN}"
    assert mapping.todoist_task_id == "td-Pay rent"
    assert project.todoist_project_id == "pr-Planner (alice)"


def test_bodies_are_utf_8_json_without_ascii_escapes(user, todoist):
    Task.objects.create(user=user, title="Ёлка 漢字")
    run_sync(user)
    body = todoist.calls[-1].request.body
    assert "Ёлка 漢字".encode() in body and b"\\u" not in body
    assert todoist.calls[-1].request.headers["Content-Type"] == "application/json"


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


def test_single_create_is_a_one_command_sync_with_the_same_uuid_on_every_retry(
    user, todoist, single
):
    """API v1 ignores X-Request-Id: a create's exactly-once rests on its /sync command uuid."""
    Task.objects.create(user=user, title="First")
    run_sync(user)  # the account's first read and the project, before anything is lost
    task = Task.objects.create(user=user, title="Once")
    todoist.lose = 1
    run_sync(user)
    mapping = TodoistTaskMap.objects.get(local_task=task)
    assert mapping.sync_state == "error" and mapping.attempts == 1

    run_sync(user, retry_errors=True)
    adds = [c for c in todoist.sent if c["type"] == "item_add" and c["args"]["content"] == "Once"]
    assert [c["uuid"] for c in adds] == [mapping.request_id, mapping.request_id]
    assert all("X-Request-Id" not in call.request.headers for call in todoist.calls)
    mapping.refresh_from_db()
    assert (mapping.todoist_task_id, mapping.sync_state) == ("td-Once", "synced")


def test_single_update_clears_the_due_date_with_no_date(user, todoist, single):
    task = Task.objects.create(user=user, title="Due", due_date=datetime.date(2026, 5, 5))
    run_sync(user)
    [add] = [c for c in todoist.sent if c["type"] == "item_add"]
    assert add["args"]["due"] == {"date": "2026-05-05"}
    todoist.add(
        responses.POST,
        f"{BASE}/tasks/td-Due",
        json={"id": "td-Due"},
        match=[matchers.json_params_matcher({"due_string": "no date"})],
    )
    task.due_date = None
    task.save()
    run = run_sync(user)
    assert run.updated == 1


def test_single_close_and_reopen_call_their_endpoints(user, todoist, single):
    todoist.add(responses.POST, f"{BASE}/tasks/td-C/close", status=204)
    todoist.add(responses.POST, f"{BASE}/tasks/td-C/reopen", status=204)
    task = Task.objects.create(user=user, title="C")
    run_sync(user)
    task.status = "done"
    task.save()
    assert run_sync(user).closed == 1
    task.status = "open"
    task.save()
    assert run_sync(user).reopened == 1
    paths = [call.request.path_url for call in todoist.calls if "/sync" not in call.request.url]
    assert paths == ["/api/v1/tasks/td-C/close", "/api/v1/tasks/td-C/reopen"]


def test_single_403_with_another_tag_is_a_task_error_not_a_token_error(user, todoist, single):
    for title in ("One", "Another"):
        Task.objects.create(user=user, title=title)
    run_sync(user)
    for title in ("One", "Another"):
        todoist.add(
            responses.POST,
            f"{BASE}/tasks/td-{title}",
            status=403,
            json={
                "error": "Premium only feature",
                "error_tag": "PREMIUM_ONLY",
                "error_code": 32,
                "http_code": 403,
                "error_extra": {},
            },
        )
    Task.objects.update(priority=1)
    run = run_sync(user)
    assert run.state == "succeeded"  # the run went on: the token is fine
    assert run.failed == 2
    assert all(
        m.error_permanent and "Premium only" in m.last_error for m in TodoistTaskMap.objects.all()
    )


def test_410_retired_endpoint_stops_with_a_configuration_error(user, todoist, single):
    todoist.replace(responses.POST, f"{BASE}/sync", status=410, body="Gone")
    Task.objects.create(user=user, title="x")
    Task.objects.create(user=user, title="y")
    run = run_sync(user)
    assert run.state == "failed"
    assert "retired" in run.error_summary and "TODOIST_API_URL" in run.error_summary
    assert len(todoist.calls) == 1
